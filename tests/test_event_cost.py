import numpy as np
import pytest

from bench.costs import EventCost


def test_hand_computed_tolerance_zero():
    labels = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    pred = np.array([1, 0, 1, 0, 0, 0, 0, 1])
    m = EventCost(c_alarm=1, c_missed=5, tolerance=0)
    assert m.counts(labels, pred) == (2, 1)  # alarms at 0 and 7; step 3 missed
    assert m(labels, pred) == 7.0


def test_hand_computed_with_tolerance():
    labels = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    pred = np.array([0, 1, 0, 0, 0, 0, 0, 1, 0, 1])
    m = EventCost(c_alarm=2, c_missed=10, tolerance=2)
    # alarm at 1 is within 2 of step 3 -> not false; alarm at 7 is 3 from step 4 -> false; 9 false
    # anomalous steps 3 and 4: alarm at 1 is within 2 of 3 (yes), of 4 (no: distance 3)
    assert m.counts(labels, pred) == (2, 1)
    assert m(labels, pred) == 2 * 2 + 10 * 1


def test_tolerance_at_series_edges():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 1])
    pred = np.array([0, 0, 1, 0, 0, 1, 0, 0])
    assert EventCost(tolerance=2).counts(labels, pred) == (0, 0)
    assert EventCost(tolerance=1).counts(labels, pred) == (2, 2)


def test_no_alarms_and_no_anomalies():
    m = EventCost(c_alarm=1, c_missed=5, tolerance=3)
    assert m(np.zeros(10), np.zeros(10)) == 0
    assert m(np.zeros(10), np.ones(10)) == 10
    assert m(np.ones(10), np.zeros(10)) == 50


@pytest.mark.parametrize("tol", [0, 1, 5, 12])
def test_sweep_equals_thresholding_each_grid_point(tol):
    rng = np.random.default_rng(tol)
    labels = np.zeros(500, dtype=int)
    for start in rng.integers(0, 480, 6):
        labels[start:start + rng.integers(1, 15)] = 1
    scores = rng.normal(size=500) + 2 * labels
    grid = np.r_[np.quantile(scores, np.linspace(0, 1, 40)), scores[:10]]
    m = EventCost(c_alarm=1.5, c_missed=4, tolerance=tol)
    direct = [m(labels, (scores >= t).astype(int)) for t in grid]
    assert np.allclose(m.sweep(labels, scores, grid), direct)


def test_negative_tolerance_rejected():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="tolerance must be >= 0"):
        EventCost(tolerance=-1)
