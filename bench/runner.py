"""One cell: load, standardise, fit, score, threshold, evaluate.  And the grid of cells."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict
from typing import Any

from . import __version__, store
from .cell import Cell, CellError, Protocol
from .data import Dataset
from .errors import BenchError
from .evaluation import RANGES, _aggregate, evaluate
from .fitting import SeriesResult, _fit_all, fit_and_score, train_rows
from .params import Spec, bind, digest, jsonable
from .plugins import Manager, get_manager

__all__ = ["RANGES", "Cell", "CellError", "Protocol", "SeriesResult", "evaluate", "fit_and_score",
           "train_rows", "run_cell", "load_dataset", "clear_cache", "failed_cell"]


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


