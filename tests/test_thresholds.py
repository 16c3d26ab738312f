import numpy as np
import pytest

from bench.costs import EventCost
from bench.errors import BenchError
from bench.thresholds import (
    NO_ANOMALY_FALLBACK,
    BestF1,
    MeanStd,
    MinCost,
    Oracle,
    Percentile,
    ThresholdContext,
    candidates,
    f1_sweep,
    parse_grid,
)


def ctx(**kw):
    base = dict(train_scores=np.array([1.0, 2.0, 3.0, 4.0]),
                val_scores=np.array([0.1, 0.2, 0.9, 0.8, 0.35]),
                val_labels=np.array([0, 0, 1, 1, 0]), cost=EventCost(tolerance=0))
    base.update(kw)
    return ThresholdContext(**base)


def test_mean_std_and_percentile_use_out_of_sample_validation_scores_only():
    v = [0.1, 0.2, 0.9, 0.8, 0.35]  # the validation scores; training scores and labels unused
    assert MeanStd(k=2).select(ctx()) == pytest.approx(np.mean(v) + 2 * np.std(v))
    assert Percentile(q=50).select(ctx()) == pytest.approx(0.35)
    assert Percentile(q=50).select(ctx(val_labels=np.ones(5, dtype=int))) == pytest.approx(0.35)
    empty = ctx(val_scores=np.array([]), val_labels=np.array([], dtype=int))
    assert Percentile(q=50).select(empty) == pytest.approx(2.5)  # no validation: training
    with pytest.raises(BenchError, match="q must be in"):
        Percentile(q=120)


def test_best_f1_picks_the_separating_threshold():
    assert BestF1().select(ctx()) == pytest.approx((0.8 + 0.35) / 2)  # middle of the tied gap


def test_best_f1_without_validation_anomalies_raises_no_validation_alarm():
    c = ctx(val_labels=np.zeros(5, dtype=int))
    t = BestF1().select(c)
    assert t > 0.9 and (c.val_scores >= t).sum() == 0
    assert c.fallback == NO_ANOMALY_FALLBACK  # and says so


def test_label_chosen_thresholds_name_their_fallback_only_when_they_need_one():
    with_anomaly = ctx()
    BestF1().select(with_anomaly)
    MinCost().select(with_anomaly)
    assert with_anomaly.fallback == ""
    c = ctx(val_labels=np.zeros(5, dtype=int))
    t = MinCost().select(c)
    assert c.fallback == NO_ANOMALY_FALLBACK and (c.val_scores >= t).sum() == 0
    label_free = ctx(val_labels=np.zeros(5, dtype=int))
    MeanStd().select(label_free)
    Percentile().select(label_free)
    assert label_free.fallback == ""  # they never use labels: nothing to fall back from


def test_f1_sweep_matches_direct_computation_with_ties():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    y = (rng.random(200) < 0.3).astype(int)
    thr, f1 = f1_sweep(y, s)
    for t, f in zip(thr, f1):
        p = s >= t
        tp = (p & (y == 1)).sum()
        assert f == pytest.approx(2 * tp / (p.sum() + y.sum()))


def test_min_cost_first_minimiser_on_a_grid():
    # cost with tolerance 0: c_alarm*FA + 5*missed. Grid 0.0..1.0 step 0.1.
    c = ctx()
    t = MinCost(grid="linspace:0:1:11").select(c)
    # thresholds 0.4..0.8 all give zero cost; the first is 0.4
    assert t == pytest.approx(0.4)


def test_min_cost_default_candidates_and_bad_grid():
    t = MinCost().select(ctx())
    assert t == pytest.approx(0.8)  # first zero-cost distinct validation score
    with pytest.raises(BenchError, match="threshold grid 'lin:1' not understood"):
        MinCost(grid="lin:1").select(ctx())
    with pytest.raises(BenchError, match="needs a cost model"):
        MinCost().select(ctx(cost=None))


def test_grid_forms():
    s = np.arange(10.0)
    assert np.allclose(parse_grid("linspace:1e4:2e5:200", s)[[0, -1]], [1e4, 2e5])
    assert np.allclose(parse_grid("logspace:0:2:3", s), [1, 10, 100])
    assert len(parse_grid("quantiles:5", s)) == 5
    c = candidates(s)
    assert c[-1] > 9 and len(c) == 11


def test_oracle_sees_test_labels_and_is_flagged():
    o = Oracle()
    assert o.needs_test_labels and "ORACLE" in o.uses
    c = ctx(test_scores=np.array([0.0, 5.0, 1.0]), test_labels=np.array([0, 1, 0]))
    assert o.select(c) == 3.0  # between the anomaly (5.0) and the highest normal score (1.0)
    for strategy in (MeanStd(), Percentile(), BestF1(), MinCost()):
        assert not strategy.needs_test_labels
