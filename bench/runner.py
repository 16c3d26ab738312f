"""One cell: load, standardise, fit, score, threshold, evaluate.  And the grid of cells."""

from __future__ import annotations

import inspect
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import __version__
from .data import Dataset, Series
from .errors import BenchError
from .memory import PeakMemory
from .metrics import confusion
from .params import Spec, bind, digest, jsonable
from .plugins import Manager, get_manager
from .thresholds import ThresholdContext

RANGES = ("train", "val", "test")


@dataclass(frozen=True)
class Protocol:
    """How a cell trains.  ``train_on``: ``"normal"`` (training rows labelled 0, the default) or
    ``"all"`` training rows.  ``standardize``: scale each feature with the mean and standard
    deviation of the rows the detector trains on."""

    train_on: str = "normal"
    standardize: bool = True

    def __post_init__(self) -> None:
        if self.train_on not in ("normal", "all"):
            raise BenchError(f"train_on must be 'normal' or 'all', got {self.train_on!r}")


@dataclass
class Cell:
    """A picklable description of one (dataset, detector, seed) cell and how to evaluate it."""

    index: int
    dataset: Spec
    detector: Spec
    seed: int = 0
    thresholds: list[Spec] = field(default_factory=lambda: [Spec("min_cost")])
    costs: list[Spec] = field(default_factory=lambda: [Spec("event")])
    metrics: list[str] = field(default_factory=list)
    protocol: Protocol = field(default_factory=Protocol)


class CellError(Exception):
    """A detector or loader broke its contract; the message says how."""


# ----------------------------------------------------------------------------- datasets

_CACHE: dict[tuple[str, str], Dataset] = {}


def load_dataset(manager: Manager, spec: Spec) -> tuple[Dataset, dict[str, Any]]:
    """Build (or reuse from this process's cache) the dataset a spec names."""
    entry = manager.get("dataset", spec.name)
    params = bind("dataset", spec.name, entry.factory, spec.params)
    key = (spec.name, digest(params))
    if key not in _CACHE:
        ds = entry.factory(**params)
        if not isinstance(ds, Dataset):
            raise CellError(f"dataset '{spec.name}' factory returned {type(ds).__name__}, "
                            f"not bench.Dataset")
        _CACHE[key] = ds
    return _CACHE[key], params


def clear_cache() -> None:
    _CACHE.clear()


# ----------------------------------------------------------------------------- one series


def _standardise(s: Series, fit_rows: np.ndarray) -> np.ndarray:
    mu = fit_rows.mean(axis=0, dtype=np.float64)
    sd = fit_rows.std(axis=0, dtype=np.float64)
    sd[~(sd > 0)] = 1.0
    return ((s.values - mu) / sd).astype(np.float32)


def _fit_kwargs(fit: Any, X_val: np.ndarray, seed: int) -> dict[str, Any]:
    try:
        params = inspect.signature(fit).parameters
    except (TypeError, ValueError):
        return {}
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    out: dict[str, Any] = {}
    if "X_val" in params or var_kw:
        out["X_val"] = X_val
    if "seed" in params or var_kw:
        out["seed"] = seed
    return out


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


def fit_and_score(factory: Any, params: dict[str, Any], s: Series, cell: Cell,
                  who: str) -> tuple[SeriesResult, np.ndarray]:
    """Fit a fresh detector on one series' training rows, score every row.  Returns the result
    and the mask of the rows it trained on."""
    r = s.split.ranges(len(s))
    train_mask = np.zeros(len(s), dtype=bool)
    train_mask[r["train"]] = True
    if cell.protocol.train_on == "normal":
        train_mask &= s.labels == 0
    if not train_mask.any():
        raise CellError(f"series '{s.name}': no training rows to fit on "
                        f"(train range {r['train'].stop} steps, protocol train_on="
                        f"{cell.protocol.train_on})")
    X = _standardise(s, s.values[train_mask]) if cell.protocol.standardize else s.values
    detector = factory(**params)
    t0 = time.perf_counter()
    try:
        fitted = detector.fit(X[train_mask], **_fit_kwargs(detector.fit, X[r["val"]], cell.seed))
    except Exception as exc:
        raise CellError(f"{who}: fit() on series '{s.name}' raised "
                        f"{type(exc).__name__}: {exc}") from exc
    fit_s = time.perf_counter() - t0
    if fitted is not None and fitted is not detector:
        detector = fitted
    t0 = time.perf_counter()
    try:
        raw = detector.score(X)
    except Exception as exc:
        raise CellError(f"{who}: score() on series '{s.name}' raised "
                        f"{type(exc).__name__}: {exc}") from exc
    scores = _check_scores(raw, len(s), f"{who} on series '{s.name}'")
    score_s = time.perf_counter() - t0
    device = str(getattr(detector, "device_", "cpu"))
    return SeriesResult(s.name, scores, fit_s, score_s, device), train_mask


# ----------------------------------------------------------------------------- evaluation


