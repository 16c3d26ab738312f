"""Chance baselines (``random``, ``constant``) and the chance level of every built-in metric."""

from __future__ import annotations

import numpy as np
import pytest
from bench.datasets.nab import nab
from bench.detectors.chance import ConstantScore, RandomScores

from bench.errors import BenchError
from bench.metrics import (
    BUILTIN,
    affiliation_f1,
    affiliation_precision,
    event_f1,
    event_precision,
    event_recall,
    f1,
    is_oracle,
    nab_score,
    pr_auc,
    roc_auc,
    vus_roc,
)
from bench.metrics.chance import level
from bench.plugins import Manager


@pytest.fixture(scope="module")
def nab_sample():
    return nab(sample=True)


def test_registered_as_chance_detectors():
    m = Manager(blocked=(), only=())
    for name in ("random", "constant"):
        e = m.get("detector", name)
        assert e.meta.get("chance") is True and e.plugin == "chance"


def test_random_is_seeded_uniform_and_constant_is_constant(nab_sample):
    X = nab_sample.series[0].values
    a = RandomScores().fit(X, seed=1).score(X)
    assert np.array_equal(a, RandomScores().fit(X, seed=1).score(X))
    assert not np.array_equal(a, RandomScores().fit(X, seed=2).score(X))
    assert a.shape == (len(X),) and 0 <= a.min() and a.max() < 1
    assert abs(a.mean() - 0.5) < 0.02  # 4032 uniform draws
    c = ConstantScore(value=3.0).fit(X).score(X)
    assert c.shape == (len(X),) and np.all(c == 3.0)


def test_score_before_fit_and_feature_mismatch_raise(nab_sample):
    X = nab_sample.series[0].values
    with pytest.raises(BenchError, match="call fit"):
        RandomScores().score(X)
    with pytest.raises(BenchError, match="fitted on 1 features"):
        ConstantScore().fit(X).score(np.hstack([X, X]))


def test_threshold_free_chance_on_nab(nab_sample):
    """ROC-AUC of random scores is about 0.5 and PR-AUC about the anomaly rate on each shipped
    NAB series; a constant score gets exactly 0.5 and the anomaly rate."""
    for s in nab_sample:
        y = s.labels
        r = RandomScores().fit(s.values, seed=0).score(s.values)
        c = ConstantScore().fit(s.values).score(s.values)
        n1, n0 = int(y.sum()), int((y == 0).sum())
        sd = np.sqrt((n0 + n1 + 1) / (12 * n0 * n1))  # Mann-Whitney U / (n0 n1) under chance
        assert abs(roc_auc(y, r) - 0.5) < 4 * sd, s.name
        assert abs(pr_auc(y, r) - y.mean()) < 0.05, s.name
        assert roc_auc(y, c) == 0.5 and pr_auc(y, c) == pytest.approx(y.mean())


# ------------------------------------------------------------------ chance level of each metric

SEEDS = range(8)


@pytest.fixture(scope="module")
def test_labels(nab_sample):
    """The test-range labels of the 4 shipped NAB series and of HPC (course data)."""
    from bench.datasets.hpc import hpc

    out = {}
    for s in [*nab_sample, *hpc()]:
        y = s.labels[s.split.ranges(len(s))["test"]]
        if y.any():
            out[s.name] = y
    assert len(out) == 5
    return out


def _random_runs(fn, y):
    """Per-seed values of ``fn`` for uniform random scores, or random alarms at 50 % and 10 %."""
    n = y.size
    if fn.input == "scores":
        return {"random": [fn(y, np.random.default_rng(k).random(n)) for k in SEEDS]}
    return {f"random {q}": [fn(y, (np.random.default_rng(k).random(n) < q).astype(np.int8))
                            for k in SEEDS] for q in (0.5, 0.1)}


def _honest(fn):
    return not fn.inflating and not is_oracle(fn)


@pytest.mark.parametrize("fn", [f for f in BUILTIN if _honest(f)], ids=lambda f: f.__name__)
def test_trivial_detectors_do_not_beat_the_declared_chance(fn, test_labels):
    """Constant alarms (every step, none) and random scores/alarms score no better than the
    metric's declared chance level, on NAB and HPC test labels (random: mean over 8 seeds, within
    4 standard errors)."""
    sign = 1 if fn.higher_is_better else -1
    for name, y in test_labels.items():
        c = level(fn, y)
        const = [fn(y, np.zeros(y.size))] if fn.input == "scores" else [
            fn(y, np.ones(y.size, np.int8)), fn(y, np.zeros(y.size, np.int8))]
        for v in const:
            assert np.isnan(v) or sign * (v - c) <= 1e-12, (name, v, c)
        for what, vals in _random_runs(fn, y).items():
            v = np.asarray(vals, dtype=np.float64)
            se = v.std(ddof=1) / np.sqrt(v.size)
            assert sign * (v.mean() - c) <= 4 * se + 1e-9, (name, what, v.mean(), c)


def test_closed_form_chance_levels(test_labels):
    for y in test_labels.values():
        p = y.mean()
        assert level(roc_auc, y) == 0.5 and level(pr_auc, y) == pytest.approx(p)
        assert level(f1, y) == level(event_f1, y) == pytest.approx(2 * p / (1 + p))


def test_event_f1_of_alarming_everything_is_chance_not_one(test_labels):
    """The old event F1 (event precision x event recall) gave a constant detector 1.000."""
    for y in test_labels.values():
        everything = np.ones(y.size, np.int8)
        assert event_precision(y, everything) == 1.0 and event_recall(y, everything) == 1.0
        assert event_f1(y, everything) == pytest.approx(f1(y, everything))
        assert event_f1(y, everything) < 0.6


def test_inflating_marks_are_earned(test_labels):
    """The metrics marked (!) do give label-blind detectors more than their family's chance."""
    assert {f.__name__ for f in BUILTIN if f.inflating} == {
        "point_adjusted_f1", "vus_roc", "affiliation_precision", "affiliation_f1"}
    vus = []
    for name, y in test_labels.items():
        r = [np.random.default_rng(k).random(y.size) for k in range(3)]
        vus.append(np.mean([vus_roc(y, s) for s in r]))  # ROC family: 0.5
        assert vus[-1] > 0.5, name
        alarms = [(s < 0.5).astype(np.int8) for s in r]
        assert np.mean([affiliation_f1(y, a) for a in alarms]) > 0.6, name
        assert np.mean([affiliation_precision(y, a) for a in alarms]) > y.mean() + 0.1, name
    assert max(vus) > 0.7  # realTraffic/speed_7578: short ranges, wide buffer


def test_nab_score_without_threshold_is_oracle():
    assert is_oracle(nab_score) and is_oracle(nab_score, {"profile": "standard"})
    assert not is_oracle(nab_score, {"threshold": 0.5})
    assert not any(is_oracle(f) for f in BUILTIN if f is not nab_score)
