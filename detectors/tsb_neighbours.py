"""TSB-AD's classical row detectors on period windows: Sub-LOF, LOF, Sub-KNN, Sub-HBOS, Sub-PCA.

Each follows TSB-AD's model of the same name (``TSB_AD/models/*.py`` as of its published table,
2024-11) with the hyper-parameters of its ``Optimal_Uni_algo_HP_dict``: a univariate series becomes
its windows of ``window`` rows (0 = the series' period of rank ``periodicity``, TSB-AD's
``find_length_rank``), each window is one row of the underlying method, and window scores are
centred back onto rows (:mod:`bench.detectors.tsb_common`).  A multivariate series is used row by
row, as TSB-AD does.  ``score(X)`` on the training array itself returns the in-sample scores of
the fit (what TSB-AD reports: fit and score the whole series); on other rows, out-of-sample
scores of the fitted model.  Higher = more anomalous everywhere.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

import bench
from bench.params import Interval, Options

from .tsb_common import (
    LOOKS_AHEAD,
    as_2d,
    centre,
    check_fitted,
    resolve_window,
    row_zscore,
    same_rows,
    scoring_input,
    tsb_windows,
)


class _Sub:
    """Window a univariate series (period windows), fit / score the windows, centre the scores."""

    name = "sub"
    periodicity = 1
    #: declared capabilities (bench.DetectorTags): windows itself (``window``), ``fit(X, *, seed)``
    __bench_tags__ = bench.DetectorTags(windows_itself=True, fit_seed=True)
    #: the values the parameters accept, checked when a run is planned (bench.params); window 0
    #: = the series' period
    _parameter_constraints = {"window": [Interval(int, 0, None)]}

    def __init__(self, *, window: int = 0, normalize: bool = False):
        self.window = window
        self.normalize = normalize

    def _rows(self, X: np.ndarray) -> np.ndarray:
        X = as_2d(X)
        if X.shape[1] != 1 or self.window_ < 2:
            return X  # rows as they are (a row z-score would erase a multivariate offset)
        rows = tsb_windows(X[:, 0], self.window_)
        return row_zscore(rows) if self.normalize else rows

    def fit(self, X: np.ndarray, *, seed: int = 0):
        X = as_2d(X)
        self.window_ = resolve_window(self.window, X, self.periodicity, self.name) \
            if X.shape[1] == 1 else 1
        self.seed_ = seed
        self.train_ = X
        self.in_sample_ = centre(self._fit_rows(self._rows(X)), self.window_)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, self.name)
        if same_rows(self.train_, as_2d(X)):
            return self.in_sample_.copy()
        X = scoring_input(self, X)
        return centre(self._score_rows(self._rows(X)), self.window_)


class SubLOF(_Sub):
    """Local outlier factor (Breunig et al., 2000) of each period window (TSB-AD's Sub-LOF:
    ``n_neighbors=30``, the period of rank 2).  Score: the LOF (about 1 for inliers; higher = more
    anomalous), in-sample as scikit-learn's ``-negative_outlier_factor_``."""

    name, periodicity = "sub_lof", 2
    _parameter_constraints = {**_Sub._parameter_constraints,
                              "n_neighbors": [Interval(int, 1, None)]}

    def __init__(self, *, n_neighbors: int = 30, window: int = 0, normalize: bool = True):
        super().__init__(window=window, normalize=normalize)
        self.n_neighbors = n_neighbors

    def _fit_rows(self, W):
        from sklearn.neighbors import LocalOutlierFactor

        if self.n_neighbors < 1:
            raise bench.BenchError(f"{self.name}: n_neighbors must be >= 1, got {self.n_neighbors}")
        self.model_ = LocalOutlierFactor(n_neighbors=self.n_neighbors, novelty=True).fit(W)
        return -self.model_.negative_outlier_factor_

    def _score_rows(self, W):
        return -self.model_.score_samples(W)


