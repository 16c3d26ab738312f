"""Chance baselines: ``random`` (seeded uniform scores) and ``constant`` (one score everywhere).

They learn nothing, so any metric they score above its chance level is inflating.  Leaderboards
show them as reference rows marked ``chance`` and leave them out of the overall ranking; a
dataset cell where no real detector beats them is flagged.  Both are registered with the meta
``chance=True``.
"""

from __future__ import annotations

import numpy as np

import bench


class _Chance:
    """Shared ``fit``/feature checks: remembers the feature count so a mismatch raises."""

    name = "chance"
    __bench_tags__ = bench.DetectorTags(fit_seed=True)  # declared capabilities

    def fit(self, X: np.ndarray, *, seed: int = 0):
        X = np.asarray(X)
        if X.ndim != 2:
            raise bench.BenchError(f"{self.name}: fit() needs rows [T, F], got shape {X.shape}")
        self.n_features_ = X.shape[1]
        self.seed_ = int(seed)
        return self

    def _rows(self, X: np.ndarray) -> int:
        if not hasattr(self, "n_features_"):
            raise bench.BenchError(f"{self.name}: call fit() before score()")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise bench.BenchError(f"{self.name}: fitted on {self.n_features_} features, "
                                   f"score() got shape {X.shape}")
        return X.shape[0]


class RandomScores(_Chance):
    """Chance baseline: independent uniform scores in [0, 1) for every row, from ``seed``.

    The same seed and row count give the same scores.  Expected ROC-AUC 0.5, PR-AUC the anomaly
    rate; higher = more anomalous (by chance)."""

    name = "random"

    def score(self, X: np.ndarray) -> np.ndarray:
        n = self._rows(X)
        return np.random.default_rng([self.seed_, n]).random(n)


class ConstantScore(_Chance):
    """Chance baseline: the score ``value`` on every row (no ranking at all).

    Every threshold alarms all rows or none.  ROC-AUC 0.5, PR-AUC the anomaly rate."""

    name = "constant"

    def __init__(self, *, value: float = 0.0):
        self.value = value

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.full(self._rows(X), float(self.value))


@bench.hookimpl
def bench_register_detectors(register):
    register("random", RandomScores, chance=True,
             description="Chance baseline: seeded uniform random scores (reference row).")
    register("constant", ConstantScore, chance=True,
             description="Chance baseline: the same score on every row (reference row).")
