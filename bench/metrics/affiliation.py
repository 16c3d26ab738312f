"""Affiliation precision and recall, Huet, Navarro and Rossi, "Local Evaluation of Time Series
Anomaly Detection Algorithms", KDD 2022.

Step ``i`` flagged 1 is the interval ``[i, i + 1)`` of a continuous time line ``[0, T)``, as in
the authors' implementation (``affiliation-metrics``, also shipped in the ``vus`` package and
TSB-AD).  Each ground-truth event ``J_j`` owns the *affiliation zone* ``E_j``: the points of
``[0, T)`` closer to ``J_j`` than to any other event (boundaries at the midpoints of the gaps).
Inside a zone, a predicted point ``x`` scores the probability that a point drawn uniformly from
``E_j`` lies at least as far from ``J_j`` as ``x`` does (precision); a ground-truth point ``y``
scores the probability that a uniform point of ``E_j`` lies at least as far from ``y`` as the
nearest prediction inside the zone does (recall).  The integrals are piecewise quadratic and are
evaluated in closed form, vectorised over all zones and prediction pieces: O(T) per call.
"""

from __future__ import annotations

import numpy as np

from ._base import check_pred, metric, runs
from .chance import one


def _events(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, e = runs(mask)
    return s.astype(np.float64), (e + 1).astype(np.float64)


def _zones(g0: np.ndarray, g1: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    mid = (g1[:-1] + g0[1:]) / 2
    return np.concatenate([[0.0], mid]), np.concatenate([mid, [float(T)]])


def _pieces(p0, p1, z0, z1):
    """Prediction events cut at zone boundaries: ``(zone, start, stop)`` of each non-empty
    piece, ordered by position."""
    first = np.searchsorted(z1, p0, side="right")  # zone holding p0 (zones are [z0, z1))
    last = np.searchsorted(z0, p1, side="left") - 1  # last zone starting before p1
    k = last - first + 1
    zone = np.repeat(first, k) + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
    a = np.maximum(np.repeat(p0, k), z0[zone])
    b = np.minimum(np.repeat(p1, k), z1[zone])
    ok = a < b
    return zone[ok], a[ok], b[ok]


def _sq_pos(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0) ** 2


def _precision_integral(u, v, j0, j1, e0, e1):
    """``integral_u^v Fbar(dist(x, J)) dx`` for a piece [u, v] in the zone [e0, e1] of J."""
    size = e1 - e0
    # left of J: Fbar = ((x - e0) + max(0, x - (j0 - (e1 - j1)))) / |E|
    lu, lv = u, np.minimum(v, j0)
    c = j0 - (e1 - j1)
    left = np.where(lu < lv, ((lv - e0) ** 2 - (lu - e0) ** 2 + _sq_pos(lv - c) - _sq_pos(lu - c))
                    / 2 / size, 0.0)
    # right of J: Fbar = ((e1 - x) + max(0, (j1 + (j0 - e0)) - x)) / |E|
    ru, rv = np.maximum(u, j1), v
    c2 = j1 + (j0 - e0)
    right_int = (e1 - ru) ** 2 - (e1 - rv) ** 2 + _sq_pos(c2 - ru) - _sq_pos(c2 - rv)
    right = np.where(ru < rv, right_int / 2 / size, 0.0)
    middle = np.maximum(np.minimum(v, j1) - np.maximum(u, j0), 0.0)
    return left + middle + right


def _recall_integral(lo, hi, q0, q1, e0, e1):
    """``integral Fbar_y(dist(y, [q0, q1])) dy`` over ``y`` in ``[lo, hi]`` (part of J in the
    Voronoi cell of the prediction piece [q0, q1]) for the zone [e0, e1]."""
    size = e1 - e0
    # y before the piece (nearest point q0 > y): Fbar = (max(0, 2y - q0 - e0) + (e1 - q0)) / |E|
    u, v = lo, np.minimum(hi, q0)
    c = q0 + e0
    before = np.where(u < v, ((e1 - q0) * (v - u) + (_sq_pos(2 * v - c) - _sq_pos(2 * u - c)) / 4)
                      / size, 0.0)
    # y after the piece (nearest point q1 < y): Fbar = ((q1 - e0) + max(0, e1 + q1 - 2y)) / |E|
    u, v = np.maximum(lo, q1), hi
    c2 = e1 + q1
    after = np.where(u < v, ((q1 - e0) * (v - u) + (_sq_pos(c2 - 2 * u) - _sq_pos(c2 - 2 * v)) / 4)
                     / size, 0.0)
    inside = np.maximum(np.minimum(hi, q1) - np.maximum(lo, q0), 0.0)
    return before + inside + after


def affiliation(labels: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """``(precision, recall)``; see :func:`affiliation_precision`."""
    y, p = check_pred(labels, pred)
    g0, g1 = _events(y)
    if g0.size == 0:
        return float("nan"), float("nan")
    p0, p1 = _events(p)
    z0, z1 = _zones(g0, g1, y.size)
    zone, a, b = _pieces(p0, p1, z0, z1)
    if zone.size == 0:
        return 0.0, 0.0
    n = g0.size
    e0, e1, j0, j1 = z0[zone], z1[zone], g0[zone], g1[zone]
    num = np.bincount(zone, _precision_integral(a, b, j0, j1, e0, e1), minlength=n)
    length = np.bincount(zone, b - a, minlength=n)
    has = length > 0
    precision = float(np.mean(num[has] / length[has]))
    # Voronoi cells of the pieces inside each zone
    same_prev = np.r_[False, zone[1:] == zone[:-1]]
    same_next = np.r_[zone[:-1] == zone[1:], False]
    cell_lo = np.where(same_prev, (np.r_[0.0, b[:-1]] + a) / 2, e0)
    cell_hi = np.where(same_next, (b + np.r_[a[1:], 0.0]) / 2, e1)
    lo, hi = np.maximum(cell_lo, j0), np.minimum(cell_hi, j1)
    rec = np.where(lo < hi, _recall_integral(lo, hi, a, b, e0, e1), 0.0)
    recall = float(np.mean(np.bincount(zone, rec, minlength=n) / (g1 - g0)))
    return precision, recall


@metric(higher_is_better=True, input="pred", label="Aff-prec", inflating=True)
def affiliation_precision(labels: np.ndarray, pred: np.ndarray) -> float:
    """Affiliation precision (Huet et al., KDD 2022), in [0, 1]; higher is better.

    Mean, over the affiliation zones that hold an alarm, of the average over the zone's alarmed
    time of ``P(dist(X, J) >= dist(x, J))`` for ``X`` uniform in the zone (definitions in this
    module's docstring).  An alarm on the event scores 1; one at the far edge of the zone about 0;
    random alarms about 0.5.  Matches the authors' ``pr_from_events`` on the same events.  0 when
    there is no alarm (the reference returns NaN); NaN when no step is anomalous (it raises).
    INFLATING (marked ``(!)``): its chance level is about 0.5 by design, not the anomaly rate."""
    return affiliation(labels, pred)[0]


@metric(higher_is_better=True, input="pred", label="Aff-rec", chance=one)
def affiliation_recall(labels: np.ndarray, pred: np.ndarray) -> float:
    """Affiliation recall (Huet et al., KDD 2022), in [0, 1]; higher is better.

    Mean over ground-truth events of the average over the event's time of ``P(|X - y| >=
    dist(y, alarms in the zone))`` for ``X`` uniform in the event's affiliation zone; an event
    whose zone holds no alarm scores 0.  NaN when no step is anomalous."""
    return affiliation(labels, pred)[1]


@metric(higher_is_better=True, input="pred", label="Aff-F1", inflating=True)
def affiliation_f1(labels: np.ndarray, pred: np.ndarray) -> float:
    """Harmonic mean of :func:`affiliation_precision` and :func:`affiliation_recall`, in [0, 1];
    higher is better.  0 when both are 0; NaN when no step is anomalous.

    INFLATING (marked ``(!)``): by design (Huet et al. 2022, sec. 4) random alarms get an
    affiliation precision of about 0.5 and a recall near 1, so alarms unrelated to the labels
    score about 0.67 (0.67-0.69 measured on the shipped data), not 0.  Read it against the
    ``random`` row (``bench.metrics.chance.level``)."""
    p, r = affiliation(labels, pred)
    if np.isnan(r):
        return float("nan")
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
