"""TSB-AD's classical series detectors: POLY, MatrixProfile, SR (spectral residual), KMeansAD.

Each follows TSB-AD's model of the same name (``TSB_AD/models/*.py`` as of its published table,
2024-11) with the hyper-parameters of its ``Optimal_Uni_algo_HP_dict``; windows of 0 rows mean
the series' period (TSB-AD's ``find_length_rank``).  These work on one univariate series and
are transductive: ``score(X)`` computes the method on ``X`` itself (POLY, SR, MatrixProfile: a
self-join of ``X``) or against the fitted model (KMeansAD: the centroids of the training windows).
Every score uses rows after the row it belongs to (a centred window, a two-sided polynomial fit,
a whole-series FFT): they look ahead.  Higher = more anomalous everywhere.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import bench
from bench.params import Interval

from .tsb_common import (
    LOOKS_AHEAD,
    as_2d,
    check_fitted,
    n_threads,
    resolve_window,
    row_zscore,
    scoring_input,
)


class _Series:
    """fit: resolve the window on the training series (its first column); score: run the method
    on ``X``, column by column for a multivariate series (the mean of the columns' scores: an
    extension, TSB-AD's versions are univariate)."""

    name, periodicity = "series", 1
    #: declared capabilities (bench.DetectorTags): windows itself (``window``), ``fit(X, *, seed)``
    __bench_tags__ = bench.DetectorTags(windows_itself=True, fit_seed=True)
    #: the values the parameters accept, checked when a run is planned (bench.params); window 0
    #: = the series' period
    _parameter_constraints = {"window": [Interval(int, 0, None)]}

    def fit(self, X: np.ndarray, *, seed: int = 0):
        X = as_2d(X)
        self.window_ = resolve_window(self.window, X[:, :1], self.periodicity, self.name)
        self.seed_ = seed
        self.train_ = X
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        X = scoring_input(self, X)
        return np.mean([self._series_scores(X[:, j]) for j in range(X.shape[1])], axis=0)


def _polyfit(x, y, power):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # np.RankWarning on raw row indices, as in TSB-AD
        return np.poly1d(np.polyfit(x, y, power))


def _poly_model(data: np.ndarray, index: int, window: int, hood: int, power: int):
    """TSB-AD's POLY fit around ``[index, index + window)``: a polynomial through the
    ``hood // 2`` rows on each side (cases near the ends as in TSB-AD)."""
    n, half = len(data), int(hood / 2)
    ar = np.arange
    if index + half < n and index - half > 0:
        x = np.concatenate((ar(index - half, index), ar(index + window, index + half)))
    elif index + half >= n and index + window < n:
        x = np.concatenate((ar(n - hood, index), ar(index + window, n)))
    elif index + window >= n:
        x = ar(n - hood, index)
    elif index + window < hood:
        x = np.concatenate((ar(0, index), ar(index + window, hood)))
    else:
        x = np.concatenate((ar(index - half, index), ar(index + window, index + half)))
    return _polyfit(x, data[x], power)


class POLY(_Series):
    """Polynomial-fit detector (TSB-AD's POLY, after Li et al.'s TSB-UAD; ``power=4``): the
    series is min-max scaled, each block of ``window`` rows is predicted by a degree-``power``
    polynomial fitted to the ``max(10 * window, 100) / 2`` rows on each side of it, and the
    block's score is ``|FFT(block) - FFT(prediction)|_2 / window`` in scaled units.  The first
    ``min(500, T / 10)`` rows score 0.  """

    name = "poly"
    _parameter_constraints = {**_Series._parameter_constraints,
                              "power": [Interval(int, 0, None)]}

    def __init__(self, *, power: int = 4, window: int = 0):
        if power < 0:
            raise bench.BenchError(f"poly: power must be >= 0, got {power}")
        self.power = power
        self.window = window

    def _series_scores(self, x):
        span = x.max() - x.min()
        data = (x - x.min()) / span if span > 0 else np.zeros_like(x)
        n, w = len(data), self.window_
        hood = min(max(10 * w, 100), n)
        N, M = n // w, math.ceil(min(500, int(0.1 * n)) / w)
        models = {i * w: _poly_model(data, i * w, w, hood, self.power) for i in range(M, N + 1)}
        est = np.zeros(n)
        for i in range(M, N):
            est[w * i:w * (i + 1)] = models[i * w](np.linspace(w * i, w * (i + 1), w))
        if n % N != 0:  # TSB-AD's test, kept as written (n % N, not n % window)
            est[N * w:] = models[N * w](np.arange(N * w, n))
        score = np.zeros(n)
        for i in range(M, N + 1):
            a, b = i * w, (n if i == N else i * w + w)
            if b > a:
                score[a:a + w] = np.linalg.norm(np.fft.fft(data[a:b]) - np.fft.fft(est[a:b]),
                                                ord=2) / (b - a)
        return score


def matrix_profile(x: np.ndarray, m: int, block: int = 128, workers: int = 0) -> np.ndarray:
    """Self-join matrix profile (Yeh et al., 2016): for each subsequence of ``m`` rows, the
    z-normalised Euclidean distance to its nearest other subsequence outside the exclusion zone
    ``ceil(m / 4)`` (stumpy's default).  ``[T - m + 1]`` float64, in units of distance (0 to
    ``2 sqrt(m)``).  Exact, O(T^2) work, no compilation: blocks of ``block`` diagonals, the
    sliding dot products of a diagonal from one cumulative sum, the best Pearson correlation of
    each subsequence kept and turned into a distance at the end, ``sqrt(2 m (1 - r))``; the
    blocks run on ``workers`` threads (0 = ``tsb_common.n_threads()``).  A
    constant subsequence is at distance 0 from another constant one and ``sqrt(m)`` from any
    other (stumpy's rule)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x - x.mean()
    L, n = len(x), len(x) - m + 1
    if n < 2:
        raise bench.BenchError(f"matrix_profile: a series of {L} rows has fewer than two "
                               f"subsequences of {m}")
    W = np.lib.stride_tricks.sliding_window_view(x, m)
    mu, sd = W.mean(axis=1), W.std(axis=1)
    flat = sd < 1e-7 * max(1.0, float(np.abs(x).max()))
    inv = np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, sd))
    pad = block + 1  # j = i + k past the last subsequence reads these: correlation -inf
    inv_p = np.concatenate([inv, np.zeros(pad)])
    mi_p = np.concatenate([mu * inv, np.zeros(pad)])
    pen_p = np.concatenate([np.where(flat, -np.inf, 0.0), np.full(pad, -np.inf)])
    xp = np.concatenate([x, np.zeros(pad)])
    excl = math.ceil(m / 4)
    view = np.lib.stride_tricks.sliding_window_view

    def diagonals(k0: int, best: np.ndarray) -> None:  # diagonals k0 .. k0 + block - 1
        nb, width = min(block, n - k0), n - k0
        prod = x[None, :L - k0] * view(xp, L - k0)[k0:k0 + nb]
        cs = np.cumsum(prod, axis=1)
        qt = cs[:, m - 1:]  # [nb, width]: row b, column i = <S_i, S_{i + k0 + b}>
        qt[:, 1:] -= cs[:, :width - 1]
        r = qt * (inv[None, :width] / m)
        r *= view(inv_p, width)[k0:k0 + nb]
        r -= mi_p[None, :width] * view(mi_p, width)[k0:k0 + nb]
        r += view(pen_p, width)[k0:k0 + nb]  # pairs past the end, and flat partners
        r[:, flat[:width]] = -np.inf  # flat subsequences are handled below
        np.maximum(best[:width], r.max(axis=0), out=best[:width])
        for b in range(nb):  # the same pairs seen from the later subsequence
            k = k0 + b
            np.maximum(best[k:], r[b, :n - k], out=best[k:])

    # blocks of diagonals on `workers` threads (numpy releases the GIL in these loops), each
    # keeping its own best correlations; their maximum is exact, so the profile is the same
    starts = list(range(excl + 1, n, block))
    n_workers = min(n_threads(workers), max(1, len(starts)))
    bests = [np.full(n, -np.inf) for _ in range(n_workers)]
    if n_workers == 1:
        for k0 in starts:
            diagonals(k0, bests[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(n_workers) as pool:
            list(pool.map(lambda w: [diagonals(k0, bests[w]) for k0 in starts[w::n_workers]],
                          range(n_workers)))
    best = np.max(bests, axis=0)
    prof = np.sqrt(np.maximum(2.0 * m * (1.0 - np.minimum(best, 1.0)), 0.0))
    if flat.any():  # stumpy's rule: flat-flat 0, flat-other sqrt(m)
        i = np.arange(n)

        def far(idx):  # is there a subsequence of idx outside i's exclusion zone?
            if idx.size == 0:
                return np.zeros(n, dtype=bool)
            return (idx.min() < i - excl) | (idx.max() > i + excl)

        far_flat, far_other = far(np.flatnonzero(flat)), far(np.flatnonzero(~flat))
        root = math.sqrt(m)
        np.minimum(prof, root, out=prof, where=~flat & far_flat)
        prof[flat & far_other] = np.minimum(prof[flat & far_other], root)
        prof[flat & far_flat] = 0.0
    return prof


class MatrixProfile(_Series):
    """Matrix profile discord score (TSB-AD's MatrixProfile, stumpy's self-join with a window of
    the series' period): each subsequence's z-normalised distance to its nearest neighbour,
    placed at the subsequence's centre row; the ``window // 2`` rows at each end get the
    profile's minimum.  Units: z-normalised Euclidean distance.  """

    name = "matrix_profile"

    def __init__(self, *, window: int = 0):
        self.window = window

    def _series_scores(self, x):
        m = self.window_
        prof = matrix_profile(x, m)
        res = np.full(len(x), prof.min())
        res[m // 2:len(x) - m // 2 + (1 if m % 2 == 0 else 0)] = prof
        return res


def spectral_residual(x: np.ndarray, amp_window: int = 100) -> np.ndarray:
    """TSB-AD's SR (Ren et al., KDD 2019, as TSB-AD writes it): the min-max scaled series'
    log-amplitude spectrum minus its moving average over ``amp_window`` frequencies, back
    through the inverse FFT with the original phase; the magnitude is the saliency (unitless)."""
    span = x.max() - x.min()
    x = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    spec = np.fft.fft(x)
    with np.errstate(divide="ignore"):
        log_amp = np.log(np.abs(spec))
    log_amp = np.where(np.isfinite(log_amp), log_amp, np.log(np.finfo(float).tiny))
    bias, sym = log_amp[:1], log_amp[1:]
    freq = sym[:(len(sym) + 1) // 2]
    left = (amp_window - 1) // 2
    # TSB-AD pads the spectrum with the first and last *series* values, as written there
    padded = np.concatenate([np.full(left, x[0]), freq, np.full(amp_window - left - 1, x[-1])])
    ma = np.convolve(padded, np.ones(amp_window) / amp_window, "valid")
    ma_log_amp = np.concatenate([bias, ma, (ma[:-1] if len(sym) % 2 == 1 else ma)[::-1]])
    return np.abs(np.fft.ifft(np.exp(log_amp - ma_log_amp + 1j * np.angle(spec))))


class SR(_Series):
    """Spectral residual saliency (TSB-AD's SR): :func:`spectral_residual` of the series
    (unitless; higher = more anomalous).  ``window`` is resolved (the period) but, as in TSB-AD,
    not used by the score.  """

    name = "sr"
    _parameter_constraints = {**_Series._parameter_constraints,
                              "amp_window": [Interval(int, 1, None)]}

    def __init__(self, *, window: int = 0, amp_window: int = 100):
        if amp_window < 1:
            raise bench.BenchError(f"sr: amp_window must be >= 1, got {amp_window}")
        self.window = window
        self.amp_window = amp_window

    def _series_scores(self, x):
        return spectral_residual(x, self.amp_window)


class KMeansAD(_Series):
    """k-means window detector (Yairi et al., 2001; TSB-AD's KMeansAD_U: ``n_clusters=10``,
    windows of the period of rank 2, each window z-scored): the distance of each window to its
    nearest training centroid, each row's score the mean over the windows covering it (z-score
    units).  TSB-AD's k-means is unseeded; here ``seed`` seeds it.  """

    name, periodicity = "kmeans_ad", 2
    _parameter_constraints = {**_Series._parameter_constraints,
                              "n_clusters": [Interval(int, 1, None)],
                              "n_init": [Interval(int, 1, None)]}

    def __init__(self, *, n_clusters: int = 10, window: int = 0, n_init: int = 1,
                 normalize: bool = True):
        if n_clusters < 1 or n_init < 1:
            raise bench.BenchError(f"kmeans_ad: n_clusters and n_init must be >= 1, "
                                   f"got {n_clusters} and {n_init}")
        self.n_clusters, self.window, self.n_init = n_clusters, window, n_init
        self.normalize = normalize

    def _windows(self, X):
        """``[T, F]`` -> ``[T - w + 1, F * w]`` flattened windows (TSB-AD's layout)."""
        W = np.lib.stride_tricks.sliding_window_view(X, self.window_, axis=0)
        W = W.reshape(len(W), -1)
        return row_zscore(W) if self.normalize else W

    def fit(self, X: np.ndarray, *, seed: int = 0):
        from sklearn.cluster import KMeans

        super().fit(X, seed=seed)
        W = self._windows(self.train_)
        if len(W) < self.n_clusters:
            raise bench.BenchError(f"kmeans_ad: {len(W)} windows, fewer than n_clusters "
                                   f"({self.n_clusters})")
        self.model_ = KMeans(n_clusters=self.n_clusters, n_init=self.n_init,
                             random_state=seed).fit(W)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        from bench.windows import windows_to_steps

        check_fitted(self, self.name)
        X = as_2d(X)
        if X.shape[1] != self.train_.shape[1] or len(X) < self.window_:
            raise bench.BenchError(f"{self.name}: fitted on {self.train_.shape[1]} columns with "
                                   f"windows of {self.window_}; got {X.shape[1]} columns, "
                                   f"{len(X)} rows")
        W = self._windows(X)
        c = self.model_.cluster_centers_[self.model_.predict(W)]
        return windows_to_steps(np.linalg.norm(W - c, axis=1), len(X), self.window_)


DETECTORS = {"poly": POLY, "matrix_profile": MatrixProfile, "sr": SR, "kmeans_ad": KMeansAD}
for _cls in DETECTORS.values():
    _cls.__doc__ = _cls.__doc__.rstrip() + " " + LOOKS_AHEAD
del _cls


@bench.hookimpl
def bench_register_detectors(register):
    for name, cls in DETECTORS.items():
        register(name, cls, default_run=False, group="classical", looks_ahead=True)
