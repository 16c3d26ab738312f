"""Range-based precision and recall, Tatbul et al., "Precision and Recall for Time Series",
NeurIPS 2018.  The ``prts`` package is the authors' reference implementation; these functions
return the same values (checked in ``benchmarks/agreement.py``) in O(T) instead of O(R * P).
"""

from __future__ import annotations

import numpy as np

from ..errors import BenchError
from ..params import Interval, Options
from ._base import check_pred, metric, runs
from .chance import all_alarm_f1, anomaly_rate, one

CARDINALITIES = ("one", "reciprocal")
BIASES = ("flat", "front", "back", "middle")


#: the values the range metrics' parameters accept (checked when a run is planned)
PARAMS = {"alpha": [Interval(float, 0, 1)], "cardinality": [Options(*CARDINALITIES)],
          "bias": [Options(*BIASES)]}


def _check(alpha: float, cardinality: str, bias: str) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise BenchError(f"range metric: alpha must be in [0, 1], got {alpha}")
    if cardinality not in CARDINALITIES:
        raise BenchError(f"range metric: cardinality must be one of {CARDINALITIES}, "
                         f"got {cardinality!r}")
    if bias not in BIASES:
        raise BenchError(f"range metric: bias must be one of {BIASES}, got {bias!r}")


def _cum_bias(x: np.ndarray, n: np.ndarray, bias: str) -> np.ndarray:
    """``sum_{i=1..x} delta(i, n)``: the positional weights of the first ``x`` steps of a range of
    length ``n`` (flat 1; front ``n - i + 1``; back ``i``; middle ``i`` up to ``n / 2`` then
    ``n - i + 1``), in closed form."""
    x = x.astype(np.float64)
    n = n.astype(np.float64)
    if bias == "flat":
        return x
    if bias == "back":
        return x * (x + 1) / 2
    if bias == "front":
        return x * (n + 1) - x * (x + 1) / 2
    m = np.floor(n / 2)
    low = np.minimum(x, m)
    high = np.maximum(x - m, 0)
    return low * (low + 1) / 2 + high * (n + 1) - ((m + high) * (m + high + 1) - m * (m + 1)) / 2


def _side(a_s, a_e, b_s, b_e, alpha, cardinality, bias) -> float:
    """Mean over ranges A of ``alpha * existence + (1 - alpha) * gamma * sum_B omega(A, A & B)``."""
    if a_s.size == 0:
        return 0.0
    lo = np.searchsorted(b_e, a_s, side="left")   # first B ending at or after A's start
    hi = np.searchsorted(b_s, a_e, side="right")  # B's starting at or before A's end
    k = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(a_s.size), k)
    j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + np.repeat(lo, k)
    length = (a_e - a_s + 1)[owner]
    o_s = np.maximum(a_s[owner], b_s[j]) - a_s[owner]      # 0-based offsets inside A
    o_e = np.minimum(a_e[owner], b_e[j]) - a_s[owner]
    total = _cum_bias(length, length, bias)
    omega = (_cum_bias(o_e + 1, length, bias) - _cum_bias(o_s, length, bias)) / total
    overlap = np.bincount(owner, weights=omega, minlength=a_s.size)
    gamma = np.where(k > 1, 1.0 / np.maximum(k, 1), 1.0) if cardinality == "reciprocal" else 1.0
    per = alpha * (k > 0) + (1 - alpha) * gamma * overlap
    return float(per.mean())


def _ranges(labels, pred):
    y, p = check_pred(labels, pred)
    return runs(y), runs(p)


@metric(higher_is_better=True, input="pred", label="R-rec", chance=one,
        constraints=PARAMS)
def range_recall(labels: np.ndarray, pred: np.ndarray, *, alpha: float = 0.0,
                 cardinality: str = "one", bias: str = "flat") -> float:
    """Range-based recall (Tatbul et al., NeurIPS 2018), in [0, 1]; higher is better.

    For each real anomaly range R (a maximal run of 1s in ``labels``, also at either end of the
    series): ``alpha * existence + (1 - alpha) * cardinality * sum_P omega(R, R & P)``, averaged
    over real ranges.  ``existence`` is 1 when any alarm falls in R; ``omega`` is the share of R's
    positional weight (``bias``: ``flat`` 1, ``front`` favours the start, ``back`` the end,
    ``middle`` the centre) covered by the overlap with the alarm range P; ``cardinality`` is 1, or
    with ``"reciprocal"`` ``1 / x`` when R overlaps ``x > 1`` alarm ranges.  Equals ``prts``'
    ``ts_recall``.  0 when there is no alarm (prts raises); NaN when no step is anomalous."""
    _check(alpha, cardinality, bias)
    (rs, re), (ps, pe) = _ranges(labels, pred)
    if rs.size == 0:
        return float("nan")
    return _side(rs, re, ps, pe, alpha, cardinality, bias)


@metric(higher_is_better=True, input="pred", label="R-prec",
        chance=anomaly_rate, constraints=PARAMS)
def range_precision(labels: np.ndarray, pred: np.ndarray, *, alpha: float = 0.0,
                    cardinality: str = "one", bias: str = "flat") -> float:
    """Range-based precision (Tatbul et al., NeurIPS 2018), in [0, 1]; higher is better.

    For each alarm range P (a maximal run of 1s in ``pred``):
    ``alpha * existence + (1 - alpha) * cardinality * sum_R omega(P, P & R)``, averaged over
    alarm ranges; the terms are those of :func:`range_recall` with the roles swapped.  The paper
    fixes ``alpha = 0`` for precision (the default); other values are applied as ``prts``'
    ``ts_precision`` applies them.  0 when there is no alarm (prts raises) or no anomaly."""
    _check(alpha, cardinality, bias)
    (rs, re), (ps, pe) = _ranges(labels, pred)
    if ps.size == 0:
        return 0.0
    return _side(ps, pe, rs, re, alpha, cardinality, bias)


@metric(higher_is_better=True, input="pred", label="R-F1", chance=all_alarm_f1,
        constraints=PARAMS)
def range_f1(labels: np.ndarray, pred: np.ndarray, *, alpha: float = 0.0,
             cardinality: str = "one", bias: str = "flat") -> float:
    """Harmonic mean of :func:`range_precision` (with ``alpha = 0``, as the paper defines it) and
    :func:`range_recall` (with ``alpha``), in [0, 1]; higher is better.  Equals ``prts``'
    ``ts_fscore(p_alpha=0, r_alpha=alpha)``.  0 when both are 0; NaN when no step is
    anomalous."""
    r = range_recall(labels, pred, alpha=alpha, cardinality=cardinality, bias=bias)
    p = range_precision(labels, pred, alpha=0.0, cardinality=cardinality, bias=bias)
    if np.isnan(r):
        return float("nan")
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