def evaluate(s: Series, scores: np.ndarray, train_mask: np.ndarray, strategy: Any,
             cost_models: dict[str, Any], metric_fns: dict[str, Any]) -> dict[str, Any]:
    """Pick one series' threshold with ``strategy`` and evaluate the alarms on its test range."""
    r = s.split.ranges(len(s))
    first_cost = next(iter(cost_models.values()), None)
    ctx = ThresholdContext(
        train_scores=scores[train_mask],
        val_scores=scores[r["val"]],
        val_labels=s.labels[r["val"]],
        cost=first_cost,
        series=s.name,
    )
    if getattr(strategy, "needs_test_labels", False):
        ctx.test_scores, ctx.test_labels = scores[r["test"]], s.labels[r["test"]]
    thr = float(strategy.select(ctx))
    pred = (scores >= thr).astype(np.int8)
    y_test, p_test, s_test = s.labels[r["test"]], pred[r["test"]], scores[r["test"]]
    metrics = {}
    for name, fn in metric_fns.items():
        metrics[name] = float(fn(y_test, s_test if fn.input == "scores" else p_test))
    costs = {
        name: {rng: float(model(s.labels[r[rng]], pred[r[rng]])) for rng in RANGES}
        for name, model in cost_models.items()
    }
    return {"series": s.name, "threshold": thr, "metrics": metrics, "costs": costs,
            "confusion": confusion(y_test, p_test)}


def _aggregate(per_series: list[dict[str, Any]]) -> dict[str, Any]:
    """Macro mean of each metric over series (NaN where a series has none), sum of costs and
    confusion counts."""
    metrics = {}
    for name in per_series[0]["metrics"]:
        vals = np.array([p["metrics"][name] for p in per_series], dtype=np.float64)
        metrics[name] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    costs = {
        name: {rng: float(sum(p["costs"][name][rng] for p in per_series)) for rng in RANGES}
        for name in per_series[0]["costs"]
    }
    conf = {k: int(sum(p["confusion"][k] for p in per_series)) for k in ("tp", "fp", "fn", "tn")}
    return {"metrics": metrics, "costs": costs, "confusion": conf}


# ----------------------------------------------------------------------------- a cell


def cell_key(parts: dict[str, Any]) -> str:
    return digest(parts, 24)


def failed_cell(cell: Cell, status: str, message: str, tb: str = "",
                wall_s: float = 0.0) -> dict[str, Any]:
    """The record entry of a cell that did not finish: ``status`` is ``error``, ``timeout``,
    ``oom``, ``crash`` or ``interrupted``; ``message`` one line saying why."""
    return {
        "index": cell.index,
        "dataset": cell.dataset.name,
        "detector": cell.detector.name,
        "given": jsonable(cell.detector.params),
        "seed": cell.seed,
        "protocol": asdict(cell.protocol),
        "status": status,
        "error": message,
        "traceback": tb,
        "wall_s": wall_s,
    }


def run_cell(cell: Cell, manager: Manager | None = None) -> dict[str, Any]:
    """Run one cell; never raises for a plugin's failure: the record says ``status: error``."""
    manager = manager or get_manager()
    out: dict[str, Any] = {
        "index": cell.index,
        "dataset": cell.dataset.name,
        "detector": cell.detector.name,
        "given": jsonable(cell.detector.params),
        "seed": cell.seed,
        "protocol": asdict(cell.protocol),
        "status": "running",
    }
    phase = "setup"
    t_start = time.perf_counter()
    try:
        det = manager.get("detector", cell.detector.name)
        params = bind("detector", cell.detector.name, det.factory, cell.detector.params)
        out.update(params=jsonable(params), detector_version=det.version,
                   detector_plugin=det.plugin)
        strategies = [(t, manager.get("threshold", t.name)) for t in cell.thresholds]
        strategies = [(t, e, bind("threshold", t.name, e.factory, t.params))
                      for t, e in strategies]
        cost_models = {}
        for c in cell.costs:
            e = manager.get("cost", c.name)
            cost_models[c.name] = e.factory(**bind("cost", c.name, e.factory, c.params))
        metric_fns = {m: manager.get("metric", m).factory for m in cell.metrics}
        phase = "load"
        ds, ds_params = load_dataset(manager, cell.dataset)
        out.update(dataset_params=jsonable(ds_params), dataset_fingerprint=ds.fingerprint(),
                   n_series=len(ds))
        out["key_parts"] = {
            "bench": __version__,
            "detector": [cell.detector.name, det.version, out["params"]],
            "dataset": [cell.dataset.name, out["dataset_params"], ds.fingerprint()],
            "seed": cell.seed,
            "protocol": out["protocol"],
        }
        out["key"] = cell_key(out["key_parts"])
        phase = "detector"
        who = f"detector '{cell.detector.name}'"
        per_thr: list[list[dict[str, Any]]] = [[] for _ in strategies]
        fit_s = score_s = 0.0
        devices = set()
        with PeakMemory() as mem:
            for s in ds:
                res, train_mask = fit_and_score(det.factory, params, s, cell, who)
                fit_s += res.fit_s
                score_s += res.score_s
                devices.add(res.device)
                for i, (_, e, tp) in enumerate(strategies):
                    per_thr[i].append(evaluate(s, res.scores, train_mask, e.factory(**tp),
                                               cost_models, metric_fns))
        out.update(fit_s=fit_s, score_s=score_s, peak_mem_mb=round(mem.peak_mb, 1),
                   device=",".join(sorted(devices)))
        out["evaluations"] = []
        for (t, e, tp), per_series in zip(strategies, per_thr):
            strategy = e.factory(**tp)
            ev = {
                "threshold": t.name,
                "threshold_params": jsonable(tp),
                "chosen_with": strategy.uses,
                "oracle": bool(getattr(strategy, "needs_test_labels", False)),
                **_aggregate(per_series),
                "per_series": per_series,
            }
            out["evaluations"].append(ev)
        out["status"] = "ok"
    except Exception as exc:
        out["status"] = "error"
        msg = str(exc) if isinstance(exc, (BenchError, CellError)) else \
            f"{type(exc).__name__}: {exc}"
        out["error"] = f"{phase}: {msg}"
        out["traceback"] = traceback.format_exc()
    out["wall_s"] = time.perf_counter() - t_start
    return out
