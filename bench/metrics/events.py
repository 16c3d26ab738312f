"""Event-wise metrics over alarms: an anomaly range is one event, a run of alarms is one alarm.

Definitions shared by this module (``labels`` and ``pred`` are 0/1 of length T):

* an *anomaly range* is a maximal run of 1s in ``labels``, ``[a, b]`` inclusive, including runs
  touching index 0 or T - 1;
* an *alarm run* is a maximal run of 1s in ``pred``;
* with a tolerance ``k >= 0``, range ``[a, b]`` is *detected* when some alarm ``t`` satisfies
  ``a - k <= t <= b + k`` (the widened range is clipped to the series, which only matters for
  ranges near either end: an alarm cannot fall outside ``[0, T - 1]``);
* an alarm run is *false* when none of its steps lies in any widened range ``[a - k, b + k]``.
"""

from __future__ import annotations

import numpy as np

from ..params import Interval
from ._base import check_pred, check_window, metric, runs
from .chance import all_alarm_f1, one, zero


#: event metrics' tolerance: whole steps >= 0
TOLERANCE = {"tolerance": [Interval(int, 0, None)]}


def _widen(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` dilated by ``k`` steps on each side (clipped to the series), by a difference
    array in O(T)."""
    if k == 0:
        return mask.copy()
    s, e = runs(mask)
    d = np.zeros(mask.size + 1, dtype=np.int64)
    np.add.at(d, np.maximum(s - k, 0), 1)
    np.add.at(d, np.minimum(e + k + 1, mask.size), -1)
    return np.cumsum(d[:-1]) > 0


def _hits(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each ``[start, end]`` (inclusive, clipped) holds a True of ``mask``, by a prefix
    sum."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    lo = np.clip(starts, 0, mask.size)
    hi = np.clip(ends + 1, 0, mask.size)
    return c[hi] - c[lo] > 0


def event_counts(labels: np.ndarray, pred: np.ndarray, *, tolerance: int = 0) -> dict[str, int]:
    """``{"ranges", "detected", "alarm_runs", "false_runs"}`` under the module's definitions."""
    y, p = check_pred(labels, pred)
    k = check_window("tolerance", tolerance)
    rs, re = runs(y)
    ps, pe = runs(p)
    detected = int(_hits(p, rs - k, re + k).sum())
    false_runs = int((~_hits(_widen(y, k), ps, pe)).sum())
    return {"ranges": int(rs.size), "detected": detected, "alarm_runs": int(ps.size),
            "false_runs": false_runs}


@metric(higher_is_better=True, input="pred", label="ev-rec", chance=one,
        constraints=TOLERANCE)
def event_recall(labels: np.ndarray, pred: np.ndarray, *, tolerance: int = 0) -> float:
    """Share of anomaly ranges detected: an alarm falls inside the range or within ``tolerance``
    steps of either end (see the module docstring), in [0, 1]; higher is better.  NaN when no
    step is anomalous."""
    c = event_counts(labels, pred, tolerance=tolerance)
    return c["detected"] / c["ranges"] if c["ranges"] else float("nan")


@metric(higher_is_better=True, input="pred", label="ev-prec", chance=one,
        constraints=TOLERANCE)
def event_precision(labels: np.ndarray, pred: np.ndarray, *, tolerance: int = 0) -> float:
    """Share of alarm runs that are not false: a run is false when none of its steps lies inside
    an anomaly range or within ``tolerance`` steps of one, in [0, 1]; higher is better.  0 when
    there is no alarm."""
    c = event_counts(labels, pred, tolerance=tolerance)
    if not c["alarm_runs"]:
        return 0.0
    return 1.0 - c["false_runs"] / c["alarm_runs"]


@metric(higher_is_better=True, input="pred", label="ev-F1", version=2, chance=all_alarm_f1,
        constraints=TOLERANCE)
def event_f1(labels: np.ndarray, pred: np.ndarray, *, tolerance: int = 0) -> float:
    """Composite F1 (Garg et al., "An Evaluation of Anomaly Detection and Diagnosis in
    Multivariate Time Series", IEEE TNNLS 2021, eq. 4): the harmonic mean of the *point-wise*
    precision ``tp / (tp + fp)`` over time steps and the *event-wise* recall
    (:func:`event_recall`: share of anomaly ranges with an alarm inside or within ``tolerance``
    steps), in [0, 1]; higher is better.  0 when both are 0; NaN when no step is anomalous.

    Event precision (:func:`event_precision`) is deliberately not used: a detector alarming every
    step raises one alarm run that overlaps every range, so event precision and recall are both 1
    and their harmonic mean rewards it with 1.000.  With point-wise precision that detector gets
    ``2 pi / (1 + pi)`` (``pi`` = anomaly rate), the chance level of point-wise F1."""
    r = event_recall(labels, pred, tolerance=tolerance)
    if np.isnan(r):
        return float("nan")
    y, p = check_pred(labels, pred)
    alarms = int(np.count_nonzero(p))
    prec = np.count_nonzero(p & y) / alarms if alarms else 0.0
    return 2 * prec * r / (prec + r) if prec + r > 0 else 0.0


@metric(higher_is_better=True, input="pred", inflating=True, label="PA-F1")
def point_adjusted_f1(labels: np.ndarray, pred: np.ndarray) -> float:
    """Point-wise F1 after point adjustment, in [0, 1]; higher is better, but INFLATING.

    Point adjustment (Xu et al., WWW 2018; used by OmniAnomaly, USAD, ...): when any step of an
    anomaly range is alarmed, every step of that range counts as detected; the F1 is then computed
    point-wise.  Kim et al. (AAAI 2022, "Towards a Rigorous Evaluation of Time-Series Anomaly
    Detection") show that it overstates quality: random scores reach a high PA-F1.  Reported for
    comparison with published numbers only; tables mark it ``(!)``.  0 when there is neither an
    alarm nor an anomaly."""
    y, p = check_pred(labels, pred)
    s, e = runs(y)
    hit = _hits(p, s, e)
    adj = p.copy()
    if hit.any():
        d = np.zeros(y.size + 1, dtype=np.int64)
        np.add.at(d, s[hit], 1)
        np.add.at(d, e[hit] + 1, -1)
        adj |= np.cumsum(d[:-1]) > 0
    tp = int(np.count_nonzero(adj & y))
    fp = int(np.count_nonzero(adj & ~y))
    fn = int(np.count_nonzero(~adj & y))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def detection_delays(labels: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """For each anomaly range with at least one alarm inside it, the steps from its first step
    to its first alarm (0 = alarmed at onset); ranges without an alarm are left out."""
    y, p = check_pred(labels, pred)
    s, e = runs(y)
    alarms = np.flatnonzero(p)
    first = np.searchsorted(alarms, s, side="left")
    ok = first < alarms.size
    delay = np.full(s.size, -1, dtype=np.int64)
    delay[ok] = alarms[first[ok]] - s[ok]
    inside = ok & (s + delay <= e)
    return delay[inside]


@metric(higher_is_better=False, input="pred", label="delay", chance=zero,
        range=(0.0, float("inf")))
def detection_delay(labels: np.ndarray, pred: np.ndarray) -> float:
    """Mean detection delay in time steps over the detected anomaly ranges: for each range with
    an alarm inside it, the number of steps from the range's first step to its first alarm (0 =
    alarmed at onset).  Lower is better.  Ranges with no alarm inside are not counted (see
    :func:`event_recall` for how many those are); NaN when no range is detected."""
    d = detection_delays(labels, pred)
    return float(d.mean()) if d.size else float("nan")