class LOF(SubLOF):
    """Point-wise local outlier factor (TSB-AD's LOF column: each row on its own,
    ``n_neighbors=50``).  Score: the LOF; higher = more anomalous.  Causal when ``window=1``."""

    name, periodicity = "lof", 1

    def __init__(self, *, n_neighbors: int = 50, window: int = 1, normalize: bool = False):
        super().__init__(n_neighbors=n_neighbors, window=window, normalize=normalize)


class SubKNN(_Sub):
    """Distance to the ``n_neighbors``-th nearest other window (Ramaswamy et al., 2000; TSB-AD's
    Sub-KNN: ``n_neighbors=50``, ``method=largest``, the period of rank 2), in the series' units
    (Euclidean over a window); higher = more anomalous.  ``method``: ``largest``, ``mean`` or
    ``median`` of the distances to the ``n_neighbors`` nearest."""

    name, periodicity = "sub_knn", 2
    _parameter_constraints = {**_Sub._parameter_constraints,
                              "n_neighbors": [Interval(int, 1, None)],
                              "method": [Options("largest", "mean", "median")]}

    def __init__(self, *, n_neighbors: int = 50,
                 method: Literal["largest", "mean", "median"] = "largest", window: int = 0,
                 normalize: bool = True):
        super().__init__(window=window, normalize=normalize)
        if method not in ("largest", "mean", "median"):
            raise bench.BenchError(f"sub_knn: method must be largest, mean or median, "
                                   f"got {method!r}")
        self.n_neighbors = n_neighbors
        self.method = method

    def _reduce(self, dist):
        return {"largest": lambda d: d[:, -1], "mean": lambda d: d.mean(axis=1),
                "median": lambda d: np.median(d, axis=1)}[self.method](dist)

    def _fit_rows(self, W):
        from sklearn.neighbors import NearestNeighbors

        if not 1 <= self.n_neighbors < len(W):
            raise bench.BenchError(f"{self.name}: n_neighbors must be in [1, {len(W) - 1}], "
                                   f"got {self.n_neighbors}")
        self.model_ = NearestNeighbors(n_neighbors=self.n_neighbors).fit(W)
        return self._reduce(self.model_.kneighbors(return_distance=True)[0])

    def _score_rows(self, W):
        return self._reduce(self.model_.kneighbors(W, return_distance=True)[0])


class SubHBOS(_Sub):
    """Histogram-based outlier score (Goldstein & Dengel, 2012; TSB-AD's Sub-HBOS: ``n_bins=10``,
    ``alpha=0.1``, ``tol=0.5``) of each period window: the sum over window positions of
    ``-log2(density + alpha)`` of that position's histogram; higher = more anomalous.  A value
    beyond the training range by more than ``tol`` bins gets the rarest bin's score."""

    name, periodicity = "sub_hbos", 1
    _parameter_constraints = {**_Sub._parameter_constraints,
                              "n_bins": [Interval(int, 2, None)],
                              "alpha": [Interval(float, 0, 1, closed="neither")],
                              "tol": [Interval(float, 0, 1)]}

    def __init__(self, *, n_bins: int = 10, alpha: float = 0.1, tol: float = 0.5,
                 window: int = 0, normalize: bool = True):
        super().__init__(window=window, normalize=normalize)
        if n_bins < 2 or not 0 < alpha < 1 or not 0 <= tol <= 1:
            raise bench.BenchError(f"sub_hbos: need n_bins >= 2, 0 < alpha < 1, 0 <= tol <= 1; "
                                   f"got n_bins={n_bins}, alpha={alpha}, tol={tol}")
        self.n_bins, self.alpha, self.tol = n_bins, alpha, tol

    def _fit_rows(self, W):
        hists = [np.histogram(W[:, j], bins=self.n_bins, density=True) for j in range(W.shape[1])]
        self.log_ = np.stack([np.log2(h + self.alpha) for h, _ in hists], axis=1)  # [bins, F]
        self.edges_ = np.stack([e for _, e in hists], axis=1)  # [bins + 1, F]
        return self._score_rows(W)

    def _score_rows(self, W):
        out = np.zeros(len(W))
        for j in range(W.shape[1]):
            x, e, s = W[:, j], self.edges_[:, j], self.log_[:, j]
            idx = np.digitize(x, e, right=True)
            val = s[np.clip(idx - 1, 0, self.n_bins - 1)]
            low = (idx == 0) & (e[0] - x > (e[1] - e[0]) * self.tol)
            high = (idx == self.n_bins + 1) & (x - e[-1] > (e[-1] - e[-2]) * self.tol)
            val[low | high] = s.min()
            out -= val
        return out


