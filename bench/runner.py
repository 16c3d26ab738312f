"""One cell, in four phases: resolve (plugins, dataset, the plan it runs), keys (what its scores
and numbers are keyed by), fit or reuse (scores), evaluate (one :class:`EvaluationResult` per
threshold strategy).  Whatever a phase raises becomes the cell's status through one
:class:`Outcome` (pytest's ``CallInfo.from_call``)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from . import __version__, codehash, store
from .cell import Cell, CellError, Protocol
from .data import Dataset
from .errors import BenchError
from .evalresult import CellPlan, EvaluationResult
from .evaluation import (
    EVALUATION_VERSION,
    RANGES,
    _aggregate,
    dataset_metrics,
    evaluate,
    threshold_label,
)
from .fitting import SeriesResult, _fit_all, fit_and_score, train_rows
from .params import Spec, bind, digest, jsonable, parse_spec
from .plugins import Manager, get_manager
from .recordmeta import describe
from .records import CellResult

__all__ = ["RANGES", "Cell", "CellError", "Outcome", "Protocol", "Resolved", "SeriesResult",
           "evaluate", "fit_and_score", "train_rows", "run_cell", "load_dataset", "clear_cache"]


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


def cell_key(parts: dict[str, Any]) -> str:
    return digest(parts, 24)


# ----------------------------------------------------------------------------- the outcome


@dataclass
class Outcome:
    """What calling a phase gave: its value, or the status, one-line error and traceback of the
    exception it raised (``oom`` for a MemoryError anywhere in the chain, else ``error``)."""

    value: Any = None
    status: str = "ok"
    error: str = ""
    traceback: str = ""

    @classmethod
    def from_call(cls, fn: Callable[[], Any], phase: Callable[[], str] = lambda: "") -> Outcome:
        try:
            return cls(fn())
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is its cell's status
            status = "oom" if _out_of_memory(exc) else "error"
            if isinstance(exc, CellError):  # already names the detector, series and call
                msg = str(exc)
            else:
                text = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
                msg = f"{phase()}: {text}"
            return cls(None, status, msg, traceback.format_exc())

    def apply(self, res: CellResult) -> CellResult:
        res.status, res.error, res.traceback = self.status, self.error, self.traceback
        return res


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a MemoryError or was caused by one (a CellError wrapping it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# ----------------------------------------------------------------------------- a cell


def run_cell(cell: Cell, manager: Manager | None = None) -> CellResult:
    """Run one cell; never raises for a plugin's failure: the result says ``status: error``.

    With ``cell.store`` set, scores stored under the cell's fit key are re-evaluated instead of
    refitting (``reused: true``), and freshly computed scores are stored there; with
    ``cell.scores_from``, that stored file's scores are re-evaluated.
    """
    manager = manager or get_manager()
    t0 = time.perf_counter()
    res = CellResult.of(cell)
    at = ["setup"]

    def phases() -> None:
        r = resolve(cell, manager, res, at)
        keys(r, res)
        at[0] = "detector"
        scores = fit_or_reuse(r, res)
        at[0] = "evaluate"
        res.evaluations = evaluate_all(r, scores)

    outcome = Outcome.from_call(phases, lambda: at[0])
    res.wall_s = time.perf_counter() - t0
    return outcome.apply(res)


@dataclass
class Resolved:
    """A cell's plugins, dataset and plan, resolved once."""

    cell: Cell
    detector: Any
    params: dict[str, Any]
    dataset: Dataset
    strategies: list[tuple[Spec, Any, dict[str, Any]]]
    cost_models: dict[str, Any] = field(default_factory=dict)
    compute_models: dict[str, Any] = field(default_factory=dict)
    metric_entries: list[Any] = field(default_factory=list)
    cost_entries: list[Any] = field(default_factory=list)


def resolve(cell: Cell, manager: Manager, res: CellResult, at: list[str]) -> Resolved:
    """Phase 1: the detector and its bound parameters, the dataset (its declared
    :class:`bench.Evaluation` is the one source of the protocol, threshold, cost and headline a
    run did not name), and the plan the cell runs, recorded in ``res.plan``."""
    det = manager.get("detector", cell.detector.name)
    params = bind("detector", cell.detector.name, det.factory, cell.detector.params)
    res.params, res.detector_version, res.detector_plugin = (jsonable(params), det.version,
                                                             det.plugin)
    at[0] = "load"
    ds, ds_params = load_dataset(manager, cell.dataset)
    res.dataset_params, res.dataset_fingerprint = jsonable(ds_params), ds.fingerprint()
    res.n_series = len(ds)
    at[0] = "setup"
    cell = planned(cell, ds.evaluation)
    strategies = [(t, manager.get("threshold", t.name)) for t in cell.thresholds]
    r = Resolved(cell, det, params, ds, [(t, e, bind("threshold", t.name, e.factory, t.params))
                                         for t, e in strategies])
    for c in cell.costs:
        e = manager.get("cost", c.name)
        r.cost_entries.append(e)
        # compute models price a cell's timings; the others cost its alarms per range
        kind = r.compute_models if e.meta.get("kind") == "compute" else r.cost_models
        kind[c.name] = e.factory(**bind("cost", c.name, e.factory, c.params))
    r.metric_entries = [manager.get("metric", m) for m in cell.metrics]
    res.protocol = asdict(cell.protocol)
    res.plan = CellPlan([str(t) for t in cell.thresholds], [str(c) for c in cell.costs],
                        list(cell.metrics), asdict(cell.protocol),
                        {**ds.evaluation.to_dict(), "gated": list(_gated(ds.evaluation))},
                        ds.title)
    res.used = describe(manager, metrics=cell.metrics, costs=[c.name for c in cell.costs],
                        thresholds=[t.name for t in cell.thresholds],
                        detectors=[cell.detector.name])
    return r


