"""The ``scores`` detector: replays stored per-row scores (NAB results layout, SERIES.csv with a
``score`` column, a JSON of lists), never reads labels, and fails in one line naming the file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from bench.datasets.nab import nab
from bench.detectors.scores import ScoresReplay

import bench
from bench.cell import Cell, Protocol
from bench.fitting import fit_and_score, takes_series
from bench.params import Spec
from bench.plugins import get_manager

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"


def _replay(path, series, n, **kw):
    d = ScoresReplay(path=str(path), **kw).fit(np.zeros((3, 1)), series=series)
    return d.score(np.zeros((n, 1)))


def test_plain_csv_layout_and_basename_fallback(tmp_path):
    (tmp_path / "g").mkdir()
    x = np.linspace(0, 1, 7)
    (tmp_path / "g" / "a.csv").write_text("score\n" + "\n".join(map(str, x)) + "\n")
    np.testing.assert_allclose(_replay(tmp_path, "g/a", 7), x)
    (tmp_path / "b.csv").write_text("timestamp,score\n1,0.5\n2,0.25\n")
    np.testing.assert_allclose(_replay(tmp_path, "other/b", 2), [0.5, 0.25])


def test_nab_results_layout_never_parses_the_label_column(tmp_path):
    """NAB's result files carry a ``label`` column: it is not read (garbage there changes
    nothing), only ``anomaly_score`` is."""
    (tmp_path / "numenta" / "realTraffic").mkdir(parents=True)
    f = tmp_path / "numenta" / "realTraffic" / "numenta_speed_7578.csv"
    f.write_text("timestamp,value,anomaly_score,label\n"
                 "2015-09-08 11:39:00,73,0.1,NOT-A-LABEL\n2015-09-08 11:44:00,75,0.9,??\n")
    np.testing.assert_allclose(_replay(tmp_path / "numenta", "realTraffic/speed_7578", 2),
                               [0.1, 0.9])
    np.testing.assert_allclose(
        _replay(tmp_path, "realTraffic/speed_7578", 2, detector="numenta"), [0.1, 0.9])
    # two detectors' folders under one root: ambiguous, and the message says how to choose
    (tmp_path / "null" / "realTraffic").mkdir(parents=True)
    (tmp_path / "null" / "realTraffic" / "null_speed_7578.csv").write_text("anomaly_score\n0\n0\n")
    with pytest.raises(bench.BenchError, match=r"2 files could be .*detector="):
        _replay(tmp_path, "realTraffic/speed_7578", 2)


def test_json_layout_file_or_folder(tmp_path):
    data = {"g/a.csv": [0.0, 0.5, 1.0], "b": [2.0]}
    js = tmp_path / "det_anomaly_scores.json.gz"
    js.write_bytes(gzip.compress(json.dumps(data).encode()))
    np.testing.assert_allclose(_replay(tmp_path, "g/a", 3), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(_replay(js, "b", 1), [2.0])
    with pytest.raises(bench.BenchError, match=r"has no entry 'g/zz.csv'"):
        _replay(tmp_path, "g/zz", 3)


def test_errors_name_the_file_and_the_fix(tmp_path):
    (tmp_path / "a.csv").write_text("score\n0.1\n0.2\n")
    with pytest.raises(bench.BenchError, match=r"a.csv holds 2 scores but series 'a' has 5 "
                                               r"rows; .*one score per row"):
        _replay(tmp_path, "a", 5)
    with pytest.raises(bench.BenchError, match=r"no scores for series 'g/none' .*g/none.csv"):
        _replay(tmp_path, "g/none", 2)
    (tmp_path / "c.csv").write_text("value\n1\n")
    with pytest.raises(bench.BenchError, match=r"c.csv has no 'score' column"):
        _replay(tmp_path, "c", 1)
    (tmp_path / "d.csv").write_text("score\n1\nnan\n")
    with pytest.raises(bench.BenchError, match=r"d.csv line 3: score 'nan'|d.csv line 3"):
        _replay(tmp_path, "d", 2)
    with pytest.raises(bench.BenchError, match="not found"):
        ScoresReplay(path=str(tmp_path / "absent"))
    with pytest.raises(bench.BenchError, match="path=DIR"):
        ScoresReplay(path="")
    # while a run is planned, before any cell: no path, or one that does not exist
    from bench import api

    with pytest.raises(bench.BenchError, match=r"needs parameter\(s\) path; write scores:path="):
        api.plan(["synthetic:n_series=1"], ["scores"])
    with pytest.raises(bench.BenchError, match="'path' = .*absent.* an existing file or folder"):
        api.plan(["synthetic:n_series=1"], [f"scores:path={tmp_path / 'absent'}"])
    with pytest.raises(bench.BenchError, match="needs the series name"):
        ScoresReplay(path=str(tmp_path)).fit(np.zeros((2, 1)))


def test_harness_passes_the_series_name_and_returns_the_file(tmp_path):
    """Through bench's fitting step on a real NAB series: the replayed scores are the file's,
    whatever the values; other detectors are not given a series name."""
    s = nab(sample=True, series="realTraffic/speed_7578").series[0]
    x = np.random.default_rng(0).random(len(s))
    (tmp_path / "realTraffic").mkdir()
    (tmp_path / "realTraffic" / "speed_7578.csv").write_text(
        "score\n" + "\n".join(f"{v:.17g}" for v in x) + "\n")
    cell = Cell(0, Spec("nab"), Spec("scores", {"path": str(tmp_path)}),
                protocol=Protocol("unsupervised"))
    res, _ = fit_and_score(ScoresReplay, {"path": str(tmp_path)}, s, cell, "scores")
    np.testing.assert_array_equal(res.scores, x)
    assert takes_series(ScoresReplay)
    entry = get_manager().get("detector", "iforest")
    assert not takes_series(entry.factory)
    assert get_manager().get("detector", "scores").meta.get("default_run") is False


@pytest.mark.skipif(not (SHARED / "results" / "numenta_anomaly_scores.json.gz").is_file(),
                    reason="../shared/data/nab/results (NAB's numenta scores) not present")
@pytest.mark.slow
def test_numenta_scores_fit_every_nab_file():
    """path = NAB's results folder: its numenta JSON is found and matches each of the 58 files'
    row counts (final_results.json beside it is not taken for scores)."""
    ds = nab(path=str(SHARED))
    det = ScoresReplay(path=str(SHARED / "results"))
    rows = 0
    for s in ds:
        rows += det.fit(s.values, series=s.name).score(s.values).size
    assert len(ds) == 58 and rows == 365_558


@pytest.mark.slow
def test_replaced_files_are_not_served_from_the_score_store(capsys, tmp_path):
    """The store keys a cell's scores by its fit key; for the replay that key covers its files,
    so a second run after the files changed reads them again."""
    from cli_helpers import run_cli

    from bench import records

    s = nab(sample=True, series="realTraffic/speed_7578").series[0]
    d = tmp_path / "scores" / "realTraffic"
    d.mkdir(parents=True)

    def write(x):
        (d / "speed_7578.csv").write_text("score\n" + "\n".join(f"{v:.17g}" for v in x) + "\n")

    def run():
        code, _, err = run_cli(capsys, "run", "-d", "nab:sample=true,series=realTraffic/speed_7578",
                               "-m", f"scores:path={tmp_path / 'scores'}", "--out",
                               str(tmp_path / "out"), "-q")
        assert code == 0, err
        return max((tmp_path / "out").glob("*.json"), key=lambda p: p.stat().st_mtime)

    write(np.zeros(len(s)))
    first = records.load(run()).cells[0]
    write(s.labels.astype(float))  # now a perfect detector
    second = records.load(run()).cells[0]
    assert first.fit_key != second.fit_key and not second.reused
    assert second.evaluations[0]["metrics"]["vus_pr"] > first.evaluations[0]["metrics"]["vus_pr"]
