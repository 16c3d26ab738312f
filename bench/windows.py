"""Sliding windows, and window scores mapped back to one score per time step.

Windowing belongs to the harness so that every detector returns exactly ``T`` scores.
"""

from __future__ import annotations

import numpy as np

from .errors import BenchError


def n_windows(length: int, window: int, stride: int = 1) -> int:
    """Number of windows of ``window`` steps taken every ``stride`` steps from ``length`` steps,
    always including a last window that ends at the final step."""
    if length < window:
        return 0
    return (length - window) // stride + 1 + (1 if (length - window) % stride else 0)


def window_starts(length: int, window: int, stride: int = 1) -> np.ndarray:
    """Start index of each window; the last window is aligned to end at ``length``."""
    if window < 1 or stride < 1:
        raise BenchError(f"window ({window}) and stride ({stride}) must be >= 1")
    if length < window:
        raise BenchError(
            f"series of {length} steps is shorter than the window ({window}); use a smaller window"
        )
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def sliding_windows(x: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """``[T, F]`` -> ``[N, window, F]`` windows (a read-only view when ``stride`` tiles exactly).

    The last window always ends at the final step, so every step is covered.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    starts = window_starts(len(x), window, stride)
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # [T-w+1, F, w]
    view = np.moveaxis(view, -1, 1)  # [T-w+1, w, F]
    if stride == 1:
        return view
    return view[starts]


def windows_to_steps(
    window_scores: np.ndarray,
    length: int,
    window: int,
    stride: int = 1,
    reduce: str = "mean",
) -> np.ndarray:
    """Map ``[N]`` window scores (or ``[N, window]`` per-position scores) to ``[length]`` step
    scores.

    Each step gets the mean (``reduce="mean"``) or the maximum (``reduce="max"``) of the scores of
    every window that covers it.
    """
    starts = window_starts(length, window, stride)
    ws = np.asarray(window_scores, dtype=np.float64)
    if ws.shape[0] != len(starts):
        raise BenchError(
            f"{ws.shape[0]} window scores for {len(starts)} windows of {window} over {length} steps"
        )
    per_pos = ws if ws.ndim == 2 else np.repeat(ws[:, None], window, axis=1)
    idx = (starts[:, None] + np.arange(window)[None, :]).ravel()
    vals = per_pos.ravel()
    if reduce == "mean":
        total = np.bincount(idx, weights=vals, minlength=length)
        count = np.bincount(idx, minlength=length)
        return total / count
    if reduce == "max":
        out = np.full(length, -np.inf)
        np.maximum.at(out, idx, vals)
        return out
    raise BenchError(f"reduce must be 'mean' or 'max', got {reduce!r}")


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the maximal runs of ``True`` in a boolean ``mask``, in order."""
    m = np.asarray(mask, dtype=bool)
    edges = np.diff(np.r_[0, m.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def causal_windows(x: np.ndarray, window: int) -> np.ndarray:
    """``[T, F]`` -> ``[T, window * F]``: row ``t`` holds rows ``t - window + 1 .. t`` flattened
    (oldest first), the first rows padded by repeating row 0, so each row's window ends at that
    row and never looks ahead."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if len(x) == 0:
        return np.zeros((0, window * x.shape[1]), dtype=x.dtype)
    padded = np.concatenate([np.repeat(x[:1], window - 1, axis=0), x])
    return sliding_windows(padded, window).reshape(len(x), window * x.shape[1])


class Windowed:
    """Run a row detector on sliding windows of ``window`` rows (TSB-AD's Sub-IForest idea): each
    row becomes the flattened window of the ``window`` rows ending at it, so a window's score is
    aligned to its last row (causal: a score never uses a later row; detection delay and event
    costs read these scores).

    ``fit(X, segments=...)`` trains on windows lying wholly inside one of ``segments`` (``(start,
    stop)`` row ranges of ``X``, contiguous in the original series), so a window never crosses a
    row the protocol removed; ``score(X)`` scores every row of a contiguous series, the first
    ``window - 1`` rows on windows padded with row 0.
    """

    def __init__(self, detector, window: int):
        if window < 2:
            raise BenchError(f"Windowed needs a window of at least 2 rows, got {window}")
        self.detector = detector
        self.window = int(window)

    def fit(self, X: np.ndarray, *, segments: list[tuple[int, int]] | None = None, **kwargs):
        X = np.asarray(X)
        X = X[:, None] if X.ndim == 1 else X
        segments = segments or [(0, len(X))]
        parts = [sliding_windows(X[a:b], self.window).reshape(-1, self.window * X.shape[1])
                 for a, b in segments if b - a >= self.window]
        if not parts:
            longest = max(b - a for a, b in segments)
            raise BenchError(f"no contiguous run of training rows is as long as the window "
                             f"({longest} < {self.window}); use a smaller --window")
        if kwargs.get("X_val") is not None:
            kwargs["X_val"] = causal_windows(kwargs["X_val"], self.window)
        fitted = self.detector.fit(np.concatenate(parts), **kwargs)
        if fitted is not None:
            self.detector = fitted
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.detector.score(causal_windows(X, self.window))

    @property
    def device_(self) -> str:
        return str(getattr(self.detector, "device_", "cpu"))

    @property
    def compiles_(self) -> int:
        return int(getattr(self.detector, "compiles_", 0) or 0)
