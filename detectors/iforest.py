"""Isolation forest baseline (scikit-learn), scores flipped so higher = more anomalous."""

from __future__ import annotations

import numpy as np

import bench
from bench.params import Interval


class IsolationForest:
    """Isolation forest (Liu, Ting & Zhou, ICDM 2008) via scikit-learn.

    Score: the negated ``score_samples`` of scikit-learn (which is higher for normal points), i.e.
    the mean normalised path-length anomaly score in (0, 1]; higher = more anomalous.
    On a univariate series the harness runs it on causal windows of ``default_window`` rows (its
    tags; TSB-AD's Sub-IForest; ``--window`` overrides).
    """

    #: declared capabilities (bench.DetectorTags): causal harness windows of 32 rows on a
    #: univariate series (the autoencoders' window, so that univariate pairings are fair)
    __bench_tags__ = bench.DetectorTags(default_window=32, fit_val=True, fit_seed=True)
    #: the values each parameter accepts, checked when the run is planned (bench.params)
    _parameter_constraints = {
        "n_estimators": [Interval(int, 1, None)],
        "max_samples": [Interval(int, 1, None), "auto"],
        "max_features": [Interval(float, 0, 1, closed="right")]}

    def __init__(self, *, n_estimators: int = 100, max_samples: int | str = "auto",
                 max_features: float = 1.0):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features

    def fit(self, X: np.ndarray, *, X_val: np.ndarray | None = None, seed: int = 0):
        from sklearn.ensemble import IsolationForest as _IF

        self.model_ = _IF(n_estimators=self.n_estimators, max_samples=self.max_samples,
                          max_features=self.max_features, random_state=seed).fit(X)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise bench.BenchError("iforest: call fit() before score()")
        return -self.model_.score_samples(X)


@bench.hookimpl
def bench_register_detectors(register):
    register("iforest", IsolationForest)
