"""Threshold strategies: turn scores into alarms (``scores >= threshold``).

Each strategy records which data chose the threshold.  Only ``oracle`` sees test labels, and its
results are flagged ORACLE and never mixed into the main leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import bench

from .errors import BenchError

#: most candidate thresholds a validation sweep evaluates when no grid is given
MAX_CANDIDATES = 2000
#: what a label-chosen threshold does on a series whose validation range holds no anomaly (every
#: candidate then has F1 = 0, and every cost is least with no alarm)
NO_ANOMALY_FALLBACK = "no validation anomaly: just above the highest validation score"


@dataclass
class ThresholdContext:
    """What a strategy may look at.  Scores: higher = more anomalous.

    train_scores: scores of the rows the detector was fitted on (in-sample, optimistic: a model
                  scores its own training rows lower than new normal rows).
    val_scores:   scores of the validation range, which the detector did not fit.  Strategies
                  that use no labels take their statistics from these (``out_of_sample``).
    val_labels:   labels of the validation range (strategies that use labels only).
    """

    train_scores: np.ndarray
    val_scores: np.ndarray
    val_labels: np.ndarray
    cost: Any = None
    series: str = ""
    test_scores: np.ndarray | None = None  # oracle only
    test_labels: np.ndarray | None = None  # oracle only
    #: set by a label-using strategy that could not use the labels (no validation anomaly): the
    #: rule it fell back to, recorded per series and counted under the table
    fallback: str = ""

    @property
    def out_of_sample(self) -> np.ndarray:
        """Unlabelled scores of rows the model did not fit: the validation scores (labels unused).
        Falls back to the training scores only when the validation range is empty."""
        s = np.asarray(self.val_scores, dtype=np.float64)
        return s if s.size else np.asarray(self.train_scores, dtype=np.float64)


def candidates(scores: np.ndarray) -> np.ndarray:
    """Ascending candidate thresholds from ``scores``: each distinct value (at most
    ``MAX_CANDIDATES`` quantiles), then one above the maximum (no alarm at all)."""
    s = np.unique(np.asarray(scores, dtype=np.float64))
    if s.size > MAX_CANDIDATES:
        s = np.unique(np.quantile(s, np.linspace(0, 1, MAX_CANDIDATES)))
    top = s[-1] if s.size else 0.0
    return np.append(s, np.nextafter(top, np.inf))


#: the most thresholds a grid may hold (each is one sweep step over the validation range)
MAX_GRID = 1_000_000


def _grid_points(raw: str, text: str) -> int:
    """N of a grid: a whole number from 1 to :data:`MAX_GRID` (``1e12`` would allocate 8 TB)."""
    f = float(raw)
    if not (f == f and 1 <= f <= MAX_GRID and f == int(f)):
        raise BenchError(f"threshold grid {text!r}: N = {raw} must be a whole number from 1 to "
                         f"{MAX_GRID}")
    return int(f)


def parse_grid(text: str, scores: np.ndarray) -> np.ndarray:
    """``linspace:A:B:N``, ``logspace:A:B:N`` (10**A..10**B), ``quantiles:N`` of the validation
    scores, or ``values`` (every distinct validation score)."""
    kind, *args = text.split(":")
    try:
        if kind in ("linspace", "logspace") and len(args) == 3:
            a, b, n = float(args[0]), float(args[1]), _grid_points(args[2], text)
            return (np.linspace if kind == "linspace" else np.logspace)(a, b, n)
        if kind == "quantiles" and len(args) == 1:
            n = _grid_points(args[0], text)
            return np.unique(np.quantile(scores, np.linspace(0, 1, n)))
        if kind == "values" and not args:
            return candidates(scores)
    except ValueError:
        pass
    raise BenchError(
        f"threshold grid {text!r} not understood; use linspace:A:B:N, logspace:A:B:N, "
        f"quantiles:N or values"
    )


def f1_sweep(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(thresholds, f1)`` of the alarms ``scores >= t`` at every distinct score ``t``, descending,
    by one sort and cumulative sums."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    alarms = np.arange(1, s.size + 1)
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # last index of each distinct value
    tp, alarms, thr = tp[last], alarms[last], s_sorted[last]
    f1 = 2 * tp / (alarms + y.sum())
    return thr, f1


class MeanStd:
    """Mean + ``k`` standard deviations of the out-of-sample scores: the validation range's
    scores, labels unused (the rows the model was fitted on score optimistically low)."""

    uses = "validation scores (unlabelled)"
    needs_test_labels = False
    #: declared version of the rule; bump it when the threshold it picks changes
    version = 2  # 2: statistics of the validation scores (1: of the training scores)

    def __init__(self, *, k: float = 3.0):
        self.k = k

    def select(self, ctx: ThresholdContext) -> float:
        s = ctx.out_of_sample
        return float(s.mean() + self.k * s.std())


class Percentile:
    """The ``q``-th percentile (``q`` in [0, 100]) of the out-of-sample scores: the validation
    range's scores, labels unused.  On normal data about ``100 - q`` % of new rows then alarm."""

    uses = "validation scores (unlabelled)"
    needs_test_labels = False
    #: declared version of the rule; bump it when the threshold it picks changes
    version = 2  # 2: statistics of the validation scores (1: of the training scores)

    def __init__(self, *, q: float = 99.0):
        if not 0 <= q <= 100:
            raise BenchError(f"threshold 'percentile': q must be in [0, 100], got {q}")
        self.q = q

    def select(self, ctx: ThresholdContext) -> float:
        return float(np.percentile(ctx.out_of_sample, self.q))


