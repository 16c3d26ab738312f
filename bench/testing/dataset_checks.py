"""Conformance checks for a dataset factory: one rule each (see detector_checks for the form)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..data import DataError, Dataset, Evaluation
from ..errors import BenchError
from ._core import DataUnavailable, Subject, as_subject
from ._run import run_in_cell
from .detector_checks import check_parameters


def _subject(x: Any) -> Subject:
    s = as_subject(x, "dataset")
    if s.kind != "dataset":
        raise TypeError(f"{s} is not a dataset")
    return s


def _load(s: Subject, rule: str) -> Dataset:
    """The dataset, built once per subject (checks share it)."""
    if "dataset" not in s._cache:
        try:
            ds = s.build()
        except DataError as exc:  # bad values or splits, found as the Dataset was built
            raise s.fail(rule, str(exc), "fix the loader's values or split") from None
        except BenchError as exc:  # missing data, explained: the rule for it is kept
            raise DataUnavailable(f"{s}: data not available here: {exc}") from None
        except Exception as exc:
            raise s.fail(rule, f"loading it raised {type(exc).__name__}: {exc}",
                         "raise bench.BenchError naming the missing file and how to get it"
                         ) from None
        s._cache["dataset"] = ds
    return s._cache["dataset"]


def check_returns_dataset(subject: Any) -> None:
    """The factory returns a :class:`bench.Dataset` named as registered."""
    s, rule = _subject(subject), "the factory returns a bench.Dataset named as registered"
    ds = _load(s, rule)
    if not isinstance(ds, Dataset):
        raise s.fail(rule, f"it returned {type(ds).__name__}", "return bench.Dataset(...)")
    if ds.name != s.name and not s.guessed_name:
        raise s.fail(rule, f"Dataset.name is '{ds.name}'", f"name it '{s.name}'")


def check_labels_align(subject: Any) -> None:
    """Every series: values float32 ``[T, F]``, labels int8 0/1 ``[T]``; the dataset holds at
    least one anomalous step in a test range."""
    s, rule = _subject(subject), "labels align with values"
    ds = _load(s, rule)
    positives = 0
    for ser in ds:
        v, lab = ser.values, ser.labels
        if v.dtype != np.float32 or v.ndim != 2 or len(v) == 0:
            raise s.fail(rule, f"series '{ser.name}': values {v.dtype} {v.shape}",
                         "float32 [T, F] with T > 0")
        if lab.dtype != np.int8 or lab.shape != (len(v),) or not np.isin(lab, (0, 1)).all():
            raise s.fail(rule, f"series '{ser.name}': labels {lab.dtype} {lab.shape} for "
                         f"{len(v)} rows", "int8 0/1, one label per row")
        positives += int(ser.part("test")[1].sum())
    if positives == 0:
        raise s.fail(rule, "no test range holds an anomalous step, so nothing can be evaluated",
                     "check the labels, or move the split")


def check_values_finite(subject: Any) -> None:
    """No value is NaN or infinite (detectors are not asked to impute)."""
    s, rule = _subject(subject), "values are finite"
    for ser in _load(s, rule):
        bad = ~np.isfinite(ser.values)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise s.fail(rule, f"series '{ser.name}': {int(bad.sum())} NaN or infinite values "
                         f"(first at row {row})", "impute or drop them in the loader")


def check_splits(subject: Any) -> None:
    """Train, validation and test ranges are in range, do not overlap, are non-empty, and the
    training range holds normal rows."""
    s, rule = _subject(subject), "splits do not overlap and are in range"
    for ser in _load(s, rule):
        try:
            r = ser.split.ranges(len(ser))
        except BenchError as exc:
            raise s.fail(rule, f"series '{ser.name}': {exc}") from None
        bounds = [(r[k].start, r[k].stop) for k in ("train", "val", "test")]
        if bounds[0][0] != 0 or bounds[-1][1] != len(ser) or any(
                a[1] != b[0] for a, b in zip(bounds[:-1], bounds[1:], strict=True)):
            raise s.fail(rule, f"series '{ser.name}': ranges {bounds} do not tile "
                         f"[0, {len(ser)})", "use bench.Split(train_end, val_end)")
        empty = [k for k, (a, b) in zip(("train", "val", "test"), bounds, strict=True) if b <= a]
        if empty:
            raise s.fail(rule, f"series '{ser.name}' ({len(ser)} rows): empty {empty[0]} range "
                         f"{bounds}", "leave rows for train, validation and test")
        if not (ser.part("train")[1] == 0).any():
            raise s.fail(rule, f"series '{ser.name}': every training row is anomalous",
                         "move train_end so that training holds normal rows")


def check_fingerprint_stable(subject: Any) -> None:
    """Loading twice gives the same fingerprint (16 hex digits)."""
    s, rule = _subject(subject), "the fingerprint is stable"
    first = _load(s, rule).fingerprint()
    again = s.build().fingerprint()
    if not re.fullmatch(r"[0-9a-f]{16}", str(first)):
        raise s.fail(rule, f"fingerprint {first!r} is not 16 hex digits")
    if first != again:
        raise s.fail(rule, f"two loads give fingerprints {first} and {again}",
                     "seed every random choice; sort files before reading them")


def check_metadata(subject: Any) -> None:
    """The dataset has a description, a provenance and a licence."""
    s, rule = _subject(subject), "description, provenance and licence are present"
    ds = _load(s, rule)
    missing = [k for k in ("description", "provenance", "license")
               if not str(getattr(ds, k, "") or "").strip()]
    if missing:
        raise s.fail(rule, f"empty {', '.join(missing)}",
                     "pass bench.Dataset(..., description=, provenance=, license=)")


def check_timestamps(subject: Any) -> None:
    """Timestamps, when given, never go backwards."""
    s, rule = _subject(subject), "timestamps are non-decreasing"
    for ser in _load(s, rule):
        ts = ser.timestamps
        if ts is None or len(ts) < 2:
            continue
        try:
            back = np.asarray(ts[1:] < ts[:-1])
        except TypeError:
            continue
        if back.any():
            raise s.fail(rule, f"series '{ser.name}': timestamp goes back at row "
                         f"{int(np.argmax(back)) + 1}", "sort rows by time")


def check_evaluation_declared_once(subject: Any) -> None:
    """A registered dataset's :class:`bench.Evaluation` is one declaration: the one its
    ``Dataset`` carries (what every cell evaluates with and records) equals the one registered
    with ``register(..., evaluation=)`` (what ``bench list`` shows without loading data); a
    dataset that sets it in only one place, or two different ones, fails, naming each field
    that differs.  A bare factory (no registration) has one place only and passes."""
    s, rule = _subject(subject), "its Evaluation is declared once"
    ds = _load(s, rule)
    if s.meta is None:
        return
    on_dataset = getattr(ds, "evaluation", None) or Evaluation()
    registered = s.meta.get("evaluation") or Evaluation()
    if not isinstance(registered, Evaluation):
        raise s.fail(rule, f"register(..., evaluation=) is a {type(registered).__name__}",
                     "pass a bench.Evaluation")
    a, b = on_dataset.to_dict(), registered.to_dict()
    diff = [f"{k}: Dataset {a.get(k)!r} vs registration {b.get(k)!r}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diff:
        raise s.fail(rule, "; ".join(diff), "define EVALUATION = bench.Evaluation(...) once and "
                     "pass it to both bench.Dataset(..., evaluation=EVALUATION) and "
                     "register(NAME, factory, evaluation=EVALUATION)")


def check_dataset_runs_in_a_cell(subject: Any) -> None:
    """``bench``'s runner evaluates a simple z-score detector on it with status ``ok``."""
    s = _subject(subject)
    _load(s, "runs in a cell")
    cell = run_in_cell(s)
    if cell["status"] != "ok":
        raise s.fail("runs in a cell", f"the cell failed: {cell.get('error', '?')}")


DATASET_CHECKS = [
    check_parameters,
    check_returns_dataset,
    check_labels_align,
    check_values_finite,
    check_splits,
    check_fingerprint_stable,
    check_metadata,
    check_timestamps,
    check_evaluation_declared_once,
    check_dataset_runs_in_a_cell,
]
