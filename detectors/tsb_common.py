"""Shared pieces of the TSB-AD classical detectors (``tsb_neighbours``, ``tsb_signal``).

TSB-AD (Liu & Paparrizos, NeurIPS 2024) runs its ``Sub-*`` detectors on the sliding windows of one
series, sized by the series' dominant period, and maps each window's score back to rows by
*centring* it: window ``i`` (rows ``i .. i+w-1``) scores row ``i + ceil((w-1)/2)``, the first and
last rows repeat the nearest window's score.  A centred score uses up to ``(w-1)//2`` later rows:
it looks ahead, so these detectors are marked ``looks_ahead`` (a streaming use must shift them).
"""

from __future__ import annotations

import math
import os

import numpy as np

import bench
from bench.period import FALLBACK, HIGH, LOW, SKIP, acf_peaks

#: words added to every centred detector's description
LOOKS_AHEAD = ("Scores are centred on their window (TSB-AD's convention): a row's score uses up "
               "to (window-1)//2 later rows, i.e. it looks ahead.")


def period_rank(values: np.ndarray, rank: int = 1) -> int:
    """TSB-AD's ``find_length_rank(values, rank)`` in rows: ``rank=1`` is the lag of the highest
    autocorrelation peak (:func:`bench.period.dominant_period`); ``rank=2`` the highest peak
    among the peaks at a larger lag than that one, ``rank=3`` (TSB-AD's rule, kept as written)
    one step further; 125 when the chosen lag is outside [6, 303] or there is no such peak."""
    if rank not in (1, 2, 3):
        raise bench.BenchError(f"periodicity must be 1, 2 or 3, got {rank}")
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if v.shape[1] != 1:
        raise bench.BenchError(f"a period window needs one column, got {v.shape[1]}; "
                               f"give window=N explicitly")
    found = acf_peaks(v)
    if found is None:
        return FALLBACK
    acf, peaks = found
    order = np.argsort(-acf[peaks], kind="stable")  # positions in `peaks`, highest first
    chosen = order[0]
    if rank >= 2:
        later = [i for i in order[1:] if i > order[0]]
        if not later:
            chosen = order[0]
        elif rank == 2:
            chosen = later[0]
        else:  # TSB-AD's rank 3 indexes the sorted list by a peak position, as written there
            if not later or later[0] >= len(order):
                return FALLBACK  # TSB-AD's code raises here and falls back to 125
            first = later[0]
            nxt = [i for i in order[first:] if i > order[first]]
            chosen = nxt[0] if nxt else order[0]
    lag = int(peaks[chosen])
    if lag < LOW or lag > HIGH:
        return FALLBACK
    return lag + SKIP


def resolve_window(window: int, X: np.ndarray, periodicity: int, name: str) -> int:
    """``window`` rows, or (``window == 0``) the series' period of rank ``periodicity``."""
    if window < 0:
        raise bench.BenchError(f"{name}: window must be >= 0 (0 = the series' period), "
                               f"got {window}")
    w = window or period_rank(X, periodicity)
    if w > len(X):
        raise bench.BenchError(f"{name}: series of {len(X)} rows is shorter than the window "
                               f"({w}); give a smaller window=N")
    return int(w)


def as_2d(X: np.ndarray) -> np.ndarray:
    """``X`` as float64 ``[T, F]``."""
    X = np.asarray(X, dtype=np.float64)
    return X[:, None] if X.ndim == 1 else X


def tsb_windows(x: np.ndarray, w: int) -> np.ndarray:
    """``[T]`` -> ``[T-w+1, w]``: row ``i`` holds rows ``i+w-1, ..., i`` (newest first, TSB-AD's
    ``Window.convert`` column order: column ``k`` is the series shifted by ``k``), a
    column-major copy as pandas builds it: a row's mean and deviation are then summed in
    TSB-AD's order, which decides bin edges of exactly repeated values (Sub-HBOS on
    017_NAB_id_17: 0.3639 against the published 0.3620; 0.3883 from a row-major array)."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel())
    return np.asfortranarray(np.lib.stride_tricks.sliding_window_view(x, w)[:, ::-1])


def row_zscore(W: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its sample standard deviation (ddof=1); a constant row
    becomes zeros (TSB-AD's ``zscore(X, axis=1, ddof=1)`` with ``nan_to_num``)."""
    mu = W.mean(axis=1, keepdims=True)
    sd = W.std(axis=1, ddof=1, keepdims=True) if W.shape[1] > 1 else np.zeros_like(mu)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (W - mu) / sd
    return np.nan_to_num(out)


def centre(scores: np.ndarray, w: int) -> np.ndarray:
    """Window scores ``[T-w+1]`` -> row scores ``[T]``: ``ceil((w-1)/2)`` copies of the first in
    front, ``(w-1)//2`` copies of the last behind (TSB-AD's padding)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    return np.concatenate([np.full(math.ceil((w - 1) / 2), s[0]), s,
                           np.full((w - 1) // 2, s[-1])])


def same_rows(a: np.ndarray | None, b: np.ndarray) -> bool:
    """True when ``b`` is the training array ``a`` (the unsupervised fit-and-score-the-same-series
    case, where TSB-AD reports the in-sample scores of its fit)."""
    return a is not None and a.shape == b.shape and bool(np.array_equal(a, b))


def check_fitted(det, name: str) -> None:
    if not hasattr(det, "train_"):
        raise bench.BenchError(f"{name}: call fit() before score()")


def scoring_input(det, X: np.ndarray) -> np.ndarray:
    """``X`` as a 2-D array a fitted windowed detector can score: fitted first, the columns it
    was fitted on, at least one window of rows; otherwise one :class:`bench.BenchError` line."""
    check_fitted(det, det.name)
    X = as_2d(X)
    if X.shape[1] != det.train_.shape[1]:
        raise bench.BenchError(f"{det.name}: fitted on {det.train_.shape[1]} columns, "
                               f"scoring {X.shape[1]}")
    if len(X) < det.window_:
        raise bench.BenchError(f"{det.name}: {len(X)} rows to score, fewer than the window "
                               f"({det.window_})")
    return X


def n_threads(workers: int = 0) -> int:
    """``workers``, or (0) the cores this process may use, capped by ``OMP_NUM_THREADS`` when
    that is set (a run that asks for one BLAS / OpenMP thread gets one thread here too)."""
    if workers:
        return max(1, int(workers))
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core
    n = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(n, int(cap))) if cap.isdigit() and int(cap) > 0 else n
