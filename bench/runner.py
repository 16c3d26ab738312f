"""One cell: load, standardise, fit, score, threshold, evaluate.  And the grid of cells."""

from __future__ import annotations

import inspect
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import __version__, store
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
    store: str | None = None  # score store directory; None = neither reuse nor save scores
    explain: bool = True  # store explain() of the test range when the detector has it
    reuse: bool = True  # re-evaluate stored scores instead of refitting when they exist


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
    explain: np.ndarray | None = None
    compiles: int = 0


def train_rows(s: Series, protocol: Protocol) -> np.ndarray:
    """Mask of the rows a detector trains on: the training range, its normal rows by default."""
    mask = np.zeros(len(s), dtype=bool)
    mask[s.split.ranges(len(s))["train"]] = True
    if protocol.train_on == "normal":
        mask &= s.labels == 0
    return mask


def fit_and_score(factory: Any, params: dict[str, Any], s: Series, cell: Cell,
                  who: str) -> tuple[SeriesResult, np.ndarray]:
    """Fit a fresh detector on one series' training rows, score every row (and explain the test
    range when the detector can and the cell asks).  Returns the result and the training mask."""
    r = s.split.ranges(len(s))
    train_mask = train_rows(s, cell.protocol)
    if not train_mask.any():
        raise CellError(f"series '{s.name}': no training rows to fit on "
                        f"(train range {r['train'].stop} steps, protocol train_on="
                        f"{cell.protocol.train_on})")
    X = _standardise(s, s.values[train_mask]) if cell.protocol.standardize else s.values
    try:
        detector = factory(**params)
    except Exception as exc:
        raise CellError(f"{who}: constructing it with {jsonable(params)} raised "
                        f"{type(exc).__name__}: {exc}; fix the plugin's __init__") from exc
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
    explain = None
    if cell.explain and callable(getattr(detector, "explain", None)):
        try:
            explain = np.asarray(detector.explain(X[r["test"]]), dtype=np.float32)
        except Exception as exc:
            raise CellError(f"{who}: explain() on series '{s.name}' raised "
                            f"{type(exc).__name__}: {exc}") from exc
        if explain.shape != (r["test"].stop - r["test"].start, s.n_features):
            raise CellError(f"{who}: explain() returned shape {explain.shape}; it must return "
                            f"[T, F] = ({r['test'].stop - r['test'].start}, {s.n_features})")
    compiles = int(getattr(detector, "compiles_", 0) or 0)
    return SeriesResult(s.name, scores, fit_s, score_s, device, explain, compiles), train_mask


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
    """Run one cell; never raises for a plugin's failure: the record says ``status: error``.

    With ``cell.store`` set, scores stored under the cell's fit key are re-evaluated instead of
    refitting (``reused: true``), and freshly computed scores are stored there.
    """
    manager = manager or get_manager()
    out: dict[str, Any] = {
        "index": cell.index,
        "dataset": cell.dataset.name,
        "dataset_given": jsonable(cell.dataset.params),
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
        cost_models, compute_models = {}, {}
        for c in cell.costs:
            e = manager.get("cost", c.name)
            model = e.factory(**bind("cost", c.name, e.factory, c.params))
            # compute models price a cell's timings; the others cost its alarms per range
            (compute_models if e.meta.get("kind") == "compute" else cost_models)[c.name] = model
        metric_entries = [manager.get("metric", m) for m in cell.metrics]
        metric_fns = {e.name: e.factory for e in metric_entries}
        phase = "load"
        ds, ds_params = load_dataset(manager, cell.dataset)
        out.update(dataset_params=jsonable(ds_params), dataset_fingerprint=ds.fingerprint(),
                   n_series=len(ds))
        third_party = {e.name: f"{e.plugin}=={e.version}" for e in
                       [*metric_entries, *(e for _, e, _ in strategies)]
                       + [manager.get("cost", c.name) for c in cell.costs]
                       if not e.plugin or e.plugin not in BUILTIN_EVAL_PLUGINS}
        out["key_parts"] = {
            "bench": __version__,
            "metric_code": store.metric_code_version(third_party),
            "detector": [cell.detector.name, det.version, out["params"]],
            "dataset": [cell.dataset.name, out["dataset_params"], ds.fingerprint()],
            "seed": cell.seed,
            "protocol": out["protocol"],
        }
        fit_parts = {k: v for k, v in out["key_parts"].items() if k != "metric_code"}
        out["fit_key"] = cell_key(fit_parts)
        out["key"] = cell_key(out["key_parts"])
        phase = "detector"
        cached = store.load(cell.store, out["fit_key"]) if cell.store and cell.reuse \
            else None
        if cached is not None and set(cached[0]) != {s.name for s in ds}:
            cached = None
        if cached is None:
            scores, explain, info = _fit_all(det.factory, params, ds, cell, det.plugin)
            if cell.store:
                store.save(cell.store, out["fit_key"], scores, info, explain)
            out["reused"] = False
        else:
            scores, info, explain = cached
            out["reused"] = True
        out.update(info)
        if compute_models:
            out["compute"] = {name: m(out) for name, m in compute_models.items()}
        if cell.store:
            out["scores_file"] = str(store.path_for(cell.store, out["fit_key"]))
        phase = "evaluate"
        out["evaluations"] = []
        for t, e, tp in strategies:
            per_series = []
            for s in ds:
                mask = train_rows(s, cell.protocol)
                per_series.append(evaluate(s, scores[s.name], mask, e.factory(**tp),
                                           cost_models, metric_fns))
            strategy = e.factory(**tp)
            out["evaluations"].append({
                "threshold": t.name,
                "threshold_params": jsonable(tp),
                "chosen_with": strategy.uses,
                "oracle": bool(getattr(strategy, "needs_test_labels", False)),
                **_aggregate(per_series),
                "per_series": per_series,
            })
        out["status"] = "ok"
    except Exception as exc:
        out["status"] = "error"
        if isinstance(exc, CellError):  # already names the detector, series and call
            out["error"] = str(exc)
        else:
            msg = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
            out["error"] = f"{phase}: {msg}"
        out["traceback"] = traceback.format_exc()
    out["wall_s"] = time.perf_counter() - t_start
    return out


#: plugins whose metrics, costs and thresholds are covered by the metric code digest
BUILTIN_EVAL_PLUGINS = {"metrics", "costs", "thresholds"}


def _fit_all(factory: Any, params: dict[str, Any], ds: Dataset, cell: Cell,
             plugin: str = "") -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Fit and score every series: (scores by series, test-range explanations, timings)."""
    who = f"detector '{cell.detector.name}'" + (f" (plugin '{plugin}')" if plugin else "")
    scores, explain = {}, {}
    fit_s = score_s = 0.0
    devices = set()
    compiles = 0
    with PeakMemory() as mem:
        for s in ds:
            res, _ = fit_and_score(factory, params, s, cell, who)
            scores[s.name] = res.scores
            fit_s += res.fit_s
            score_s += res.score_s
            devices.add(res.device)
            compiles += res.compiles
            if res.explain is not None:
                explain[s.name] = res.explain
    info = {"fit_s": fit_s, "score_s": score_s, "peak_mem_mb": round(mem.peak_mb, 1),
            "device": ",".join(sorted(devices)), "n_points": int(sum(len(s) for s in ds))}
    if compiles:
        info["compiles"] = compiles
    return scores, explain, info
