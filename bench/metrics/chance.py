"""Chance levels of the metrics: what a detector that learned nothing gets on given labels.

A metric declares its chance level with ``@metric(chance=...)``: a function of the test labels
(``labels -> float``) where a closed form exists, or ``"random"`` to have :func:`level` estimate it
from detectors that learned nothing.  The trivial detectors are the built-in ``random`` (uniform
scores) and ``constant`` (one score: after any threshold, every step alarmed or none).  For a
score metric the level is the better of the expected value of uniform random scores and the
value of a constant score; for an alarm metric the best of alarming every step, no step, and
random alarms at rates 50 %, 10 % and 1 % (each random figure a mean over a few seeds).  A metric
whose level exceeds what a reader expects of its family (ROC-AUC 0.5, precision the anomaly
rate) is marked ``inflating`` and printed with ``(!)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: alarm rates of the random-alarm detectors an alarm metric's chance level considers
ALARM_RATES = (0.5, 0.1, 0.01)
SEEDS = 5


def anomaly_rate(labels: np.ndarray) -> float:
    """Share of anomalous steps ``pi``: chance for precision and PR-AUC (any alarm rate)."""
    y = np.asarray(labels).astype(bool)
    return float(y.mean()) if y.size else float("nan")


def half(labels: np.ndarray) -> float:
    """0.5: ROC-AUC of scores independent of the labels (and of a constant score)."""
    return 0.5


def one(labels: np.ndarray) -> float:
    """1: a recall-type metric, which alarming every step maximises."""
    return 1.0


def all_alarm_f1(labels: np.ndarray) -> float:
    """``2 pi / (1 + pi)``: F1 of alarming every step, the best expected F1 of alarms independent
    of the labels (random alarms at rate ``q`` get ``2 pi q / (pi + q)``, largest at ``q = 1``)."""
    p = anomaly_rate(labels)
    return 2 * p / (1 + p) if p > 0 else float("nan")


def majority(labels: np.ndarray) -> float:
    """``max(pi, 1 - pi)``: accuracy of alarming every step or none."""
    p = anomaly_rate(labels)
    return max(p, 1 - p)


def zero(labels: np.ndarray) -> float:
    """0 steps: the detection delay of alarming every step (lower is better)."""
    return 0.0


def level(fn: Callable[..., float], labels: np.ndarray, **params: Any) -> float:
    """The chance level of metric ``fn`` on ``labels``: its declared closed form, or (``chance=
    "random"``) the best value of the trivial detectors described in this module's docstring."""
    declared = getattr(fn, "chance", "random")
    if callable(declared):
        return float(declared(labels))
    return max(trivial_values(fn, labels, **params).values(),
               key=lambda v: _key(v, getattr(fn, "higher_is_better", True)))


def trivial_values(fn: Callable[..., float], labels: np.ndarray, **params: Any) -> dict[str, float]:
    """``{detector: value}`` of ``fn`` for each trivial detector (random ones: mean over seeds)."""
    y = np.asarray(labels).astype(np.int8)
    n = y.size
    rngs = [np.random.default_rng(seed) for seed in range(SEEDS)]
    if getattr(fn, "input", "pred") == "scores":
        return {"random": _mean([fn(y, r.random(n), **params) for r in rngs]),
                "constant": float(fn(y, np.zeros(n), **params))}
    out = {"all": float(fn(y, np.ones(n, np.int8), **params)),
           "none": float(fn(y, np.zeros(n, np.int8), **params))}
    for q in ALARM_RATES:
        out[f"random {q:g}"] = _mean([fn(y, (r.random(n) < q).astype(np.int8), **params)
                                      for r in rngs])
    return out


def _mean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def _key(v: float, higher_is_better: bool) -> float:
    if np.isnan(v):
        return -np.inf
    return v if higher_is_better else -v
