"""Chance baselines (``random``, ``constant``) and the chance level of every built-in metric."""

from __future__ import annotations

import numpy as np
import pytest

from bench.datasets.nab import nab
from bench.detectors.chance import ConstantScore, RandomScores
from bench.errors import BenchError
from bench.metrics import pr_auc, roc_auc
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
