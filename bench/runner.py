"""One cell: load, standardise, fit, score, threshold, evaluate.  And the grid of cells."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, fields, replace
from typing import Any

from . import __version__, codehash, store
from .cell import Cell, CellError, Protocol
from .data import Dataset
from .errors import BenchError
from .evaluation import EVALUATION_VERSION, RANGES, _aggregate, evaluate
from .fitting import SeriesResult, _fit_all, fit_and_score, train_rows
from .params import Spec, bind, digest, jsonable
from .plugins import Manager, get_manager
from .records import CellResult

__all__ = ["RANGES", "Cell", "CellError", "Protocol", "SeriesResult", "evaluate", "fit_and_score",
           "train_rows", "run_cell", "load_dataset", "clear_cache"]


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


def run_cell(cell: Cell, manager: Manager | None = None) -> CellResult:
    """Run one cell; never raises for a plugin's failure: the record says ``status: error``.

    With ``cell.store`` set, scores stored under the cell's fit key are re-evaluated instead of
    refitting (``reused: true``), and freshly computed scores are stored there.
    """
    manager = manager or get_manager()
    out: dict[str, Any] = {}
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
        # the dataset's declared evaluation: its protocol unless the run named one, and what
        # its tables sort by (recorded so that leaderboards read it from the record)
        cell = replace(cell, protocol=cell.protocol.resolve(ds.evaluation.protocol))
        out.update(dataset_title=ds.title, declared=ds.evaluation.to_dict(),
                   headline=ds.evaluation.headline)
        evaluation = evaluation_versions(metric_entries, [e for _, e, _ in strategies],
                                         [manager.get("cost", c.name) for c in cell.costs])
        out["key_parts"] = {
            "bench": __version__,
            "harness_fit": codehash.harness_fit_digest(),
            "detector": [cell.detector.name, det.version, out["params"]],
            "detector_code": codehash.code_digest(det.factory),
            "dataset": [cell.dataset.name, out["dataset_params"], ds.fingerprint()],
            "seed": cell.seed,
            "protocol": asdict(cell.protocol),
            "evaluation": evaluation,
            "metric_code": store.evaluation_key(evaluation),
        }
        fit_parts = {k: v for k, v in out["key_parts"].items()
                     if k not in ("metric_code", "evaluation")}
        out["fit_key"] = cell_key(fit_parts)
        out["key"] = cell_key(out["key_parts"])
        phase = "detector"
        lengths = {s.name: len(s) for s in ds}
        cached, why = (store.load(cell.store, out["fit_key"], lengths)
                       if cell.store and cell.reuse else (None, ""))
        if cell.scores_from:
            cached, why = store.load_file(cell.scores_from, lengths)
            if cached is None:
                raise CellError(f"stored scores {cell.scores_from} cannot be re-evaluated: "
                                f"{why or 'no such file'}")
            out["reevaluated_from"] = cell.scores_from
        elif why:
            out["store_note"] = f"stored scores not reused, refitted: {why}"
        if cached is None:
            scores, explain, info = _fit_all(det.factory, params, ds, cell, det.plugin)
            if cell.store:
                store.save(cell.store, out["fit_key"], store.Stored(scores, explain, info))
            out["reused"] = False
        else:
            scores, info = cached.scores, cached.info
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
        out["status"] = "oom" if _out_of_memory(exc) else "error"
        if isinstance(exc, CellError):  # already names the detector, series and call
            out["error"] = str(exc)
        else:
            msg = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
            out["error"] = f"{phase}: {msg}"
        out["traceback"] = traceback.format_exc()
    out["wall_s"] = time.perf_counter() - t_start
    return _result(cell, out)


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a MemoryError or was caused by one (a CellError wrapping it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _result(cell: Cell, out: dict[str, Any]) -> CellResult:
    """The typed result of a cell from the fields ``run_cell`` gathered; fields that
    :class:`CellResult` does not name (a detector's extra timings) are kept in ``extra``."""
    known = {f.name for f in fields(CellResult)} - {"extra"}
    res = CellResult(index=cell.index, dataset=cell.dataset.name, detector=cell.detector.name,
                     seed=cell.seed, dataset_given=jsonable(cell.dataset.params),
                     given=jsonable(cell.detector.params), protocol=asdict(cell.protocol),
                     **{k: v for k, v in out.items() if k in known})
    res.extra = {k: v for k, v in out.items() if k not in known}
    return res


def evaluation_versions(metrics: list[Any], thresholds: list[Any],
                        costs: list[Any]) -> dict[str, Any]:
    """The declared versions of everything that turns scores into a cell's numbers: the
    evaluation step itself and each metric, threshold strategy and cost model used (their
    ``version`` attribute, 1 when undeclared; a plugin's name is part of the entry so that two
    plugins' metrics of one name never match).  A change of meaning must bump a version; a
    comment or a refactoring does not, so it leaves the regression gate armed."""
    out: dict[str, Any] = {"evaluation": EVALUATION_VERSION}
    for kind, entries in (("metric", metrics), ("threshold", thresholds), ("cost", costs)):
        for e in entries:
            v = getattr(e.factory, "version", 1)
            out[f"{kind}:{e.name}"] = v if not e.plugin or e.plugin in BUILTIN_EVAL_PLUGINS \
                else f"{e.plugin}:{v}"
    return out


#: the built-in plugins of metrics, costs and thresholds
BUILTIN_EVAL_PLUGINS = {"metrics", "costs", "thresholds"}


