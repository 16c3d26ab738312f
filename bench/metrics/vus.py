"""Volume under the surface (VUS-ROC, VUS-PR), Paparrizos et al., VLDB 2022.

The reference implementation (the ``vus`` package, ``metricor().RangeAUC_volume_opt``, also inside
TSB-AD) re-scans the series for every (window, threshold) pair: about a minute at 1M points.  This
module computes the same numbers from one sort of the scores: every quantity the reference sums
over the series is a count or a weighted count of the steps whose score reaches a threshold, so it
is read off cumulative sums at the 250 grid thresholds.  Cost: O(T log T) for the sort plus
O(W * (Z + R)) for the W + 1 windows, where R is the number of anomaly ranges and Z the number of
normal steps within ``window // 2`` of one (a few thousand on typical series).
"""

from __future__ import annotations

import numpy as np

from ..params import Interval
from ._base import check_scores, check_window, metric, runs

#: size of the reference implementation's threshold grid (``thre=250``)
N_THRESHOLDS = 250


def vus(labels: np.ndarray, scores: np.ndarray, *, window: int = 100,
        n_thresholds: int = N_THRESHOLDS) -> tuple[float, float]:
    """``(vus_roc, vus_pr)`` of ``scores`` against ``labels``; see :func:`vus_roc`."""
    y, s = check_scores(labels, scores)
    window = check_window("window", window)
    n_thresholds = check_window("n_thresholds", n_thresholds, 1)
    starts, ends = runs(y)
    if starts.size == 0:
        return float("nan"), float("nan")
    grid = _Grid(y, s, n_thresholds)
    ext = _Extension(y, s, starts, ends, window, grid.thr)
    rng = _RangeMax(s, starts, ends, window // 2)
    roc = pr = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for w in range(window + 1):
            a = ext.weighted_alarms(w)
            exist, n_seg = rng.detected(w // 2, grid.thr)
            r, p = _areas(grid, a, exist / n_seg, y.size)
            roc += r
            pr += p
    return float(roc / (window + 1)), float(pr / (window + 1))


class _Grid:
    """The reference's thresholds: the scores at ``linspace(0, T-1, K).astype(int)`` of the
    descending sort; alarms are ``scores >= threshold``."""

    def __init__(self, y: np.ndarray, s: np.ndarray, k: int):
        asc = np.sort(s)
        idx = np.linspace(0, s.size - 1, k).astype(int)
        self.thr = asc[::-1][idx]
        self.n_pred = s.size - np.searchsorted(asc, self.thr, side="left")
        anom = np.sort(s[y])
        self.tp_anom = anom.size - np.searchsorted(anom, self.thr, side="left")
        self.P = int(anom.size)


class _Extension:
    """Normal steps near an anomaly range carry a soft label ``sqrt(1 - d / w)`` for each range
    edge at distance ``1 <= d <= w // 2`` (summed over edges, capped at 1), as in the reference's
    ``sequencing``.  ``weighted_alarms(w)[k]`` is the sum of those labels over the steps alarmed at
    threshold ``k``."""

    def __init__(self, y, s, starts, ends, window, thr):
        h = window // 2
        d = np.arange(1, h + 1)
        t = np.concatenate([(ends[:, None] + d).ravel(), (starts[:, None] - d).ravel()])
        dist = np.concatenate([np.broadcast_to(d, (ends.size, h)).ravel()] * 2)
        ok = (t >= 0) & (t < y.size)
        t, dist = t[ok], dist[ok]
        ok = ~y[t]
        t, dist = t[ok], dist[ok]
        order = np.argsort(dist, kind="stable")
        self.dist = dist[order]
        zone, inv = np.unique(t[order], return_inverse=True)
        self.inv = inv
        zs = s[zone]
        self.rank = np.argsort(-zs, kind="stable")
        zs_asc = np.sort(zs)
        self.count = zs.size - np.searchsorted(zs_asc, thr, side="left")  # zone steps alarmed
        self.n_zone = zone.size

    def weighted_alarms(self, w: int) -> np.ndarray:
        if self.n_zone == 0 or w < 2:
            return np.zeros(self.count.size)
        n = np.searchsorted(self.dist, w // 2, side="right")
        val = np.sqrt(1.0 - self.dist[:n] / w)
        ext = np.minimum(np.bincount(self.inv[:n], weights=val, minlength=self.n_zone), 1.0)
        csum = np.concatenate([[0.0], np.cumsum(ext[self.rank])])
        return csum[self.count]


class _RangeMax:
    """Highest score of each anomaly range widened by ``h`` steps on each side (clipped to the
    series), for every ``h <= hmax``; ranges whose widened spans overlap form one segment."""

    def __init__(self, s, starts, ends, hmax):
        self.starts, self.ends = starts, ends
        core = _range_max(s, starts, ends)
        d = np.arange(1, hmax + 1)
        left = starts[:, None] - d
        right = ends[:, None] + d
        lv = np.where(left >= 0, s[np.clip(left, 0, s.size - 1)], -np.inf)
        rv = np.where(right < s.size, s[np.clip(right, 0, s.size - 1)], -np.inf)
        side = np.maximum.accumulate(np.maximum(lv, rv), axis=1) if hmax else lv
        self.by_h = np.concatenate([core[:, None], np.maximum(side, core[:, None])], axis=1)

    def detected(self, h: int, thr: np.ndarray) -> tuple[np.ndarray, int]:
        """(number of segments whose maximum reaches each threshold, number of segments)."""
        sep = self.ends[:-1] + h < self.starts[1:] - h
        first = np.concatenate([[0], np.flatnonzero(sep) + 1])
        seg = np.sort(np.maximum.reduceat(self.by_h[:, h], first))
        return seg.size - np.searchsorted(seg, thr, side="left"), first.size


def _range_max(s: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Maximum of ``s[a:b+1]`` for each range, by one ``reduceat`` over the starts and ends."""
    bounds = np.stack([starts, ends + 1], axis=1).ravel()
    full = bounds[-1] == s.size
    vals = np.maximum.reduceat(s, bounds[:-1] if full else bounds)
    return vals[::2]


def _areas(g: _Grid, a: np.ndarray, exist_ratio: np.ndarray, T: int) -> tuple[float, float]:
    """ROC and PR areas of one window, exactly as the reference integrates them: trapezoids over
    (FPR, TPR) from (0, 0) through the grid to (1, 1); and sum of recall steps times precision."""
    tp = g.tp_anom + a
    p_new = g.P + a / 2.0
    tpr = np.minimum(tp / p_new, 1.0) * exist_ratio
    fpr = (g.n_pred - tp) / (T - p_new)
    prec = tp / g.n_pred
    tpr_full = np.concatenate([[0.0], tpr, [1.0]])
    fpr_full = np.concatenate([[0.0], fpr, [1.0]])
    roc = float(np.dot(np.diff(fpr_full), (tpr_full[1:] + tpr_full[:-1]) / 2))
    pr = float(np.dot(np.diff(tpr_full[:-1]), prec))
    return roc, pr


@metric(higher_is_better=True, input="scores", label="VUS-ROC", inflating=True,
        constraints={"window": [Interval(int, 0, None)]})
def vus_roc(labels: np.ndarray, scores: np.ndarray, *, window: int = 100) -> float:
    """Volume under the range-ROC surface (Paparrizos et al., "Volume Under the Surface", VLDB
    2022), in [0, 1]; higher is better.

    Each anomaly range is widened by ``w // 2`` steps on each side with soft labels
    ``sqrt(1 - d / w)`` (``d`` = distance to the range), for every ``w`` in ``0..window``.  At each
    of 250 thresholds (the scores at ``linspace(0, T-1, 250)`` of the descending sort; alarms are
    ``scores >= threshold``) the range TPR is ``min(TP / P', 1) * (segments hit / segments)`` with
    ``TP`` the soft true positives and ``P' = (P + soft positives) / 2``, and the FPR is
    ``(alarms - TP) / (T - P')``; the area under the (FPR, TPR) polyline from (0, 0) to (1, 1) is
    averaged over the ``window + 1`` widths.  Matches the authors' reference implementation
    (``vus.metrics.get_metrics(score, labels, metric="vus", slidingWindow=window)``) to 1e-9 on
    the same inputs, threshold grid included.  NaN when no step is anomalous (the reference
    raises) and when every step is (no normal step for the FPR).  ``window`` is the largest width
    in steps (default 100).

    INFLATING (marked ``(!)``): alarms in the widened zone earn soft true positives while ``P'``
    counts only half of the soft labels, so scores unrelated to the labels get a TPR above their
    FPR and a VUS-ROC above 0.5: uniform random scores get 0.55-0.73 on the test ranges of the
    four shipped NAB series (a constant score 0.51-0.56), growing with ``window`` relative to
    the ranges.  That is the published definition, kept so that figures compare with papers;
    read it against the ``random`` row (``bench.metrics.chance.level`` estimates it)."""
    return vus(labels, scores, window=window)[0]


@metric(higher_is_better=True, input="scores", label="VUS-PR",
        constraints={"window": [Interval(int, 0, None)]})
def vus_pr(labels: np.ndarray, scores: np.ndarray, *, window: int = 100) -> float:
    """Volume under the range-PR surface (Paparrizos et al., VLDB 2022), in [0, 1]; higher is
    better.  Same widened soft labels and threshold grid as :func:`vus_roc`; per width, the area is
    ``sum_k (TPR_k - TPR_{k-1}) * precision_k`` with ``precision = TP / alarms`` (TPR_0 = 0), as in
    the reference implementation, averaged over the ``window + 1`` widths.  NaN when no step is
    anomalous.

    Chance: not the anomaly rate but about the *widened* anomaly rate (anomalous steps plus the
    soft labels of the buffer, over ``T``), which a constant score gets exactly: 0.12-0.32 on
    the test ranges of the four shipped NAB series whose anomaly rates are 0.10-0.17; uniform
    random scores get up to 0.02 more.  Tables show the ``random`` and ``constant`` rows beside
    it (``bench.metrics.chance.level`` estimates it from them)."""
    return vus(labels, scores, window=window)[1]
