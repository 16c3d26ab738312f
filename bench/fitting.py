"""Fitting: standardise a series, fit a fresh detector on its training rows, score every row."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cell import PERIOD_WINDOW, Cell, CellError, Protocol
from .data import Dataset, Series
from .errors import BenchError, checkpoint
from .evaluation import failed_scores
from .memory import PeakMemory
from .params import jsonable
from .period import dominant_period
from .tags import DetectorTags, detector_tags
from .windows import Windowed, runs_of


def _standardise(s: Series, fit_rows: np.ndarray) -> np.ndarray:
    mu = fit_rows.mean(axis=0, dtype=np.float64)
    sd = fit_rows.std(axis=0, dtype=np.float64)
    sd[~(sd > 0)] = 1.0
    return ((s.values - mu) / sd).astype(np.float32)


def _check_scores(scores: Any, n: int, who: str) -> np.ndarray:
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CellError(f"{who}: score() returned something that is not numeric: {exc}") from None
    arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.shape != (n,):
        raise CellError(f"{who}: score() returned shape {arr.shape} for {n} rows; "
                        f"it must return one score per row, shape ({n},)")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise CellError(f"{who}: score() returned {int(bad.sum())} NaN or infinite values of {n} "
                        f"(first at row {int(np.argmax(bad))}); scores must be finite")
    return arr


@dataclass
class SeriesResult:
    name: str
    scores: np.ndarray
    fit_s: float
    score_s: float
    device: str
    explain: np.ndarray | None = None
    compiles: int = 0
    compile_s: float = 0.0  # seconds tracing and compiling (the detector's compile_s_)
    window: int = 1  # rows per harness window (1: none)
    note: str = ""  # how the protocol was applied, when it had to adapt (see _fit_rows)


def train_rows(s: Series, protocol: Protocol, semi: bool = False) -> np.ndarray:
    """Mask of the rows a detector trains on, as its protocol says (:mod:`bench.protocols`):
    every row of the training range (unsupervised, labels unused), only its normal rows
    (semi-supervised: the labels pick them), every row of the series (tsb-ad; its ``tr_N``
    prefix for a detector whose tags declare ``supervision="semi-supervised"``, ``semi=True``)."""
    return protocol.profile.fit_mask(s, semi)


def validation_rows(s: Series, protocol: Protocol) -> slice | None:
    """The rows a detector's ``fit`` gets as ``X_val`` (unlabelled, e.g. for early stopping):
    the protocol's validation range, ``None`` when the protocol has none (``nab``, ``tsb-ad``:
    every row after the fitted ones is scored, so none may steer the fit; a detector then stops
    on a tail of its own training rows, as TSB-AD's LSTMAD does)."""
    return protocol.profile.rows(s)["val"]


def harness_window(factory: Any, protocol: Protocol, s: Series) -> int:
    """Rows per harness window for this detector on this series; 1 = rows as they are.

    A detector that windows itself (its tags' ``windows_itself``) is never wrapped.
    ``protocol.window`` set: that window (``"period"``: the series' dominant period on a
    univariate series, no window on a multivariate one); unset: its tags' ``default_window`` on
    a univariate series (iforest and kde declare 32, the autoencoders' window), else 1."""
    tags = detector_tags(factory)
    if tags.windows_itself:
        return 1
    if protocol.window == PERIOD_WINDOW:
        return dominant_period(s.values) if s.n_features == 1 else 1
    if protocol.window is not None:
        return protocol.window
    return tags.default_window if s.n_features == 1 else 1


def takes_series(factory: Any) -> bool:
    """True when the detector's tags say its ``fit`` takes ``series=NAME`` (the series' name),
    as the ``scores`` detector's does to find its stored scores."""
    return detector_tags(factory).fit_series


def _fit_rows(tags: DetectorTags, s: Series, mask: np.ndarray) -> tuple[np.ndarray, list, str]:
    """(training mask, contiguous runs of it, note) for a detector that windows itself: under a
    mask with gaps (semi-supervised rows removed) it gets only the longest contiguous run, since
    a single ``fit(X)`` would splice its windows across the removed rows; the note says so.  A
    detector whose ``fit`` takes ``segments`` (``fit_segments``) gets every run, with bounds."""
    runs = runs_of(mask)
    if len(runs) <= 1 or not tags.windows_itself or tags.fit_segments:
        return mask, runs, ""
    a, b = max(runs, key=lambda r: r[1] - r[0])
    kept = np.zeros_like(mask)
    kept[a:b] = True
    return kept, [(a, b)], (f"series '{s.name}': fitted on its longest normal run, rows "
                            f"[{a}, {b}) of {int(mask.sum())} normal training rows, so that no "
                            f"window crosses a removed row")


