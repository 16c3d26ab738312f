"""Hand-computed cases, properties and edge cases of every metric in bench.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

import bench
from bench.metrics import (
    BUILTIN,
    affiliation_f1,
    affiliation_precision,
    affiliation_recall,
    detection_delay,
    event_f1,
    event_precision,
    event_recall,
    f1,
    nab_score,
    point_adjusted_f1,
    pr_auc,
    range_f1,
    range_precision,
    range_recall,
    roc_auc,
    runs,
    vus_pr,
    vus_roc,
)
from bench.metrics.nab import NabCurve
from bench.metrics.vus import vus

A = np.array


def arr(*bits):
    return np.array(bits, dtype=np.int8)


# ----------------------------------------------------------------------------- registry


def test_every_builtin_declares_direction_input_and_a_docstring():
    for fn in BUILTIN:
        assert isinstance(fn.higher_is_better, bool), fn.__name__
        assert fn.input in ("pred", "scores"), fn.__name__
        assert fn.__doc__ and len(fn.__doc__) > 80, fn.__name__
        assert ("better" in fn.__doc__.lower()) or ("inflating" in fn.__doc__.lower())


def test_default_set_is_the_cheap_one_and_the_inflating_ones_are_marked():
    assert {f.__name__ for f in BUILTIN if f.default} == {
        "roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy"}
    # trivial detectors score above their family's chance level on these (tests/test_chance.py)
    assert {f.__name__ for f in BUILTIN if f.inflating} == {
        "point_adjusted_f1", "vus_roc", "affiliation_precision", "affiliation_f1"}
    assert detection_delay.higher_is_better is False


def test_registered_through_the_plugin_manager():
    from bench.plugins import Manager

    names = Manager(entry_points=False).registry("metric").names()
    for fn in BUILTIN:
        assert fn.__name__ in names


def test_runner_style_call_works_for_every_metric():
    rng = np.random.default_rng(0)
    y = np.zeros(500, dtype=np.int8)
    y[100:120] = 1
    y[400:403] = 1
    s = rng.random(500) + y
    p = (s > 1.0).astype(np.int8)
    for fn in BUILTIN:
        v = float(fn(y, s if fn.input == "scores" else p))
        assert math.isfinite(v), fn.__name__


# ----------------------------------------------------------------------------- runs helper


def test_runs_include_both_ends():
    s, e = runs(arr(1, 1, 0, 0, 1, 0, 1))
    assert s.tolist() == [0, 4, 6] and e.tolist() == [1, 4, 6]
    s, e = runs(arr(0, 0))
    assert s.size == 0 and e.size == 0


# ----------------------------------------------------------------------------- hand-computed


def test_point_adjusted_f1_hand_case():
    y = arr(0, 1, 1, 1, 0, 0, 1, 1, 0, 0)
    p = arr(0, 0, 1, 0, 0, 0, 0, 0, 0, 1)
    # adjusted: range 1..3 fully detected (3 TP), range 6..7 missed (2 FN), 1 FP
    assert point_adjusted_f1(y, p) == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    assert f1(y, p) == pytest.approx(2 * 1 / (2 * 1 + 1 + 4))
    assert point_adjusted_f1.inflating is True


def test_range_metrics_hand_case_flat_and_biases():
    y = arr(0, 1, 1, 1, 1, 0, 0, 0, 0, 0)   # R = [1, 4], length 4
    p = arr(0, 0, 0, 1, 1, 1, 0, 0, 0, 0)   # P = [3, 5], overlap [3, 4]
    assert range_recall(y, p) == pytest.approx(2 / 4)
    assert range_precision(y, p) == pytest.approx(2 / 3)
    assert range_f1(y, p) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    # back bias over R: weights 1,2,3,4; overlap = positions 3,4 -> 7 / 10
    assert range_recall(y, p, bias="back") == pytest.approx(7 / 10)
    # front bias: weights 4,3,2,1 -> 3 / 10
    assert range_recall(y, p, bias="front") == pytest.approx(3 / 10)
    # middle bias: weights 1,2,2,1 -> 3 / 6
    assert range_recall(y, p, bias="middle") == pytest.approx(3 / 6)
    # existence only
    assert range_recall(y, p, alpha=1.0) == 1.0


def test_range_recall_reciprocal_cardinality():
    y = arr(1, 1, 1, 1, 1, 1, 0)
    p = arr(1, 0, 1, 0, 0, 0, 0)      # two alarm ranges inside one real range
    assert range_recall(y, p, cardinality="one") == pytest.approx(2 / 6)
    assert range_recall(y, p, cardinality="reciprocal") == pytest.approx(0.5 * 2 / 6)


def test_event_metrics_hand_case_with_tolerance():
    y = arr(1, 1, 0, 0, 0, 0, 0, 0, 1, 1)  # ranges at both ends
    p = arr(0, 0, 1, 0, 0, 0, 1, 0, 0, 0)
    assert event_recall(y, p) == 0.0
    assert event_precision(y, p) == 0.0
    assert event_recall(y, p, tolerance=1) == pytest.approx(0.5)  # alarm at 2 is 1 from [0,1]
    assert event_precision(y, p, tolerance=1) == pytest.approx(0.5)
    assert event_recall(y, p, tolerance=2) == 1.0  # alarm at 6 is 2 from [8, 9]
    # composite F1: point-wise precision (no alarm on an anomalous step: 0) x event recall
    assert event_f1(y, p, tolerance=2) == 0.0
    p2 = arr(0, 1, 1, 0, 0, 0, 0, 0, 1, 0)  # precision 2/3, both ranges detected
    assert event_f1(y, p2) == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_detection_delay_hand_case():
    y = arr(0, 1, 1, 1, 0, 1, 1, 0, 1, 1)
    p = arr(0, 0, 0, 1, 0, 1, 0, 0, 0, 0)
    assert detection_delay(y, p) == pytest.approx((2 + 0) / 2)  # third range not detected
    assert math.isnan(detection_delay(y, np.zeros_like(y)))


def test_affiliation_hand_case():
    # one event [2, 4) in [0, 10): an alarm on the event gives precision 1; recall of an
    # alarm covering the event is 1
    y = arr(0, 0, 1, 1, 0, 0, 0, 0, 0, 0)
    assert affiliation_precision(y, y) == 1.0
    assert affiliation_recall(y, y) == 1.0
    # alarm step [9, 10): distance 6..7 from J=[2,4); survival of d: |{x: d(x,J) >= d}| / 10
    # = (max(0, 2 - d) + (6 - d)) / 10 for d in [5, 6] -> integral over [5,6] of (6-d)/10 = 0.05
    p = arr(0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    assert affiliation_precision(y, p) == pytest.approx(0.05)
    assert 0.0 < affiliation_recall(y, p) < 0.5
    assert affiliation_f1(y, p) == pytest.approx(
        2 * 0.05 * affiliation_recall(y, p) / (0.05 + affiliation_recall(y, p)))


def test_nab_weights_match_the_documented_sigmoid_values():
    # NAB docs: S(-1) = 0.98661, S(-0.5) = 0.84828, S(0) = 0, S(1) = -0.98661
    y = np.zeros(100, dtype=np.int8)
    y[40:50] = 1
    c = NabCurve(y, np.zeros(100), probation=0.0)
    assert c.weight[40] == pytest.approx(1.0)           # first step of the window: tpWeight
    # step 44: position -(49 - 44 + 1)/10 = -0.6
    assert c.weight[44] == pytest.approx((2 / (1 + math.exp(-3.0)) - 1) / 0.98661, rel=1e-4)
    assert c.weight[10] == pytest.approx(-0.11)         # before any window: -fpWeight
    # 9 steps after a window of width 10: position 9 / 9 = 1 -> 0.11 * -0.98661
    assert c.weight[58] == pytest.approx(-0.11 * 0.98661, rel=1e-4)
    assert c.weight[90] == pytest.approx(-0.11)         # >= 3 widths after: -fpWeight


def test_nab_score_hand_case_and_profiles():
    y = np.zeros(1000, dtype=np.int8)
    y[500:600] = 1
    s = np.zeros(1000)
    s[500] = 1.0                     # perfect: first step of the window
    assert nab_score(y, s, threshold=0.5) == pytest.approx(100.0)
    assert nab_score(y, np.zeros(1000), threshold=0.5) == pytest.approx(0.0)
    s[200] = 1.0                     # plus one false positive before the window
    assert nab_score(y, s, threshold=0.5) == pytest.approx(100 * (1 - 0.11 + 1) / 2)
    assert nab_score(y, s, threshold=0.5, profile="reward_low_FP_rate") == pytest.approx(
        100 * (1 - 0.22 + 1) / 2)
    # low-FN profile: null = -2, perfect = 1
    assert nab_score(y, s, threshold=0.5, profile="reward_low_FN_rate") == pytest.approx(
        100 * (1 - 0.11 + 2) / 3)
    # the sweep finds the threshold that drops the false positive (none here: same score), so
    # the best is the same; with a lower score on the FP it finds 100
    s[200] = 0.7
    s[500] = 0.9
    assert nab_score(y, s) == pytest.approx(100.0)


def test_nab_probation_excludes_early_steps():
    y = np.zeros(1000, dtype=np.int8)
    y[500:600] = 1
    s = np.zeros(1000)
    s[100] = 1.0                      # inside the probation period (first 150 steps)
    s[500] = 1.0
    assert nab_score(y, s, threshold=0.5) == pytest.approx(100.0)
    assert nab_score(y, s, threshold=0.5, probation=0.0) < 100.0


def test_vus_hand_case_window_zero_is_range_auc_of_exact_labels():
    # with window 0 and a perfect detector the surface is the perfect ROC: area 1
    y = np.zeros(300, dtype=np.int8)
    y[100:110] = 1
    s = y.astype(float)
    assert vus_roc(y, s, window=0) == pytest.approx(1.0)
    assert vus_pr(y, s, window=0) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- properties

labels_st = st.lists(st.integers(0, 1), min_size=2, max_size=120).map(
    lambda v: np.array(v, dtype=np.int8))


@st.composite
def labels_and_pred(draw):
    y = draw(labels_st)
    p = np.array(draw(st.lists(st.integers(0, 1), min_size=y.size, max_size=y.size)),
                 dtype=np.int8)
    return y, p


@st.composite
def labels_and_scores(draw):
    y = draw(labels_st)
    s = np.array(draw(st.lists(st.integers(0, 20), min_size=y.size, max_size=y.size)),
                 dtype=np.float64) / 4.0  # many ties on purpose
    return y, s


PRED_METRICS = [point_adjusted_f1, range_precision, range_recall, range_f1,
                affiliation_precision, affiliation_recall, affiliation_f1,
                event_precision, event_recall, event_f1]


@settings(max_examples=60, deadline=None)
@given(labels_and_pred())
def test_pred_metrics_in_unit_interval(yp):
    y, p = yp
    for fn in PRED_METRICS:
        v = fn(y, p)
        if y.any():
            assert 0.0 <= v <= 1.0 + 1e-12, fn.__name__
        else:
            assert math.isnan(v) or v == 0.0, fn.__name__


@settings(max_examples=60, deadline=None)
@given(labels_and_pred())
def test_perfect_alarms_score_one(yp):
    y, _ = yp
    if not y.any():
        return
    for fn in (point_adjusted_f1, range_precision, range_recall, range_f1,
               affiliation_precision, affiliation_recall, event_f1):
        assert fn(y, y) == pytest.approx(1.0), fn.__name__
    assert detection_delay(y, y) == 0.0


@settings(max_examples=60, deadline=None)
@given(labels_and_pred())
def test_point_adjust_never_lowers_f1(yp):
    y, p = yp
    assert point_adjusted_f1(y, p) >= f1(y, p) - 1e-12


@settings(max_examples=60, deadline=None)
@given(labels_and_pred(), st.integers(0, 5))
def test_event_recall_grows_with_tolerance_and_matches_brute_force(yp, k):
    y, p = yp
    s, e = runs(y)
    alarms = np.flatnonzero(p)
    brute = [any(a - k <= t <= b + k for t in alarms) for a, b in zip(s, e, strict=True)]
    got = event_recall(y, p, tolerance=k)
    if s.size:
        assert got == pytest.approx(np.mean(brute))
        assert event_recall(y, p, tolerance=k + 1) >= got


@settings(max_examples=60, deadline=None)
@given(labels_and_pred())
def test_range_recall_matches_a_direct_loop(yp):
    y, p = yp
    rs, re_ = runs(y)
    ps, pe = runs(p)
    if not rs.size:
        return
    for bias in ("flat", "front", "back", "middle"):
        def delta(i, n, bias=bias):
            return {"flat": 1.0, "front": n - i + 1.0, "back": float(i),
                    "middle": float(i) if i <= n / 2 else n - i + 1.0}[bias]
        total = 0.0
        for a, b in zip(rs, re_, strict=True):
            n = b - a + 1
            wsum = sum(delta(i, n) for i in range(1, n + 1))
            om, cnt = 0.0, 0
            for c, d in zip(ps, pe, strict=True):
                if d < a or c > b:
                    continue
                cnt += 1
                lo, hi = max(a, c), min(b, d)
                om += sum(delta(i, n) for i in range(1, n + 1) if lo <= a + i - 1 <= hi) / wsum
            total += (1.0 / cnt if cnt > 1 else 1.0) * om
        assert range_recall(y, p, bias=bias, cardinality="reciprocal") == pytest.approx(
            total / rs.size)


@settings(max_examples=40, deadline=None)
@given(labels_and_scores())
def test_ranking_metrics_match_sklearn_and_vus_in_unit_interval(ys):
    y, s = ys
    if y.any() and not y.all():
        assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
        assert pr_auc(y, s) == pytest.approx(average_precision_score(y, s))
        r, p = vus(y, s, window=int(y.size % 7))
        assert 0.0 <= r <= 1.0 and 0.0 <= p <= 1.0


@settings(max_examples=40, deadline=None)
@given(labels_and_scores(), st.sampled_from(list(("standard", "reward_low_FP_rate",
                                                  "reward_low_FN_rate"))))
def test_nab_sweep_equals_the_best_fixed_threshold(ys, profile):
    y, s = ys
    if not y.any():
        return
    c = NabCurve(y, s, profile=profile, probation=0.0)
    # brute force: the raw score of each threshold, computed step by step
    def raw_at(t):
        st_, en = runs(y)
        total = 0.0
        for a, b in zip(st_, en, strict=True):
            hit = [i for i in range(a, b + 1) if s[i] >= t]
            total += c.weight[hit[0]] if hit else c.null / len(st_)  # -fnWeight
        outside = [i for i in range(y.size) if not y[i] and s[i] >= t]
        return total + sum(c.weight[i] for i in outside)
    for t in np.unique(s):
        assert c.raw(np.array([t]))[0] == pytest.approx(raw_at(t), abs=1e-9)
    best = max(raw_at(t) for t in list(np.unique(s)) + [np.inf])
    assert nab_score(y, s, profile=profile, probation=0.0) == pytest.approx(
        100 * (best - c.null) / (c.perfect - c.null))


# ----------------------------------------------------------------------------- edge cases

ALL_SCORE = [roc_auc, pr_auc, vus_roc, vus_pr, nab_score]


def test_no_anomaly_in_labels():
    y = np.zeros(50, dtype=np.int8)
    p = arr(*([0] * 10 + [1] * 5 + [0] * 35))
    s = np.linspace(0, 1, 50)
    for fn in (roc_auc, pr_auc, vus_roc, vus_pr, nab_score, range_recall, range_f1,
               affiliation_precision, affiliation_recall, affiliation_f1, event_recall,
               event_f1, detection_delay):
        x = s if fn.input == "scores" else p
        assert math.isnan(fn(y, x)), fn.__name__
    assert range_precision(y, p) == 0.0
    assert event_precision(y, p) == 0.0
    assert point_adjusted_f1(y, p) == 0.0


def test_all_points_anomalous():
    y = np.ones(40, dtype=np.int8)
    s = np.linspace(0, 1, 40)
    assert math.isnan(roc_auc(y, s))
    assert math.isnan(vus_roc(y, s, window=4))   # no normal step: FPR undefined
    assert vus_pr(y, s, window=4) == pytest.approx(vus(y, s, window=4)[1])
    assert 0 < vus_pr(y, s, window=4) <= 1
    p = (s > 0.5).astype(np.int8)
    assert range_precision(y, p) == 1.0
    assert affiliation_precision(y, p) == 1.0
    assert event_recall(y, p) == 1.0
    assert detection_delay(y, p) == float(np.argmax(p))


def test_empty_predictions():
    y = arr(0, 1, 1, 0, 0, 1, 0, 0)
    p = np.zeros(8, dtype=np.int8)
    for fn in PRED_METRICS:
        assert fn(y, p) == 0.0, fn.__name__
    assert math.isnan(detection_delay(y, p))


def test_all_positive_predictions():
    y = arr(0, 1, 1, 0, 0, 1, 0, 0)
    p = np.ones(8, dtype=np.int8)
    assert range_recall(y, p) == 1.0
    assert range_precision(y, p) == pytest.approx(3 / 8)
    assert event_recall(y, p) == 1.0 and event_precision(y, p) == 1.0
    assert event_f1(y, p) == pytest.approx(2 * 3 / 8 / (1 + 3 / 8))  # not 1: precision 3/8
    assert point_adjusted_f1(y, p) == pytest.approx(2 * 3 / (2 * 3 + 5))
    assert affiliation_recall(y, p) == 1.0
    assert detection_delay(y, p) == 0.0


def test_constant_scores():
    y = arr(0, 0, 1, 1, 0, 0, 0, 0, 0, 0)
    s = np.full(10, 0.3)
    assert roc_auc(y, s) == 0.5
    assert pr_auc(y, s) == pytest.approx(0.2)
    r, p = vus(y, s, window=2)
    assert 0 <= r <= 1 and 0 <= p <= 1
    assert math.isfinite(nab_score(y, s))


def test_ties_at_the_threshold_count_as_alarms():
    y = np.zeros(200, dtype=np.int8)
    y[100:110] = 1
    s = np.zeros(200)
    s[100] = 0.5
    s[20] = 0.5                       # tie with the window's alarm
    c = NabCurve(y, s, probation=0.0)
    # alarms are scores >= 0.5: both the TP and the FP count
    assert c.raw(np.array([0.5]))[0] == pytest.approx(1.0 - 0.11)
    assert c.raw(np.array([0.50001]))[0] == pytest.approx(-1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_scores_raise(bad):
    y = arr(0, 1, 1, 0, 0)
    s = np.array([0.1, 0.2, bad, 0.3, 0.4])
    for fn in ALL_SCORE:
        with pytest.raises(bench.BenchError, match="NaN or infinite"):
            fn(y, s)


def test_ranges_at_first_and_last_index():
    y = arr(1, 1, 0, 0, 0, 0, 0, 0, 1, 1)
    p = arr(1, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    assert range_recall(y, p) == pytest.approx(0.5)
    assert event_recall(y, p) == 1.0
    assert detection_delay(y, p) == pytest.approx(0.5)
    assert affiliation_recall(y, p) > 0.5
    s = p.astype(float)
    r, pr = vus(y, s, window=6)
    assert 0 < r <= 1 and 0 < pr <= 1


def test_series_shorter_than_the_window():
    y = arr(0, 0, 1, 1, 0, 0)
    s = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.1])
    r, p = vus(y, s, window=100)
    assert 0 < r <= 1 and 0 < p <= 1
    assert vus_roc(y, s, window=100) == r


def test_shape_and_parameter_errors_are_one_line_bench_errors():
    with pytest.raises(bench.BenchError, match="shape"):
        range_f1(arr(0, 1), arr(0, 1, 1))
    with pytest.raises(bench.BenchError, match="bias"):
        range_recall(arr(0, 1), arr(0, 1), bias="sideways")
    with pytest.raises(bench.BenchError, match="window"):
        vus_roc(arr(0, 1), A([0.1, 0.2]), window=-1)
    with pytest.raises(bench.BenchError, match="tolerance"):
        event_recall(arr(0, 1), arr(0, 1), tolerance=1.5)
    with pytest.raises(bench.BenchError, match="profile"):
        nab_score(arr(0, 1), A([0.1, 0.2]), profile="lenient")