def _gated(ev: Any) -> tuple[str, ...]:
    return tuple(getattr(ev, "gated", ()) or ())


def planned(cell: Cell, declared: Any) -> Cell:
    """``cell`` with what the run left to its dataset filled from the dataset's declared
    evaluation: the protocol's name, the threshold strategy (when none was named), its cost
    model (when no cost of that name was named), and its headline and thresholded metrics
    (always computed)."""
    thresholds = list(cell.thresholds) or [parse_spec(declared.threshold)]
    costs = list(cell.costs)
    if declared.cost and parse_spec(declared.cost).name not in {c.name for c in costs}:
        costs.append(parse_spec(declared.cost))
    metrics = list(cell.metrics)
    for m in (declared.headline, declared.thresholded, *_gated(declared)):
        if m and not m.startswith("cost:") and m not in metrics:
            metrics.append(m)
    return replace(cell, thresholds=thresholds, costs=costs, metrics=metrics,
                   protocol=cell.protocol.resolve(declared.protocol))


def protocol_key(protocol: Any) -> dict[str, Any]:
    """The cell's protocol settings plus the registered profile's declared ``version``
    (:class:`bench.protocols.Profile`): a protocol whose procedure changed keys new scores."""
    from . import protocols

    return {**asdict(protocol), "version": protocols.get(protocol.name).version}


def keys(r: Resolved, res: CellResult) -> None:
    """Phase 2: what the cell's scores (``fit_key``) and its numbers (``key``) are keyed by."""
    cell = r.cell
    evaluation = evaluation_versions(r.metric_entries, [e for _, e, _ in r.strategies],
                                     r.cost_entries)
    res.key_parts = {
        "bench": __version__,
        "harness_fit": codehash.harness_fit_digest(),
        "detector": [cell.detector.name, r.detector.version, res.params],
        "detector_code": codehash.code_digest(r.detector.factory),
        "dataset": [cell.dataset.name, res.dataset_params, res.dataset_fingerprint],
        "seed": cell.seed,
        "protocol": protocol_key(cell.protocol),
        "evaluation": evaluation,
        "metric_code": store.evaluation_key(evaluation),
    }
    fingerprint = getattr(r.detector.factory, "input_fingerprint", None)
    if callable(fingerprint):  # a detector replaying files (scores): their state keys its scores
        res.key_parts["detector_input"] = fingerprint(**r.params)
    res.fit_key = cell_key({k: v for k, v in res.key_parts.items()
                            if k not in ("metric_code", "evaluation")})
    res.key = cell_key(res.key_parts)


def fit_or_reuse(r: Resolved, res: CellResult) -> dict[str, Any]:
    """Phase 3: the cell's scores per series: re-evaluated from ``cell.scores_from``, reused from
    the store under its fit key, or fitted (and stored); timings and notes go to ``res``."""
    cell, ds = r.cell, r.dataset
    lengths = {s.name: len(s) for s in ds}
    cached, why = (store.load(cell.store, res.fit_key, lengths)
                   if cell.store and cell.reuse else (None, ""))
    if cell.scores_from:
        cached, why = store.load_file(cell.scores_from, lengths)
        if cached is None:
            raise CellError(f"stored scores {cell.scores_from} cannot be re-evaluated: "
                            f"{why or 'no such file'}")
        res.reevaluated_from = cell.scores_from
    elif why:
        res.store_note = f"stored scores not reused, refitted: {why}"
    if cached is None:
        scores, explain, info = _fit_all(r.detector.factory, r.params, ds, cell,
                                         r.detector.plugin)
        if cell.store:  # a score file that cannot be written is a warning (issue 22)
            unsaved = store.save_or_warn(cell.store, res.fit_key,
                                         store.Stored(scores, explain, info))
            res.store_note = "; ".join(n for n in (res.store_note, unsaved) if n)
    else:
        scores, info = cached.scores, cached.info
    res.reused = cached is not None
    _take_info(res, info)
    if r.compute_models:
        res.compute = {name: m(res) for name, m in r.compute_models.items()}
    if cell.store and store.path_for(cell.store, res.fit_key).is_file():
        res.scores_file = str(store.path_for(cell.store, res.fit_key))
    return scores


_TYPED = {f.name for f in fields(CellResult)} - {"extra", "used", "plan", "evaluations"}


def _take_info(res: CellResult, info: dict[str, Any]) -> None:
    """A fit's timings onto the result: named fields typed, a detector's own extras in
    ``extra``."""
    for k, v in info.items():
        if k in _TYPED:
            setattr(res, k, list(v) if k == "protocol_notes" else v)
        else:
            res.extra[k] = v


def evaluate_all(r: Resolved, scores: dict[str, Any]) -> list[EvaluationResult]:
    """Phase 4: each threshold strategy's evaluation of every series, and their aggregate."""
    out = []
    metric_fns = {e.name: e.factory for e in r.metric_entries}
    profile = r.cell.protocol.profile  # bench.protocols: rows evaluated, thresholds, windows
    corpus = dataset_metrics(profile, r.dataset, scores, r.cell)
    for t, e, tp in r.strategies:
        per_series = [evaluate(s, scores[s.name], train_rows(s, r.cell.protocol),
                               e.factory(**tp), r.cost_models, metric_fns, profile)
                      for s in r.dataset]
        strategy = e.factory(**tp)
        out.append(EvaluationResult.from_json({
            "threshold": t.name, "threshold_params": jsonable(tp),
            **threshold_label(strategy, profile),
            **_aggregate(per_series), **corpus, "per_series": per_series},
            f"evaluations[{t}]"))
    return out


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
