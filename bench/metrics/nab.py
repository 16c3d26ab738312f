"""The Numenta Anomaly Benchmark score (Lavin and Ahmad, "Evaluating Real-time Anomaly Detection
Algorithms - the Numenta Anomaly Benchmark", ICMLA 2015), as NAB v1.1's ``nab/sweeper.py``
computes it, for one series, by one sort and cumulative sums over every threshold at once.

Each anomaly range of ``labels`` is one NAB label window.  Step ``i`` gets a weight:

* inside window ``[a, b]`` (width ``w = b - a + 1``): ``tpWeight * S(-(b - i + 1) / w) / S(-1)``
  with the scaled sigmoid ``S(x) = 2 / (1 + exp(5 x)) - 1`` (``S(x) = -1`` for ``x >= 3``), so a
  detection at the window's first step earns ``tpWeight`` and later ones less;
* after a window ending at ``b`` (width ``w``) and before the next: ``fpWeight * S((i - b) /
  (w - 1))``, a penalty growing from about 0 to ``-fpWeight`` three widths after the window;
* before the first window: ``-fpWeight``.

Steps of the probation period, the first ``min(floor(p * T), p * 5000)`` (NAB: ``p = 0.15``),
are not scored; a window lying wholly inside it is not counted.  With alarms ``scores >=
threshold``, the raw score is, over counted windows, the weight of the earliest alarmed step of
the window (``-fnWeight`` when none is alarmed), plus the weights of every alarmed step outside
windows.  NAB normalises it as ``100 * (raw - null) / (perfect - null)`` with ``null = -n *
fnWeight`` (no alarm at all) and ``perfect = n * tpWeight`` (an alarm at each window's first step
and nowhere else), ``n`` the number of counted windows.

Differences from NAB's code, on purpose: for a window of width 1, NAB divides by ``w - 1 = 0``
(a ZeroDivisionError); here the divisor is ``max(w - 1, 1)``.  NAB normalises over a whole
corpus; here each series is normalised on its own (the runner averages over series).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import BenchError
from ..params import Interval, Options
from ._base import check_pred, check_scores, metric, runs

#: NAB's ``config/profiles.json`` (numenta/NAB @ ea702d7, MIT licence): weights per profile
PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}
PROBATION = 0.15


def profile_weights(profile: str) -> dict[str, float]:
    try:
        return PROFILES[profile]
    except KeyError:
        raise BenchError(f"NAB profile {profile!r} unknown; use one of "
                         f"{', '.join(PROFILES)}") from None


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        out = 2.0 * (1.0 / (1.0 + np.exp(5.0 * x))) - 1.0
    return np.where(x >= 3.0, -1.0, out)


class NabCurve:
    """NAB's raw score of one series at any threshold.  ``raw(t)`` for an array of thresholds;
    ``best()`` is the highest raw score over every threshold (the sweep of NAB's optimiser:
    each distinct score, and no alarm at all)."""

    def __init__(self, labels: np.ndarray, scores: np.ndarray, *, profile: str = "standard",
                 probation: float = PROBATION):
        if not 0.0 <= probation < 1.0:
            raise BenchError(f"NAB probation must be in [0, 1), got {probation}")
        wts = profile_weights(profile)
        y, s = check_scores(labels, scores)
        T = y.size
        first = min(math.floor(probation * T), probation * 5000)
        starts, ends = runs(y)
        width = ends - starts + 1
        i = np.arange(T)
        k = np.searchsorted(starts, i, side="right") - 1  # last window starting at or before i
        kc = np.maximum(k, 0)
        inside = (k >= 0) & (i <= ends[kc]) if starts.size else np.zeros(T, bool)
        scored = i >= first
        weight = np.full(T, -wts["fpWeight"])
        if starts.size:
            pos_in = -(ends[kc] - i + 1) / width[kc]
            max_tp = _scaled_sigmoid(np.array(-1.0))
            pos_out = np.abs(ends[kc] - i) / np.maximum(width[kc] - 1, 1).astype(np.float64)
            weight = np.where(inside, _scaled_sigmoid(pos_in) * wts["tpWeight"] / max_tp,
                              np.where(k >= 0, _scaled_sigmoid(pos_out) * wts["fpWeight"],
                                       weight))
        self.weight = weight
        counted = ends >= first
        self.n_windows = int(counted.sum())
        self.null = -self.n_windows * wts["fnWeight"]
        self.perfect = self.n_windows * wts["tpWeight"]
        ev_val, ev_delta = [s[scored & ~inside]], [weight[scored & ~inside]]
        v, d = self._window_events(s, weight, inside & scored, k, wts["fnWeight"])
        ev_val.append(v)
        ev_delta.append(d)
        val = np.concatenate(ev_val)
        order = np.argsort(val, kind="stable")
        self._val = val[order]
        # suffix sums: total change of the raw score for thresholds <= each value
        delta = np.concatenate(ev_delta)[order]
        self._delta = delta
        self._suffix = np.concatenate([np.cumsum(delta[::-1])[::-1], [0.0]])
        self._candidates = np.unique(s[scored])

    @staticmethod
    def _window_events(s, weight, mask, k, fn_weight):
        """Each window's contribution is the weight of its earliest alarmed step.  As the
        threshold falls, that step changes only at the running-maximum records of the window's
        scores (left to right); each record contributes one (value, change) event."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return np.empty(0), np.empty(0)
        win = k[idx]
        rank = np.unique(s[idx], return_inverse=True)[1].astype(np.int64)
        key = win.astype(np.int64) * (rank.max() + 1) + rank  # windows in increasing order
        run = np.maximum.accumulate(key)
        new_win = np.r_[True, win[1:] != win[:-1]]
        rec = new_win | (key > np.r_[-1, run[:-1]])
        ri, rw = idx[rec], win[rec]
        last = np.r_[rw[1:] != rw[:-1], True]  # last record of each window: first to be alarmed
        nxt = np.r_[weight[ri][1:], 0.0]
        delta = np.where(last, weight[ri] + fn_weight, weight[ri] - nxt)
        return s[ri], delta

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, changes)``, values ascending: the raw score at threshold ``t`` is
        ``null + sum(changes[values >= t])``.  Summing the events of several series gives the
        corpus curve NAB's optimiser sweeps (:mod:`bench.nab_protocol`)."""
        return self._val, self._delta

    def raw(self, thresholds: np.ndarray) -> np.ndarray:
        """Raw NAB score of the alarms ``scores >= t`` for each ``t``."""
        t = np.asarray(thresholds, dtype=np.float64)
        return self.null + self._suffix[np.searchsorted(self._val, t, side="left")]

    def normalise(self, raw: np.ndarray | float) -> np.ndarray | float:
        """``100 * (raw - null) / (perfect - null)``; NaN when no window is counted."""
        if self.n_windows == 0:
            return np.full(np.shape(raw), np.nan) if np.ndim(raw) else float("nan")
        return 100.0 * (raw - self.null) / (self.perfect - self.null)

    def best(self) -> tuple[float, float]:
        """``(raw score, threshold)`` of the best threshold; ``inf`` threshold = no alarm."""
        cand = np.append(self._candidates, np.inf)
        raw = self.raw(cand)
        j = int(np.argmax(raw[::-1]))  # highest threshold among equals, as NAB's sweep keeps
        return float(raw[::-1][j]), float(cand[::-1][j])


