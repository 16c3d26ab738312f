"""Gaussian kernel density baseline: signal = negative normalised log-density."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

import bench


def scott_bandwidth(n: int, d: int) -> float:
    """Scott's rule for standardised data, ``n ** (-1 / (d + 4))`` (scikit-learn's ``"scott"``)."""
    return float(n ** (-1.0 / (d + 4)))


def gaussian_log_density(X: np.ndarray, train: np.ndarray, bandwidth: float,
                         chunk: int = 2048) -> np.ndarray:
    """Log of the normalised Gaussian KDE at each row of ``X`` (float64, chunked):
    ``log(1/n sum_i N(x; x_i, h^2 I))``, as scikit-learn's ``KernelDensity.score_samples``."""
    train = np.asarray(train, dtype=np.float64)
    n, d = train.shape
    h2 = bandwidth**2
    norm = -math.log(n) - 0.5 * d * math.log(2 * math.pi * h2)
    tn = np.einsum("ij,ij->i", train, train)
    out = np.empty(len(X))
    for start in range(0, len(X), chunk):
        x = np.asarray(X[start:start + chunk], dtype=np.float64)
        d2 = np.einsum("ij,ij->i", x, x)[:, None] + tn[None, :] - 2.0 * x @ train.T
        np.maximum(d2, 0.0, out=d2)
        out[start:start + chunk] = logsumexp(-0.5 * d2 / h2, axis=1) + norm
    return out


class KDE:
    """Gaussian kernel density estimate of the training rows.

    Score: ``-log p(x)``, the negative normalised log-density in nats (scikit-learn's
    ``KernelDensity(kernel="gaussian").score_samples`` negated); higher = more anomalous.
    ``bandwidth``: kernel standard deviation in standardised units; ``None`` = Scott's rule.
    ``max_train``: at most this many training rows are kept (evenly spaced) to bound scoring cost.
    """

    def __init__(self, *, bandwidth: float | None = None, max_train: int = 20000):
        self.bandwidth = bandwidth
        self.max_train = max_train

    def fit(self, X: np.ndarray, *, X_val: np.ndarray | None = None, seed: int = 0):
        X = np.asarray(X, dtype=np.float64)
        if len(X) > self.max_train:
            X = X[np.linspace(0, len(X) - 1, self.max_train).astype(int)]
        self.train_ = X
        self.bandwidth_ = self.bandwidth or scott_bandwidth(*X.shape)
        if not self.bandwidth_ > 0:
            raise bench.BenchError(f"kde: bandwidth must be > 0, got {self.bandwidth_}")
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "train_"):
            raise bench.BenchError("kde: call fit() before score()")
        return -gaussian_log_density(X, self.train_, self.bandwidth_)


@bench.hookimpl
def bench_register_detectors(register):
    register("kde", KDE)
