"""The runner's fleet path: a detector that declares the ``fleet`` capability gets every series
of a cell at once (``fit_fleet`` / ``score_fleet``, see :mod:`bench.hookspecs`) instead of one
fresh detector per series, so it can train their models together (the JAX detectors train
them in one compiled program).  The cell's records are the same as the per-series path's."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .cell import Cell, CellError
from .data import Dataset
from .fitting import _check_scores, call, construct, prepare, validation_rows
from .memory import PeakMemory
from .tags import detector_tags

#: ``BENCH_NO_FLEET=1``: every detector runs one series at a time (to compare, or to bound memory)
NO_FLEET_ENV = "BENCH_NO_FLEET"


def can_fleet(factory: Any) -> bool:
    """The factory's tags declare ``fleet=True`` (:class:`bench.DetectorTags`), it has
    ``fit_fleet`` and ``score_fleet``, and :data:`NO_FLEET_ENV` is not set."""
    if os.environ.get(NO_FLEET_ENV, "").strip() not in ("", "0"):
        return False
    return detector_tags(factory).fleet and all(
        callable(getattr(factory, name, None)) for name in ("fit_fleet", "score_fleet"))


def _inputs(factory: Any, ds: Dataset, cell: Cell) -> tuple[list, list, list, list]:
    """Per series: standardised values, training rows and validation rows (``None`` under a
    protocol without a validation range), as the per-series path
    (:func:`bench.fitting.fit_and_score`) gives them to ``fit``; and its protocol notes."""
    full, train, val, notes = [], [], [], []
    for s in ds:
        X, mask, _, note = prepare(factory, s, cell)
        rows = validation_rows(s, cell.protocol)
        full.append(X)
        train.append(X[mask])
        val.append(None if rows is None else X[rows])
        notes += [note] if note else []
    return full, train, val, notes


def fit_fleet_all(factory: Any, params: dict[str, Any], ds: Dataset, cell: Cell,
                  who: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Fit and score every series of ``ds`` as one fleet: (scores by series, test-range
    explanations, timings), as :func:`bench.fitting._fit_all` returns them.  ``fit_s`` and
    ``score_s`` are the fleet's wall times, ``fleet`` the number of series."""
    series = list(ds)
    with PeakMemory() as mem:
        full, train, val, notes = _inputs(factory, ds, cell)
        detector = construct(factory, params, who)
        t0 = time.perf_counter()
        fitted = call(who, f"fit_fleet() on {len(series)} series", detector.fit_fleet, train,
                      X_vals=val, seeds=[cell.seed] * len(series))
        fit_s = time.perf_counter() - t0
        detector = detector if fitted is None else fitted
        t0 = time.perf_counter()
        raw = call(who, f"score_fleet() on {len(series)} series", detector.score_fleet, full)
        if len(raw) != len(series):
            raise CellError(f"{who}: score_fleet() returned {len(raw)} score arrays for "
                            f"{len(series)} series; return one per series, in order")
        scores = {s.name: _check_scores(r, len(s), f"{who} on series '{s.name}'")
                  for s, r in zip(series, raw, strict=True)}
        score_s = time.perf_counter() - t0
        explain = _explain(detector, series, full, cell, who)
    info = {"fit_s": fit_s, "score_s": score_s, "peak_mem_mb": round(mem.peak_mb, 1),
            "retained_mem_mb": round(mem.retained_mb, 1),
            "device": str(getattr(detector, "device_", "cpu")),
            "n_points": int(sum(len(s) for s in series)), "fleet": len(series)}
    compiles = int(getattr(detector, "compiles_", 0) or 0)
    if compiles:
        info["compiles"] = compiles
    if hasattr(detector, "compile_s_"):
        info["compile_s"] = round(float(detector.compile_s_), 3)
    info["harness_window"] = 1  # the fleet path runs only where no harness window applies
    if notes:
        info["protocol_notes"] = notes
    return scores, explain, info


def _explain(detector: Any, series: list, full: list, cell: Cell,
             who: str) -> dict[str, np.ndarray]:
    """Explanations of the rows the protocol evaluates: ``explain_fleet`` when the detector has it, else each member's
    ``explain``; {} when the cell does not ask or the detector cannot."""
    if not cell.explain:
        return {}
    from .fitting import test_rows

    tests = [X[test_rows(s, cell)] for s, X in zip(series, full, strict=True)]
    try:
        if callable(getattr(detector, "explain_fleet", None)):
            got = detector.explain_fleet(tests)
        else:
            members = getattr(detector, "members_", None) or []
            if not all(callable(getattr(m, "explain", None)) for m in members) or not members:
                return {}
            got = [m.explain(x) for m, x in zip(members, tests, strict=True)]
    except Exception as exc:
        raise CellError(f"{who}: explaining the test ranges of the fleet raised "
                        f"{type(exc).__name__}: {exc}") from exc
    out = {}
    for s, x, e in zip(series, tests, got, strict=True):
        e = np.asarray(e, dtype=np.float32)
        if e.shape != (len(x), s.n_features):
            raise CellError(f"{who}: explain() returned shape {e.shape} on series '{s.name}'; "
                            f"it must return [T, F] = ({len(x)}, {s.n_features})")
        out[s.name] = e
    return out