class BestF1:
    """A threshold with the best point-wise F1 on the validation labels.  Of the distinct scores
    that reach it, the lowest (most recall); then the middle of the gap between that score and the
    next lower one, which alarms the same validation rows (same F1) but keeps test anomalies that
    score a little below the lowest validation anomaly (:func:`_keep_recall`).  With no anomaly
    in the validation range every threshold has F1 = 0, and the one just above the highest
    validation score (no validation alarm) is chosen."""

    uses = "validation labels"
    needs_test_labels = False
    #: declared version of the rule; bump it when the threshold it picks changes
    version = 1

    def select(self, ctx: ThresholdContext) -> float:
        if not np.asarray(ctx.val_labels).any():
            ctx.fallback = NO_ANOMALY_FALLBACK
        return _best_f1(ctx.val_labels, ctx.val_scores)


def _best_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    s = np.asarray(scores, dtype=np.float64)
    if not np.asarray(labels).any():
        return float(np.nextafter(s.max(), np.inf)) if s.size else float("inf")
    thr, f1 = f1_sweep(labels, scores)
    return _keep_recall(thr, f1)


def _keep_recall(thr: np.ndarray, f1: np.ndarray) -> float:
    """The best-F1 threshold of a descending sweep that keeps recall.  Every ``t`` in the gap
    ``(next lower score, best score]`` alarms the same rows, so all tie; the top of the gap (the
    smallest alarmed anomaly score) loses test anomalies just below it: a perfectly ranked set
    then gets F1 < 1 with ROC-AUC 1.  Taking the lowest best candidate and the gap's middle (the
    widest margin on both sides) keeps every tied score alarmed."""
    i = int(np.flatnonzero(f1 == f1.max())[-1])
    if i + 1 == thr.size:
        return float(thr[i])
    mid = 0.5 * (thr[i] + thr[i + 1])
    return float(mid) if thr[i + 1] < mid <= thr[i] else float(thr[i])


class MinCost:
    """The first threshold of ``grid`` (ascending) that minimises the run's first cost model on the
    validation range.  ``grid``: ``linspace:A:B:N``, ``logspace:A:B:N``, ``quantiles:N`` or
    ``values``; by default every distinct validation score (at most 2000 quantiles) plus one
    above the maximum."""

    uses = "validation labels"
    needs_test_labels = False
    #: declared version of the rule; bump it when the threshold it picks changes
    version = 1

    def __init__(self, *, grid: str | None = None):
        if grid:
            parse_grid(grid, np.zeros(1))  # fail on a bad grid before any cell runs
        self.grid = grid

    def select(self, ctx: ThresholdContext) -> float:
        if ctx.cost is None:
            raise BenchError("threshold 'min_cost' needs a cost model; pass --cost event")
        grid = (parse_grid(self.grid, ctx.val_scores) if self.grid
                else candidates(ctx.val_scores))
        if not np.asarray(ctx.val_labels).any():
            # every anomaly-free cost is least with no alarm: the first grid value above the
            # validation scores (no validation alarm)
            ctx.fallback = NO_ANOMALY_FALLBACK
        costs = sweep_cost(ctx.cost, ctx.val_labels, ctx.val_scores, grid)
        return float(grid[int(np.argmin(costs))])


def sweep_cost(cost: Any, labels: np.ndarray, scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cost of ``scores >= t`` for each ``t``: the model's vectorised ``sweep`` when it has one."""
    if hasattr(cost, "sweep"):
        return np.asarray(cost.sweep(labels, scores, grid), dtype=np.float64)
    s = np.asarray(scores)
    return np.array([cost(labels, (s >= t).astype(np.int8)) for t in grid], dtype=np.float64)


class Oracle:
    """ORACLE: the best point-wise F1 threshold chosen on the **test** labels.  An upper bound for
    comparison only; always flagged ORACLE and kept out of the main leaderboard."""

    uses = "TEST LABELS (ORACLE)"
    needs_test_labels = True
    #: declared version of the rule; bump it when the threshold it picks changes
    version = 1

    def select(self, ctx: ThresholdContext) -> float:
        return _best_f1(ctx.test_labels, ctx.test_scores)


@bench.hookimpl
def bench_register_thresholds(register):
    register("mean_std", MeanStd)
    register("percentile", Percentile)
    register("best_f1", BestF1)
    register("min_cost", MinCost)
    register("oracle", Oracle)
