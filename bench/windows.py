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