def call(who: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` of a plugin; what it raises becomes a :class:`CellError` naming
    the plugin (``who``) and the call (``what``, e.g. ``fit() on series 'x'``)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise CellError(f"{who}: {what} raised {type(exc).__name__}: {exc}") from exc


def construct(factory: Any, params: dict[str, Any], who: str) -> Any:
    """A fresh detector, or a :class:`CellError` naming the plugin's ``__init__``."""
    try:
        return factory(**params)
    except Exception as exc:
        raise CellError(f"{who}: constructing it with {jsonable(params)} raised "
                        f"{type(exc).__name__}: {exc}; fix the plugin's __init__") from exc


def prepare(factory: Any, s: Series, cell: Cell) -> tuple[np.ndarray, np.ndarray, list, str]:
    """One series as a detector gets it: ``(X, train_mask, runs, note)``: the values
    (standardised with the statistics of the rows it fits, unless the protocol says not to), the
    mask of those rows, their contiguous runs and how the protocol was applied (see
    :func:`_fit_rows`).  A series with no row to fit is a :class:`CellError`."""
    tags = detector_tags(factory)
    mask = train_rows(s, cell.protocol, tags.semi_supervised)
    if not mask.any():
        raise CellError(f"series '{s.name}': no training rows to fit on "
                        f"(train range {s.split.ranges(len(s))['train'].stop} steps, protocol "
                        f"{cell.protocol.name or 'unsupervised'})")
    mask, runs, note = _fit_rows(tags, s, mask)
    X = _standardise(s, s.values[mask]) if cell.protocol.standardize else s.values
    return X, mask, runs, note


def test_rows(s: Series, cell: Cell) -> slice:
    """The rows the cell's protocol evaluates (``tsb-ad``: the whole series; bench's split: its
    test range): what ``explain`` covers, so a heatmap lines up with the evaluated scores."""
    from . import protocols

    return protocols.get(cell.protocol.name).rows(s)["test"]


def fit_and_score(factory: Any, params: dict[str, Any], s: Series, cell: Cell,
                  who: str) -> tuple[SeriesResult, np.ndarray]:
    """Fit a fresh detector on one series' training rows, score every row (and explain the test
    range when the detector can and the cell asks).  Returns the result and the training mask."""
    test = test_rows(s, cell)
    X, train_mask, runs, note = prepare(factory, s, cell)
    detector = construct(factory, params, who)
    # the fit keywords are those of the built detector (a factory function shows none)
    tags = detector_tags(detector)
    val = validation_rows(s, cell.protocol)
    kwargs = tags.fit_kwargs(X_val=None if val is None else X[val], seed=cell.seed)
    window = harness_window(factory, cell.protocol, s)
    offsets = np.cumsum([0] + [b - a for a, b in runs])
    segments = [(int(o), int(o + b - a)) for o, (a, b) in zip(offsets, runs)]
    if window > 1:  # windows of the fitted rows never cross a removed row
        detector = Windowed(detector, window)
        kwargs["segments"] = segments
    elif tags.fit_segments:
        kwargs["segments"] = segments
    if tags.fit_series:  # a detector that replays stored scores (scores) needs the name
        kwargs["series"] = s.name
    t0 = time.perf_counter()
    fitted = call(who, f"fit() on series '{s.name}'", detector.fit, X[train_mask], **kwargs)
    fit_s = time.perf_counter() - t0
    if fitted is not None and fitted is not detector:
        detector = fitted
    t0 = time.perf_counter()
    raw = call(who, f"score() on series '{s.name}'", detector.score, X)
    scores = _check_scores(raw, len(s), f"{who} on series '{s.name}'")
    score_s = time.perf_counter() - t0
    device = str(getattr(detector, "device_", "cpu"))
    explain = None
    if cell.explain and callable(getattr(detector, "explain", None)):
        explain = np.asarray(call(who, f"explain() on series '{s.name}'", detector.explain,
                                  X[test]), dtype=np.float32)
        if explain.shape != (test.stop - test.start, s.n_features):
            raise CellError(f"{who}: explain() returned shape {explain.shape}; it must return "
                            f"[T, F] = ({test.stop - test.start}, {s.n_features})")
    compiles = int(getattr(detector, "compiles_", 0) or 0)
    res = SeriesResult(s.name, scores, fit_s, score_s, device, explain, compiles,
                       float(getattr(detector, "compile_s_", 0.0) or 0.0), window, note)
    return res, train_mask


def _fit_all(factory: Any, params: dict[str, Any], ds: Dataset, cell: Cell,
             plugin: str = "") -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Fit and score every series: (scores by series, test-range explanations, timings).  A
    detector that declares the ``fleet`` capability gets all series at once (bench.fleet) when
    there are several."""
    who = f"detector '{cell.detector.name}'" + (f" (plugin '{plugin}')" if plugin else "")
    from .fleet import can_fleet, fit_fleet_all

    fleet_note = ""
    if len(ds) > 1 and can_fleet(factory) and all(
            harness_window(factory, cell.protocol, s) == 1 for s in ds):
        try:
            scores, explain, info = fit_fleet_all(factory, params, ds, cell, who)
            return scores, explain, _window_notes(info, params, cell)
        except CellError as exc:
            if not cannot_handle(exc):
                raise
            # one series the fleet cannot handle must not fail the others: one at a time
            fleet_note = (f"the fleet failed on a series it cannot handle ({exc}); fitted "
                          f"series by series so that such a series fails alone")
    scores, explain = {}, {}
    fit_s = score_s = 0.0
    devices = set()
    compiles, compile_s = 0, 0.0
    windows, notes = set(), [fleet_note] if fleet_note else []
    failed: list[tuple[str, CellError]] = []
    with PeakMemory() as mem:
        for s in ds:
            checkpoint()  # between series: a safe point for a stop request (bench.session)
            try:
                res, _ = fit_and_score(factory, params, s, cell, who)
            except CellError as exc:
                if not cannot_handle(exc) or len(failed) + 1 == len(ds):
                    raise
                failed.append((s.name, exc))
                scores[s.name] = failed_scores(len(s))  # evaluation records it as failed
                continue
            scores[s.name] = res.scores
            fit_s += res.fit_s
            score_s += res.score_s
            devices.add(res.device)
            compiles += res.compiles
            compile_s += res.compile_s
            windows.add(res.window)
            notes += [res.note] if res.note else []
            if res.explain is not None:
                explain[s.name] = res.explain
    info = {"fit_s": fit_s, "score_s": score_s, "peak_mem_mb": round(mem.peak_mb, 1),
            "retained_mem_mb": round(mem.retained_mb, 1),
            "device": ",".join(sorted(devices)), "n_points": int(sum(len(s) for s in ds))}
    if compiles:
        info["compiles"] = compiles
    if compile_s:
        info["compile_s"] = round(compile_s, 3)
    info["harness_window"] = max(windows, default=1)  # rows per harness window; 1 = none
    if notes:
        info["protocol_notes"] = notes
    info = _window_notes(info, params, cell)
    if failed:
        info["failed_series"] = len(failed)
        info["failed_notes"] = [f"{name}: {exc}" for name, exc in failed[:20]]
    return scores, explain, info


def _window_notes(info: dict[str, Any], params: dict[str, Any], cell: Cell) -> dict[str, Any]:
    """Add to ``info["protocol_notes"]`` whether the scores look ahead: a detector run with
    ``align="centred"`` scores each row with windows that cover rows after it; under a protocol
    that reproduces published columns (tsb-ad), harness windows are causal (each ends at the row
    it scores), which is not how TSB-AD's ``Sub-*`` columns window, so only ``--window 1``
    (point-wise) compares with its point-wise columns."""
    notes = list(info.get("protocol_notes", []))
    if str(params.get("align", "")).startswith("centred"):
        notes.append("scores look ahead: align=centred windows cover rows after the scored row")
    if cell.protocol.profile.fit_note and int(info.get("harness_window", 1) or 1) > 1:
        notes.append(f"harness windows of {info['harness_window']} rows are causal (each ends "
                     f"at the row it scores); TSB-AD's point-wise columns compare at --window 1")
    if notes:
        info["protocol_notes"] = notes
    return info


#: what a detector says when a series is too short (or otherwise the wrong shape) for it
_CANNOT_HANDLE = re.compile(r"too (few|short)|shorter than|fewer than|not enough|at least \d+|"
                            r"smaller (--)?window|expected \d+ (rows|samples)|n_samples|"
                            r"n_neighbors", re.IGNORECASE)


def cannot_handle(exc: CellError) -> bool:
    """Whether a detector's fit or score failed because this series does not suit it (too short
    for its window or its neighbours, the wrong shape): a ``BenchError``, ``ValueError`` or
    ``IndexError`` raised by the plugin whose message says so.  Such a series fails alone (the
    cell records it, counts it and goes on); any other error fails the cell."""
    cause = exc.__cause__
    return (isinstance(cause, (BenchError, ValueError, IndexError))
            and bool(_CANNOT_HANDLE.search(str(cause))))
