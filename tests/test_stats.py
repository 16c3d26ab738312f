"""bench.stats: Friedman test and Nemenyi critical difference (Demsar, JMLR 2006)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.stats import critical_difference, friedman

#: Demsar 2006, Table 5(a): q_0.05 / sqrt(2) for k = 2..10
DEMSAR_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102,
              10: 3.164}


def test_critical_difference_matches_demsar_table():
    for k, q in DEMSAR_Q05.items():
        assert critical_difference(k, 1) / np.sqrt(k * (k + 1) / 6) == pytest.approx(q, abs=2e-3)
    # Demsar's worked example: 4 classifiers on 14 data sets, CD = 1.25
    assert critical_difference(4, 14) == pytest.approx(1.25, abs=0.01)


def _ranks(rng, n, k, shift):
    """Ranks of k detectors on n datasets; detector j's score gets ``shift * j`` added."""
    scores = rng.normal(size=(n, k)) + shift * np.arange(k)
    return np.argsort(np.argsort(-scores, axis=1), axis=1) + 1.0


def test_friedman_statistic_is_the_textbook_formula_and_rejects_a_clear_order():
    rng = np.random.default_rng(0)
    r = _ranks(rng, 12, 4, shift=1.0)
    res = friedman(r, ["a", "b", "c", "d"])
    n, k = r.shape
    R = r.mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(R**2) - k * (k + 1) ** 2 / 4)
    assert res.statistic == pytest.approx(chi2)
    assert res.rejected and res.p_value < 1e-4 and res.cd == pytest.approx(
        critical_difference(4, 12))
    assert res.pairwise[("a", "d")] < 0.05
    assert "rejects" in res.summary() and "CD =" in res.summary()


def test_no_critical_difference_without_a_rejection():
    rng = np.random.default_rng(3)
    res = friedman(_ranks(rng, 6, 4, shift=0.0), list("abcd"))
    assert not res.rejected and res.cd is None and not res.pairwise
    assert "no critical difference" in res.summary()


def test_too_few_detectors_or_datasets_is_said_not_tested():
    assert "not computable" in friedman(np.array([[1.0, 2.0], [2.0, 1.0]]), ["a", "b"]).summary()
    assert "not computable" in friedman(np.array([[1.0, 2.0, 3.0]]), list("abc")).summary()
