"""Robust z-score: distance from the training median in units of the median absolute deviation."""

from __future__ import annotations

import numpy as np

import bench

MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation


class RobustZ:
    """Robust z-score per feature, ``|x - median| / (1.4826 * MAD)``, reduced over features.

    Score: the ``reduce`` (``max`` or ``mean``) over features of the robust z-score, in robust
    standard deviations; higher = more anomalous.  ``min_scale`` floors the spread of a constant
    feature so its scores stay finite.
    """

    def __init__(self, *, reduce: str = "max", min_scale: float = 1e-6):
        self.reduce = reduce
        self.min_scale = min_scale

    def fit(self, X: np.ndarray, *, seed: int = 0) -> RobustZ:
        if self.reduce not in ("max", "mean"):
            raise bench.BenchError(f"robust-z: reduce must be 'max' or 'mean', got "
                                   f"{self.reduce!r}")
        X = np.asarray(X, dtype=np.float64)
        if len(X) == 0:
            raise bench.BenchError("robust-z: fit() needs at least one row")
        self.median_ = np.median(X, axis=0)
        mad = np.median(np.abs(X - self.median_), axis=0)
        self.scale_ = np.maximum(MAD_TO_SD * mad, self.min_scale)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "median_"):
            raise bench.BenchError("robust-z: call fit() before score()")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.median_):
            raise bench.BenchError(f"robust-z: fitted on {len(self.median_)} features, got "
                                   f"shape {X.shape}")
        z = np.abs(X - self.median_) / self.scale_
        return z.max(axis=1) if self.reduce == "max" else z.mean(axis=1)
