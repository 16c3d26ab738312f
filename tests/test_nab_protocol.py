"""NAB's corpus procedure (bench.nab_protocol) against a row-by-row transcription of NAB's
sweeper rules, hand-computed cases, the optimiser's tie rule, and the causal percentile mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import nab_protocol as nabp
from bench.errors import BenchError


def _sig(x):
    return -1.0 if x > 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def _reference_raw(labels, scores, threshold, w):
    """NAB v1.1 sweeper, one row at a time: the raw score of the alarms ``scores >= t``."""
    n = len(labels)
    prob = min(math.floor(0.15 * n), 0.15 * 5000)
    wins, i = [], 0
    while i < n:
        if labels[i]:
            j = i
            while j + 1 < n and labels[j + 1]:
                j += 1
            wins.append((i, j))
            i = j + 1
        else:
            i += 1
    parts, fp, prev = {}, 0.0, None
    for k, (_, b) in enumerate(wins):
        if b >= prob:
            parts[k] = -w["fnWeight"]
    for i in range(n):
        k = next((k for k, (a, b) in enumerate(wins) if a <= i <= b), None)
        if k is not None:
            a, b = wins[k]
            weight = _sig(-(b - i + 1) / (b - a + 1)) * w["tpWeight"] / _sig(-1.0)
        elif prev is None:
            weight = -w["fpWeight"]
        else:
            pa, pb = prev
            weight = _sig(abs(pb - i) / max(pb - pa, 1)) * w["fpWeight"]
        if i >= prob and scores[i] >= threshold:
            if k is None:
                fp += weight
            else:
                parts[k] = max(parts[k], weight)
        if k is not None and i == wins[k][1]:
            prev = wins[k]
    return fp + sum(parts.values())


def _corpus(seed, n_files=4):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_files):
        n = int(rng.integers(60, 140))
        y = np.zeros(n, np.int8)
        for _ in range(int(rng.integers(0, 3))):
            a = int(rng.integers(0, n - 5))
            y[a:a + int(rng.integers(1, 12))] = 1
        s = np.round(rng.random(n), 1)  # ties on purpose
        out.append((y, s))
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("profile", list(nabp.PROFILES))
def test_corpus_raw_matches_the_row_by_row_rules(seed, profile):
    corpus = _corpus(seed)
    w = nabp.PROFILES[profile]
    ts = [-1.0, 0.0, 0.3, 0.35, 0.7, 1.0, np.inf]
    got = nabp.corpus_raw(corpus, ts, profile=profile)
    want = [sum(_reference_raw(y, s, t, w) for y, s in corpus) for t in ts]
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_optimise_is_the_brute_force_best_highest_threshold_first(seed):
    corpus = _corpus(seed, n_files=5)
    w = nabp.PROFILES["standard"]
    cand = sorted({float(v) for _, s in corpus for v in s} | {math.inf}, reverse=True)
    raw = [sum(_reference_raw(y, s, t, w) for y, s in corpus) for t in cand]
    best = max(raw)
    j = next(i for i, r in enumerate(raw) if r >= best - 1e-12)
    got = nabp.optimise(corpus)
    assert got.chosen_with_labels and got.raw == pytest.approx(best, abs=1e-12)
    assert got.threshold == cand[j]


def test_hand_computed_file():
    """100 rows, probation 15, one window rows 40-49 (width 10): an alarm at its first row is
    perfect (100), at its last row earns S(-0.1)/S(-1), one before it costs fpWeight."""
    y = np.zeros(100, np.int8)
    y[40:50] = 1
    assert nabp.probation_rows(100) == 15 and nabp.probation_rows(10_000) == 750
    s = np.zeros(100)
    s[40] = 1.0
    assert nabp.score([(y, s)], 0.5).score == pytest.approx(100.0)
    s = np.zeros(100)
    s[49], s[20] = 1.0, 1.0
    tp = (2 / (1 + math.exp(-0.5)) - 1) / (2 / (1 + math.exp(-5)) - 1)  # 0.2482
    e = nabp.score([(y, s)], 0.5)
    assert e.raw == pytest.approx(tp - 0.11) and (e.null, e.perfect) == (-1.0, 1.0)
    assert e.score == pytest.approx(100 * (tp - 0.11 + 1) / 2)
    assert nabp.score([(y, np.zeros(100))], 0.5).score == 0.0  # no alarm = the null detector
    # an alarm in the probation period counts for nothing
    s = np.zeros(100)
    s[5] = 1.0
    assert nabp.score([(y, s)], 0.5).raw == -1.0


def test_optimiser_keeps_no_alarm_when_every_alarm_hurts():
    y = np.zeros(200, np.int8)
    y[100:110] = 1
    s = np.zeros(200)
    s[20:30] = 1.0  # alarms only long before the window
    got = nabp.optimise([(y, s)], profile="reward_low_FP_rate")
    assert got.threshold == math.inf and got.score == 0.0


def test_board_and_profiles():
    corpus = _corpus(7)
    b = nabp.board(corpus, {"standard": 0.5})
    assert set(b) == set(nabp.PROFILES)
    assert not b["standard"].chosen_with_labels and b["standard"].threshold == 0.5
    assert b["reward_low_FN_rate"].chosen_with_labels
    # the optimiser's choice is never below any fixed threshold's score
    assert nabp.optimise(corpus).score >= b["standard"].score
    # reward_low_FN_rate's null is -2 per window: the same alarms normalise differently
    assert b["reward_low_FN_rate"].null == 2 * nabp.optimise(corpus).null
    with pytest.raises(BenchError, match="profile 'strict' unknown"):
        nabp.optimise(corpus, profile="strict")
    with pytest.raises(BenchError, match="no file"):
        nabp.optimise([])


def test_rank_among_past_is_the_causal_percentile():
    rng = np.random.default_rng(0)
    s = np.round(rng.normal(size=1300), 1)  # ties on purpose; several blocks of 512
    u = nabp.rank_among_past(s)
    want = [0.5] + [((s[:t] < s[t]).sum() + 0.5 * (s[:t] == s[t]).sum()) / t
                    for t in range(1, s.size)]
    np.testing.assert_allclose(u, want, atol=1e-12)
    np.testing.assert_array_equal(nabp.rank_among_past(np.exp(3 * s) + 7), u)  # scale-free
    t = s.copy()
    t[700:] = 1e9  # later rows never change earlier percentiles
    np.testing.assert_array_equal(nabp.rank_among_past(t)[:700], u[:700])
    np.testing.assert_array_equal(nabp.rank_among_past(np.full(9, 2.0)), np.full(9, 0.5))
    assert nabp.rank_among_past(np.arange(5.0))[1:].tolist() == [1.0] * 4


def _cell(detector):
    from types import SimpleNamespace

    return SimpleNamespace(detector=SimpleNamespace(name=detector))


def test_nab_profile_on_the_shipped_sample():
    """The registered ``nab`` protocol: probation fitted, every later row evaluated, no
    validation range (ORACLE per-series thresholds); its corpus values: an alarm at each
    window's first row (and nowhere else) is perfect; a file without scores counts as no alarm;
    bench detectors' scores become per-file causal percentiles, the scores replay's do not."""
    from bench.datasets.nab import nab

    from bench import protocols

    prof = protocols.get("nab")
    assert prof is nabp.PROFILE and prof.oracle_thresholds and "with the labels" in \
        prof.dataset_metrics_note
    ds = nab(sample=True)
    for s in ds:
        r = prof.rows(s)
        p = nabp.probation_rows(len(s))
        assert r["train"] == slice(0, p) and r["val"] is None and r["test"] == slice(p, len(s))
        assert prof.fit_mask(s).sum() == p
    # the per-series nab_score gets the evaluated rows, probation already cut: none inside them
    assert prof.params_for(s, "nab_score") == {"probation": 0.0}
    assert prof.params_for(s, "vus_pr") == {} and prof.params_for(s, "nab_score:profile=x") == {}
    perfect = {}
    for s in ds:
        x = np.zeros(len(s))
        x[np.flatnonzero(np.diff(np.r_[0, s.labels]) == 1)] = 1.0
        perfect[s.name] = x
    for det in ("scores", "iforest"):
        got = nabp.dataset_metrics(ds, perfect, _cell(det))
        for name in nabp.PROFILES:
            assert got[f"nab_score:{name}"] == pytest.approx(100.0)
    assert nabp.scale_rule("scores") == "as given" and nabp.scale_rule("iforest") == "past rank"
    first = ds.series[0]
    n_first = int((np.diff(np.r_[0, first.labels]) == 1).sum())
    n_all = sum(int((np.diff(np.r_[0, s.labels]) == 1).sum()) for s in ds)
    without = {k: v for k, v in perfect.items() if k != first.name}
    got = nabp.dataset_metrics(ds, without, _cell("scores"))
    assert got["nab_files_without_scores"] == 1.0
    assert got["nab_score:standard"] == pytest.approx(100 * (n_all - n_first) / n_all)
    # mapping: the same scores times 1000 on one file give the same board under iforest's rule
    # (per-file percentiles); as given, one threshold cannot serve both scales
    rng = np.random.default_rng(1)
    noisy = {k: v + 0.3 * rng.random(v.size) for k, v in perfect.items()}
    scaled = dict(noisy, **{first.name: noisy[first.name] * 1000.0})
    a = nabp.dataset_metrics(ds, noisy, _cell("iforest"))
    b = nabp.dataset_metrics(ds, scaled, _cell("iforest"))
    assert a["nab_score:standard"] == pytest.approx(b["nab_score:standard"])
    c = nabp.dataset_metrics(ds, scaled, _cell("scores"))
    assert c["nab_score:standard"] < a["nab_score:standard"] - 1.0