def _picks_threshold(params: dict) -> bool:
    """ORACLE unless a threshold is given: the best threshold is chosen on the scored labels."""
    return params.get("threshold") is None


@metric(higher_is_better=True, input="scores", label="NAB", oracle=_picks_threshold,
        range=(-math.inf, 100.0),
        constraints={"profile": [Options(*PROFILES)],
                     "probation": [Interval(float, 0, 1, closed="left")],
                     "threshold": [Interval(float, None, None), None]})
def nab_score(labels: np.ndarray, scores: np.ndarray, *, profile: str = "standard",
              threshold: float | None = None, probation: float = PROBATION) -> float:
    """Normalised NAB score (Lavin and Ahmad, ICMLA 2015; NAB v1.1's sweeper), 100 = perfect, 0 =
    the null detector (no alarm), negative = worse than no alarm; higher is better.

    Each anomaly range is one NAB window; alarms are ``scores >= threshold``; the weights, the
    probation period and the normalisation are in this module's docstring.  ``profile``:
    ``standard``, ``reward_low_FP_rate`` or ``reward_low_FN_rate`` (NAB's ``profiles.json``).
    ``threshold=None`` takes the best threshold over every distinct score as NAB's optimiser
    does: like NAB's published figures, that threshold is chosen on the scored labels, so it is
    an upper bound, not a deployable result: the metric then declares itself ORACLE and tables
    print it apart.  Chance: no alarm scores 0 by construction; random scores with the best
    threshold score above 0 (NAB's own ``random`` detector: 11.0 standard, NAB v1.1
    scoreboard).  NaN when no window is scored."""
    curve = NabCurve(labels, scores, profile=profile, probation=probation)
    if threshold is None:
        raw, _ = curve.best()
    else:
        raw = float(curve.raw(np.array([threshold]))[0])
    return float(curve.normalise(raw))


def corpus_score(series: list[tuple[np.ndarray, np.ndarray]], threshold: float, *,
                 profile: str = "standard", probation: float = PROBATION) -> float:
    """NAB's normalised score of a whole corpus, as NAB's runner computes a detector's row of its
    scoreboard: the raw scores of the alarms ``scores >= threshold`` summed over every
    ``(labels, scores)`` series, then ``100 * (total - null) / (perfect - null)`` with ``null``
    and ``perfect`` summed over the series too (one threshold for the corpus, not one per
    series).  100 = perfect, 0 = no alarm anywhere; higher is better."""
    total = null = perfect = 0.0
    for labels, scores in series:
        curve = NabCurve(labels, scores, profile=profile, probation=probation)
        total += float(curve.raw(np.array([threshold], dtype=np.float64))[0])
        null += curve.null
        perfect += curve.perfect
    if perfect == null:
        return float("nan")
    return 100.0 * (total - null) / (perfect - null)


def nab_raw(labels: np.ndarray, pred: np.ndarray, *, profile: str = "standard",
            probation: float = PROBATION) -> tuple[float, float, float]:
    """``(raw, null, perfect)`` NAB scores of 0/1 alarms ``pred``."""
    y, p = check_pred(labels, pred)
    curve = NabCurve(y, p.astype(np.float64), profile=profile, probation=probation)
    return float(curve.raw(np.array([1.0]))[0]), curve.null, curve.perfect