class SubPCA(_Sub):
    """PCA outlier score (Shyu et al., 2003, as pyod computes it; TSB-AD's Sub-PCA, all
    components, exact SVD) of each standardised period window: the sum over principal axes of
    the distance to that axis' unit vector divided by its explained-variance ratio, so the
    low-variance axes weigh most; higher = more anomalous."""

    name, periodicity = "sub_pca", 1
    _parameter_constraints = {**_Sub._parameter_constraints,
                              "n_components": [Interval(int, 0, None)]}

    def __init__(self, *, n_components: int = 0, window: int = 0):
        super().__init__(window=window, normalize=False)  # standardised per column instead
        if n_components < 0:
            raise bench.BenchError(f"sub_pca: n_components must be >= 0 (0 = all), "
                                   f"got {n_components}")
        self.n_components = n_components

    def _fit_rows(self, W):
        from sklearn.preprocessing import StandardScaler

        self.scaler_ = StandardScaler().fit(W)
        Z = self.scaler_.transform(W)
        self.keep_ = np.any(Z != 0, axis=0)  # pyod's zero pruning
        if not self.keep_.any():  # a constant series: no axis, every window equally normal
            self.axes_ = None
            return np.zeros(len(W))
        Zk = Z[:, self.keep_]
        U, S, Vt = np.linalg.svd(Zk - Zk.mean(axis=0), full_matrices=False)
        # scikit-learn's sign convention before 1.5 (svd_flip on U), which TSB-AD's figures
        # used: the distance to an axis depends on its sign (0.1786 vs 0.1803 on 001_NAB_id_1)
        sign = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])])
        sign[sign == 0] = 1.0
        k = self.n_components or len(S)
        total = float(np.sum(S**2))
        self.axes_ = (Vt * sign[:, None])[:k]
        self.ratio_ = S[:k] ** 2 / total if total > 0 else np.ones(k)
        self.ratio_ = np.where(self.ratio_ > 0, self.ratio_, np.finfo(float).tiny)
        return self._distances(Zk)

    def _distances(self, Z):
        """sum_k |z - c_k| / ratio_k over the unit principal axes ``c_k`` (scipy's ``cdist``
        written as one matrix product: |z - c|^2 = |z|^2 + 1 - 2 z.c)."""
        if self.axes_ is None:
            return np.zeros(len(Z))
        C = self.axes_
        d2 = np.einsum("ij,ij->i", Z, Z)[:, None] + np.einsum("ij,ij->i", C, C)[None, :] \
            - 2.0 * Z @ C.T
        return np.sqrt(np.maximum(d2, 0.0)) @ (1.0 / self.ratio_)

    def _score_rows(self, W):
        return self._distances(self.scaler_.transform(W)[:, self.keep_])


DETECTORS = {"sub_lof": SubLOF, "lof": LOF, "sub_knn": SubKNN, "sub_hbos": SubHBOS,
             "sub_pca": SubPCA}
LOOKING_AHEAD = {"sub_lof", "sub_knn", "sub_hbos", "sub_pca"}
for _name in LOOKING_AHEAD:
    DETECTORS[_name].__doc__ = DETECTORS[_name].__doc__.rstrip() + " " + LOOKS_AHEAD


@bench.hookimpl
def bench_register_detectors(register):
    for name, cls in DETECTORS.items():
        register(name, cls, default_run=False, group="classical",
                 looks_ahead=name in LOOKING_AHEAD)
