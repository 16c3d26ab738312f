"""Point-wise metrics over alarms: every time step is one sample."""

from __future__ import annotations

import numpy as np

from ._base import check_pred, metric
from .chance import all_alarm_f1, anomaly_rate, majority, one


def confusion(labels: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    """Counts of true positives, false positives, false negatives and true negatives."""
    y, p = check_pred(labels, pred)
    tp = int(np.count_nonzero(y & p))
    fp = int(np.count_nonzero(~y & p))
    fn = int(np.count_nonzero(y & ~p))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": int(y.size - tp - fp - fn)}


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


@metric(higher_is_better=True, input="pred", default=True, label="acc", chance=majority)
def accuracy(labels: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of time steps whose alarm equals the label, ``(tp + tn) / T``, in [0, 1].
    Higher is better.  Dominated by the normal class on imbalanced data."""
    c = confusion(labels, pred)
    return _ratio(c["tp"] + c["tn"], sum(c.values()))


@metric(higher_is_better=True, input="pred", default=True, label="prec", chance=anomaly_rate)
def precision(labels: np.ndarray, pred: np.ndarray) -> float:
    """``tp / (tp + fp)`` over time steps, in [0, 1]; 0 when there is no alarm.
    Higher is better."""
    c = confusion(labels, pred)
    return _ratio(c["tp"], c["tp"] + c["fp"])


@metric(higher_is_better=True, input="pred", default=True, label="rec", chance=one)
def recall(labels: np.ndarray, pred: np.ndarray) -> float:
    """``tp / (tp + fn)`` over time steps, in [0, 1]; 0 when no step is anomalous.
    Higher is better."""
    c = confusion(labels, pred)
    return _ratio(c["tp"], c["tp"] + c["fn"])


@metric(higher_is_better=True, input="pred", default=True, label="F1", chance=all_alarm_f1)
def f1(labels: np.ndarray, pred: np.ndarray) -> float:
    """Harmonic mean of point-wise precision and recall, ``2 tp / (2 tp + fp + fn)``, in [0, 1];
    0 when there is neither an alarm nor an anomaly.  Higher is better."""
    c = confusion(labels, pred)
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])
