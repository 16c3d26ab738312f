"""NAB's published scoreboard row of its ``numenta`` detector, reproduced with bench's scorer.

Extended test: reads ``../shared/data/nab`` (the 58 NAB series, NAB's per-row scores of the
numenta detector in ``results/numenta_anomaly_scores.json.gz``, its thresholds in
``config/thresholds.json`` and the published ``results/final_results.json``) and skips when that
folder is absent.  NAB's runner applies one threshold per profile to every file, sums the raw
scores over the 58 files and normalises the total: ``100 * (total - null) / (perfect - null)``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from bench.datasets.nab import nab

from bench import nab_protocol as nabp
from bench.costs import NabCost
from bench.metrics import is_oracle, nab_score
from bench.metrics.nab import PROFILES, NabCurve, corpus_score

SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "nab"
RESULTS = SHARED / "results"
pytestmark = pytest.mark.skipif(
    not (RESULTS / "numenta_anomaly_scores.json.gz").is_file(),
    reason="../shared/data/nab/results (NAB's numenta scores) not present")
#: NAB's scoreboard (README, rounded); the unrounded figures are in final_results.json
PUBLISHED = {"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32}


@pytest.fixture(scope="module")
def corpus():
    scores = json.loads(gzip.open(RESULTS / "numenta_anomaly_scores.json.gz").read())
    out = []
    for s in nab(path=str(SHARED)):
        x = np.asarray(scores[s.name + ".csv"], dtype=np.float64)
        assert x.shape == (len(s),), s.name
        out.append((s.labels, x))
    assert len(out) == 58
    return out


@pytest.fixture(scope="module")
def thresholds():
    return {p: v["threshold"] for p, v in
            json.loads((SHARED / "config" / "thresholds.json").read_text())["numenta"].items()}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_numenta_row_reproduced(corpus, thresholds, profile):
    final = json.loads((RESULTS / "final_results.json").read_text())["numenta"][profile]
    got = corpus_score(corpus, thresholds[profile], profile=profile)
    assert got == pytest.approx(final, abs=1e-6)
    assert round(got, 2) == PUBLISHED[profile]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_nab_cost_model_gives_the_same_row(corpus, thresholds, profile):
    """The ``nab`` cost model (points lost against perfect, summed over series) normalised over
    the corpus gives the same figure: what a run with ``--cost nab:profile=...`` records."""
    model = NabCost(profile=profile)
    t = thresholds[profile]
    lost = sum(model(y, (x >= t).astype(np.int8)) for y, x in corpus)
    curves = [NabCurve(y, x, profile=profile) for y, x in corpus]
    perfect = sum(c.perfect for c in curves)
    null = sum(c.null for c in curves)
    assert sum(c.n_windows for c in curves) == 116
    final = json.loads((RESULTS / "final_results.json").read_text())["numenta"][profile]
    assert 100 * (perfect - lost - null) / (perfect - null) == pytest.approx(final, abs=1e-6)


def test_per_series_best_threshold_is_an_oracle_upper_bound(corpus, thresholds):
    """``nab_score`` without a threshold picks each series' best one on its own labels: ORACLE,
    and above what the corpus threshold gives on every series."""
    assert is_oracle(nab_score) and not is_oracle(nab_score, {"threshold": 0.5})
    t = thresholds["standard"]
    checked = 0
    for y, x in corpus:
        if y.any():
            assert nab_score(y, x) >= nab_score(y, x, threshold=t) - 1e-9
            checked += 1
    assert checked >= 50  # a few NAB files have no window


@pytest.mark.parametrize("profile", list(PROFILES))
def test_nab_protocol_board_reproduces_the_numenta_row(corpus, thresholds, profile):
    """bench.nab_protocol at config/thresholds.json: NAB's published figures (README: 70.10,
    63.12, 74.32), within 0.5 and to 1e-6 of final_results.json."""
    final = json.loads((RESULTS / "final_results.json").read_text())["numenta"][profile]
    got = nabp.board(corpus, thresholds, profiles=[profile])[profile]
    assert not got.chosen_with_labels and got.threshold == thresholds[profile]
    assert (got.n_files, got.n_windows) == (58, 116)
    assert got.score == pytest.approx(PUBLISHED[profile], abs=0.5)
    assert got.score == pytest.approx(final, abs=1e-6)


def test_nab_optimiser_finds_the_published_row_or_better(corpus):
    """NAB's optimiser (chosen with the labels) on the same scores: never below the published
    threshold's score (it sweeps every threshold), and within 0.5 of the published row:
    standard and reward_low_FN_rate exactly, reward_low_FP_rate 63.21 (the stored threshold
    0.575 is not the sweep's best on these scores: 0.543 is)."""
    for profile, published in PUBLISHED.items():
        got = nabp.optimise(corpus, profile=profile)
        assert got.chosen_with_labels
        assert got.score >= published - 0.005
        assert got.score == pytest.approx(published, abs=0.5)
        assert 0.5 < got.threshold < 0.6


@pytest.mark.slow
def test_bench_run_scores_under_the_nab_protocol_reproduces_the_board(capsys, tmp_path):
    """Done-when of issue 19: ``bench run -d nab:path=.. -m scores:path=../shared/data/nab/results
    --protocol nab`` replays NAB's numenta scores and records NAB's board (one threshold per
    profile by NAB's optimiser, chosen with the labels): 70.1 / 63.1 / 74.3 within 0.5."""
    from cli_helpers import run_cli

    from bench import records

    code, out, err = run_cli(capsys, "run", "-d", f"nab:path={SHARED}", "-m",
                             f"scores:path={RESULTS}", "--protocol", "nab", "--out",
                             str(tmp_path))
    assert code == 0, err
    (path,) = tmp_path.glob("*.json")
    cell = records.load(path).cells[0]
    ev = cell.evaluations[0]
    board = ev["dataset_metrics"]
    assert "chosen with the labels" in ev["dataset_metrics_note"]
    assert board["nab_files_without_scores"] == 0
    for profile, published in PUBLISHED.items():
        assert board[f"nab_score:{profile}"] == pytest.approx(published, abs=0.5)
    assert board["nab_score:standard"] == pytest.approx(70.10, abs=0.01)
    assert len(ev["per_series"]) == 58
    # the table a user reads: NAB's board, titled with its rule, numenta's row first
    after = out[out.index("NAB's board (NAB's own rule: one threshold per profile chosen with "
                          "the labels"):].splitlines()[2:]  # title, blank line, then the table
    rows = [r for r in after[:next(i for i, r in enumerate(after) if not r.startswith("|"))]
            if r.startswith("| ")][1:]
    assert rows[0].startswith("| scores(") and "| 70.101 " in rows[0]
    assert any("random ~chance" in r for r in rows) and any("constant ~chance" in r for r in rows)
