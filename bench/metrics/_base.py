"""The metric decorator and input checks shared by every metric."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import BenchError


def metric(*, higher_is_better: bool, input: str, default: bool = False, inflating: bool = False,
           label: str | None = None, version: int = 1, chance: Callable | str = "random",
           oracle: Callable | bool = False,
           range: tuple[float, float] = (0.0, 1.0),
           constraints: dict[str, list[Any]] | None = None) -> Callable:
    """Declare a metric's direction and input.

    higher_is_better: direction used by rankings and ``bench compare``.
    input:            ``"pred"`` (0/1 alarms) or ``"scores"`` (float, higher = more anomalous).
    default:          computed in every run unless ``--metric`` names others.
    inflating:        detectors that learned nothing (random, constant) score above what a reader
                      expects of its family; tables mark it with ``(!)``.
    label:            short column header for tables.
    chance:           its chance level: ``labels -> float`` (e.g. ``bench.metrics.chance.half``),
                      or ``"random"`` to estimate it from trivial detectors
                      (:func:`bench.metrics.chance.level`).
    oracle:           the metric chooses something on the labels it scores (a best threshold), so
                      it is an upper bound, printed ORACLE: a bool, or ``params -> bool``.
    range:            the values it can take, ``(low, high)`` (``math.inf`` for an open side);
                      a recorded value outside it is impossible and fails ``bench compare``.
    constraints:      the values its parameters accept, as a detector's
                      ``_parameter_constraints`` (:mod:`bench.params`): ``--metric
                      vus_pr:window=-1`` is then one line before any cell runs.
    version:          declared version of the metric's meaning: bump it whenever its output for
                      some input changes (``tests/test_golden.py`` fails otherwise); results of
                      different versions are never compared.
    """
    if input not in ("pred", "scores"):
        raise ValueError("input must be 'pred' or 'scores'")

    def deco(fn: Callable) -> Callable:
        fn.higher_is_better = higher_is_better
        fn.input = input
        fn.default = default
        fn.inflating = inflating
        fn.label = label or fn.__name__
        fn.version = version
        fn.chance = chance
        fn.oracle = oracle
        fn.range = (float(range[0]), float(range[1]))
        if constraints:
            fn._parameter_constraints = dict(constraints)
        return fn

    return deco


def is_oracle(fn: Callable, params: dict | None = None) -> bool:
    """Whether metric ``fn`` with ``params`` chooses something on the labels it scores (declared
    with ``@metric(oracle=...)``): its value is an upper bound, printed ORACLE."""
    flag = getattr(fn, "oracle", False)
    return bool(flag(dict(params or {})) if callable(flag) else flag)


def check_labels(labels: np.ndarray, other: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    x = np.asarray(other)
    if y.ndim != 1 or x.shape != y.shape:
        raise BenchError(f"labels of shape {y.shape} and {what} of shape {x.shape} must both "
                         f"be [T]")
    return y.astype(bool), x


def check_pred(labels: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = check_labels(labels, pred, "pred")
    return y, p.astype(bool)


def check_scores(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, s = check_labels(labels, scores, "scores")
    s = s.astype(np.float64)
    bad = ~np.isfinite(s)
    if bad.any():
        raise BenchError(
            f"{int(bad.sum())} of {s.size} scores are NaN or infinite (first at index "
            f"{int(np.argmax(bad))}); a detector must return finite scores"
        )
    return y, s


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the maximal runs of True in ``mask``, ``ends`` inclusive, ascending.

    ``runs([0, 1, 1, 0, 1]) == ([1, 4], [2, 4])``.  A run touching either end of the series is
    included."""
    m = np.asarray(mask).astype(np.int8)
    d = np.diff(m, prepend=0, append=0)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return starts, ends


def check_window(name: str, value: int, minimum: int = 0) -> int:
    """A non-negative integer parameter (window, tolerance), or a one-line error naming it."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise BenchError(f"metric parameter {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
