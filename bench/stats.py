"""Significance of a ranking over datasets: Friedman test, then the Nemenyi post-hoc test.

Demsar ("Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 2006): rank the
``k`` detectors on each of ``N`` datasets (1 = best), test with Friedman's chi-square whether the
mean ranks differ at all, and only when it rejects compare pairs with Nemenyi's test, whose
critical difference is ``CD = q_alpha(k) / sqrt(2) * sqrt(k (k + 1) / (6 N))`` (``q_alpha``: the
studentized range quantile with infinite degrees of freedom).  Friedman's statistic comes from
scipy, the pairwise Nemenyi p-values from scikit-posthocs, the quantile from scipy's
``studentized_range`` (any ``k``, not a table that stops at 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ALPHA = 0.05


@dataclass
class Ranking:
    """Friedman + Nemenyi over a ``[datasets, detectors]`` rank matrix.

    labels:     the detectors (columns).
    mean_ranks: mean rank of each detector (1 = best).
    n_datasets: ``N``, datasets ranked (rows).
    statistic, p_value: Friedman's chi-square and its p-value (NaN when not computable:
                fewer than 3 detectors or 2 datasets, or every rank tied).
    rejected:   whether Friedman rejects "all detectors rank alike" at ``alpha``.
    cd:         Nemenyi's critical difference in mean rank (only when ``rejected``).
    pairwise:   Nemenyi p-value of each pair ``(a, b)`` (only when ``rejected``).
    """

    labels: list[str]
    mean_ranks: list[float]
    n_datasets: int
    statistic: float = float("nan")
    p_value: float = float("nan")
    alpha: float = ALPHA
    rejected: bool = False
    cd: float | None = None
    pairwise: dict[tuple[str, str], float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: the test, its outcome and (when it rejects) the critical difference."""
        k, n = len(self.labels), self.n_datasets
        if math.isnan(self.p_value):
            return (f"Friedman test not computable ({k} detectors, {n} datasets: needs at least "
                    f"3 detectors and 2 datasets, ranks not all tied); no critical difference")
        head = f"Friedman chi2 = {self.statistic:.2f}, p = {self.p_value:.3g} ({k} detectors, " \
               f"{n} datasets)"
        if not self.rejected:
            return f"{head}: no significant difference at alpha {self.alpha:g}; no critical " \
                   f"difference drawn"
        return f"{head}: rejects at alpha {self.alpha:g}; Nemenyi critical difference " \
               f"CD = {self.cd:.2f} (mean ranks further apart differ significantly)"


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks for ``k`` detectors over ``n`` datasets."""
    from scipy.stats import studentized_range

    q = float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6.0 * n))


def friedman(ranks: np.ndarray, labels: list[str], alpha: float = ALPHA) -> Ranking:
    """Test a ``[datasets, detectors]`` matrix of ranks (1 = best, ties averaged; no NaN)."""
    r = np.asarray(ranks, dtype=np.float64)
    n, k = r.shape if r.ndim == 2 else (0, len(labels))
    out = Ranking(list(labels), [float(x) for x in r.mean(axis=0)] if n else [], n, alpha=alpha)
    if n < 2 or k < 3 or np.all(r == r[0]):  # scipy's Friedman needs 3 groups
        return out
    from scipy.stats import friedmanchisquare

    stat, p = friedmanchisquare(*r.T)
    out.statistic, out.p_value = float(stat), float(p)
    out.rejected = bool(p < alpha)
    if out.rejected:
        import scikit_posthocs as sp

        out.cd = critical_difference(k, n, alpha)
        pv = sp.posthoc_nemenyi_friedman(r).to_numpy()
        out.pairwise = {(labels[i], labels[j]): float(pv[i, j])
                        for i in range(k) for j in range(i + 1, k)}
    return out
