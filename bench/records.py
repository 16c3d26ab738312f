"""Run records: one JSON file per run, written atomically after every cell."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import __version__, recordcheck, recordmeta
from .errors import BenchError
from .evalresult import (
    CellPlan,
    EvaluationResult,
    RecordError,
    SeriesEvaluation,
    kind_of,
    need,
    number,
)
from .recordupgrade import SCHEMA_VERSION as _SCHEMA
from .recordupgrade import UPGRADES, upgrade
from .runenv import PACKAGES, environment, git_commit, write_atomic

__all__ = ["SCHEMA_VERSION", "CellPlan", "CellResult", "EvaluationResult", "RecordError",
           "RunRecord", "SeriesEvaluation", "UPGRADES", "find", "load", "load_many", "save",
           "upgrade", "write_atomic", "environment", "git_commit", "PACKAGES"]

#: the record format (see :mod:`bench.recordupgrade` for what each version added and how an older
#: record is upgraded when read)
SCHEMA_VERSION = _SCHEMA
#: what a cell can end as; ``running`` only ever appears in a record being written
CELL_STATUSES = ("ok", "error", "timeout", "oom", "crash", "interrupted")
RUN_STATUSES = ("running", "finished", "interrupted")
_NUM = (int, float)
_kind, _need, _number = kind_of, need, number


# ----------------------------------------------------------------------------- a cell


class _ByKey:
    """Read access by key to a record's JSON form (``cell["status"]``, ``rec.get("run_id")``):
    the named fields, then ``extra``.  Kept for plugins and scripts written against the JSON
    form; new code reads attributes.  No item assignment."""

    _KEYS: tuple[str, ...] = ()
    extra: dict[str, Any]

    _ALIASES: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._KEYS:
            return getattr(self, key)
        if key in self._ALIASES:
            return self._ALIASES[key](self)
        if key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: str) -> bool:
        return key in self._KEYS or key in self._ALIASES or key in self.extra


@dataclass
class CellResult(_ByKey):
    """What one cell of a run produced: its identity, how it ended, its keys, timings and its
    evaluations (one per threshold strategy).  Built by the runner for a finished cell and by
    :meth:`failed` for one that did not finish; written with :meth:`to_json`, read back with
    :meth:`from_json`, which checks every field.

    Read access by key (``cell["status"]``, ``cell.get("fit_s")``) is kept for plugins and scripts
    written against the JSON form; new code reads attributes.
    """

    index: int
    dataset: str
    detector: str
    seed: int = 0
    status: str = "running"
    dataset_given: dict[str, Any] = field(default_factory=dict)
    given: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    wall_s: float = 0.0
    #: the detector's bound parameters, version and the plugin that registered it
    params: dict[str, Any] = field(default_factory=dict)
    detector_version: str = ""
    detector_plugin: str = ""
    #: the dataset's bound parameters, content fingerprint and series count
    dataset_params: dict[str, Any] = field(default_factory=dict)
    dataset_fingerprint: str = ""
    n_series: int = 0
    #: what the cell's keys hash; ``fit_key`` names its scores in the store
    key_parts: dict[str, Any] = field(default_factory=dict)
    fit_key: str = ""
    key: str = ""
    reused: bool = False
    #: seconds (all series together), peak memory in MB (10^6 bytes), device, rows scored
    fit_s: float = 0.0
    score_s: float = 0.0
    peak_mem_mb: float | None = None
    device: str = ""
    n_points: int = 0
    #: XLA compilations and their seconds (JAX detectors; 0 when everything came from the cache)
    compiles: int = 0
    compile_s: float = 0.0
    compute: dict[str, Any] = field(default_factory=dict)
    scores_file: str = ""
    #: seconds loading the dataset (in this process: 0 when cached), MB the process kept after
    #: the fit, rows per harness window (1 = none)
    load_s: float = 0.0
    retained_mem_mb: float | None = None
    harness_window: int = 1
    #: notes: what the protocol changed, why stored scores were not reused, which stored scores
    #: a re-evaluation read
    protocol_notes: list[str] = field(default_factory=list)
    store_note: str = ""
    reevaluated_from: str = ""
    #: what the cell computed, as resolved when it ran (re-evaluation rebuilds it from this)
    plan: CellPlan = field(default_factory=CellPlan)
    evaluations: list[EvaluationResult] = field(default_factory=list)
    #: facts about the plugins it used (:func:`bench.recordmeta.describe`): carried to the
    #: record's ``meta`` by :meth:`RunRecord.add`, not written with the cell
    used: dict[str, Any] = field(default_factory=dict, repr=False)
    #: fields this version of bench does not know (written by a newer bench or a plugin), kept
    extra: dict[str, Any] = field(default_factory=dict)

    # -- construction

    @classmethod
    def failed(cls, cell: Any, status: str, message: str, traceback: str = "",
               wall_s: float = 0.0) -> CellResult:
        """The result of a cell (a :class:`bench.cell.Cell`) that did not finish: ``status`` is
        ``error``, ``timeout``, ``oom``, ``crash`` or ``interrupted``; ``message`` one line."""
        if status not in CELL_STATUSES or status == "ok":
            raise ValueError(f"not a failure status: {status!r}")
        res = cls.of(cell)
        res.status, res.error, res.traceback, res.wall_s = status, message, traceback, \
            float(wall_s)
        return res

    @classmethod
    def of(cls, cell: Any) -> CellResult:
        """The result of a cell (a :class:`bench.cell.Cell`) before it runs: its identity (as
        given) and the plan it was asked to run (the runner fills in what its dataset declares);
        the one place a cell's identity is derived."""
        from .params import jsonable

        return cls(index=cell.index, dataset=cell.dataset.name, detector=cell.detector.name,
                   seed=cell.seed, dataset_given=jsonable(cell.dataset.params),
                   given=jsonable(cell.detector.params), protocol=asdict(cell.protocol),
                   plan=CellPlan([str(t) for t in cell.thresholds], [str(c) for c in cell.costs],
                                 list(cell.metrics), asdict(cell.protocol)))

    @property
    def headline(self) -> str:
        """What this cell's dataset's tables sort by (its declared evaluation); '' unknown."""
        return self.plan.headline

    def evaluation(self, threshold: str | None = None) -> EvaluationResult | None:
        """The evaluation under ``threshold`` (a name or a label as
        :attr:`EvaluationResult.label`), else the first one that is not ORACLE."""
        for ev in self.evaluations:
            if threshold in (ev.threshold, ev.label) or (threshold is None and not ev.oracle):
                return ev
        return None

    # -- identity

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def dataset_label(self) -> str:
        """The dataset as the user gave it: ``nab(sample=True)``."""
        return self.dataset + _given(self.dataset_given)

    @property
    def detector_label(self) -> str:
        """The detector as the user gave it: ``kde(bandwidth=0.5)``."""
        return self.detector + _given(self.given)

    @property
    def identity(self) -> str:
        """What a comparison matches cells on: dataset and detector as given (seeds aside)."""
        return f"{self.dataset_label} x {self.detector_label}"

    # -- JSON

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("extra", "used")}
        out["plan"] = self.plan.to_json()
        out["evaluations"] = [ev.to_json() for ev in self.evaluations]
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = "cell") -> CellResult:
        """Check and convert one cell of a record; a bad field is a :class:`RecordError` naming
        ``where`` and the field."""
        if not isinstance(d, dict):
            raise RecordError(f"{where}: expected an object, got {_kind(d)}")
        d = dict(d)
        kw: dict[str, Any] = {}
        kw["index"] = _need(d, "index", int, where)
        kw["dataset"] = _need(d, "dataset", str, where)
        kw["detector"] = _need(d, "detector", str, where)
        kw["seed"] = _need(d, "seed", int, where, 0)
        status = _need(d, "status", str, where)
        if status not in CELL_STATUSES and status != "running":
            raise RecordError(f"{where}.status: '{status}' is not one of "
                              f"{', '.join(CELL_STATUSES)}")
        kw["status"] = status
        for name in ("dataset_given", "given", "protocol", "params", "dataset_params",
                     "key_parts", "compute"):
            kw[name] = _need(d, name, dict, where, {}) or {}
        for name in ("error", "traceback", "detector_version", "detector_plugin",
                     "dataset_fingerprint", "fit_key", "key", "device", "scores_file",
                     "store_note", "reevaluated_from"):
            v = _need(d, name, (str, type(None)), where, "")
            kw[name] = v or ""
        for name in ("wall_s", "fit_s", "score_s", "compile_s", "load_s"):
            kw[name] = _number(_need(d, name, (*_NUM, type(None)), where, 0.0),
                               f"{where}.{name}")
        for name in ("peak_mem_mb", "retained_mem_mb"):
            v = _need(d, name, (*_NUM, type(None)), where, None)
            kw[name] = None if v is None else float(v)
        for name in ("n_series", "n_points", "compiles"):
            kw[name] = _need(d, name, int, where, 0)
        kw["harness_window"] = _need(d, "harness_window", int, where, 1)
        kw["protocol_notes"] = list(_need(d, "protocol_notes", list, where, []))
        kw["reused"] = _need(d, "reused", bool, where, False)
        kw["plan"] = CellPlan.from_json(_need(d, "plan", dict, where, {}), f"{where}.plan")
        evs = _need(d, "evaluations", list, where) if status == "ok" else \
            _need(d, "evaluations", list, where, [])
        kw["evaluations"] = [EvaluationResult.from_json(ev, f"{where}.evaluations[{i}]")
                             for i, ev in enumerate(evs)]
        known = set(_FIELD_NAMES)
        kw["extra"] = {k: v for k, v in d.items() if k not in known}
        return cls(**kw)


_FIELD_NAMES = tuple(f.name for f in fields(CellResult) if f.name not in ("extra", "used"))
CellResult._KEYS = _FIELD_NAMES
#: keys of the schema-3 JSON form that now live in the plan
CellResult._ALIASES = {"declared": lambda c: c.plan.evaluation,
                       "headline": lambda c: c.plan.headline,
                       "dataset_title": lambda c: c.plan.dataset_title}


def _given(params: dict[str, Any]) -> str:
    if not params:
        return ""
    parts = [f"{k}={'-'.join(map(str, v)) if isinstance(v, list) else v}"
             for k, v in sorted(params.items()) if v is not None]
    return "(" + ",".join(parts) + ")"


# ----------------------------------------------------------------------------- a run

_SEQ = itertools.count()


def new_run_id(now: _dt.datetime | None = None) -> str:
    """A run id that sorts by start time to the microsecond: ``20261129T170102.123456Z-p1234-0``
    (process id and a per-process counter break ties between runs started in the same
    microsecond)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-p{os.getpid()}-{next(_SEQ)}"


@dataclass
class RunRecord(_ByKey):
    """One run: what was asked (``grid``, ``n_cells`` planned), where and with what it ran
    (``environment``, ``git_commit``), its ``status`` and one :class:`CellResult` per cell that
    ended.  ``complete`` says whether every planned cell finished (any status) and the run ended
    normally.  The file a record was read from is not part of it (:func:`load` returns both
    through :class:`Loaded`)."""

    run_id: str
    created: str
    grid: dict[str, Any] = field(default_factory=dict)
    n_cells: int = 0
    status: str = "running"
    cells: list[CellResult] = field(default_factory=list)
    bench_version: str = __version__
    git_commit: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    #: facts about every metric, cost, threshold and detector the cells used
    #: (:mod:`bench.recordmeta`): tables and compare read these, never the live registry
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, grid: dict[str, Any], n_cells: int) -> RunRecord:
        now = _dt.datetime.now(_dt.timezone.utc)
        return cls(run_id=new_run_id(now), created=now.isoformat(timespec="microseconds"),
                   grid=grid, n_cells=n_cells, git_commit=git_commit(),
                   environment=environment())

    # -- state

    def add(self, cell: CellResult) -> None:
        """Add (or replace, by index) a cell's result; cells stay ordered by index; the facts
        about the plugins it used join the record's ``meta``."""
        recordmeta.merge(self.meta, cell.used)
        self.cells = [c for c in self.cells if c.index != cell.index] + [cell]
        self.cells.sort(key=lambda c: c.index)

    def finish(self, interrupted: bool = False) -> None:
        """Mark the run ended: ``finished`` when every planned cell has a result, else
        ``interrupted``."""
        self.status = "interrupted" if interrupted or len(self.cells) < self.n_cells \
            else "finished"

    @property
    def complete(self) -> bool:
        """Every planned cell ended (with any status but ``running``/``interrupted``) and the run
        finished."""
        return (self.status == "finished" and len(self.cells) >= self.n_cells
                and all(c.status in CELL_STATUSES and c.status != "interrupted"
                        for c in self.cells))

    def incomplete_reason(self) -> str:
        """Why the record is not complete, in one line ('' when it is)."""
        if self.complete:
            return ""
        if self.status == "running":
            return (f"run {self.run_id} is still running or was killed ({len(self.cells)} of "
                    f"{self.n_cells} cells recorded)")
        stopped = sum(c.status in ("interrupted", "running") for c in self.cells)
        missing = max(self.n_cells - len(self.cells), 0)
        return (f"run {self.run_id} is {self.status}: {missing + stopped} of {self.n_cells} "
                f"cells did not finish")

    def __iter__(self) -> Iterator[CellResult]:
        return iter(self.cells)

    # -- in Python (see bench.frame)

    def to_frame(self) -> Any:
        """One row per cell x evaluation x metric (and ``cost:NAME`` test totals): a pandas
        DataFrame (:func:`bench.frame.to_frame`)."""
        from .frame import to_frame

        return to_frame(self)

    def leaderboard(self, dataset: str | None = None) -> Any:
        """Each dataset's headline per detector, best first (:func:`bench.frame.leaderboard`)."""
        from .frame import leaderboard

        return leaderboard(self, dataset)

    def _repr_html_(self) -> str:
        from .frame import html

        return html(self)

    # -- JSON

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema, "run_id": self.run_id, "created": self.created,
            "bench_version": self.bench_version, "git_commit": self.git_commit,
            "environment": self.environment, "grid": self.grid, "n_cells": self.n_cells,
            "status": self.status, "complete": self.complete, "meta": self.meta,
            "cells": [c.to_json() for c in self.cells]}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = "record") -> RunRecord:
        if not isinstance(d, dict):
            raise RecordError(f"{where}: not a bench run record (a JSON {_kind(d)}, "
                              f"not an object)")
        if "schema" not in d or "cells" not in d:
            raise RecordError(f"{where}: not a bench run record (no 'schema'/'cells')")
        schema = d["schema"]
        if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
            raise RecordError(f"{where}: record.schema: expected a schema version "
                              f"1..{SCHEMA_VERSION}, "
                              f"got {schema!r:.40}")
        if schema > SCHEMA_VERSION:
            raise RecordError(f"{where}: schema {schema} is newer than this bench "
                              f"({SCHEMA_VERSION}); upgrade bench")
        rw = f"{where}: record"
        cells = _need(d, "cells", list, rw)
        recordcheck.check(d, where)  # the free-form fields readers use; nesting, long integers
        d = upgrade({**d, "cells": list(cells)}, where)
        status = _need(d, "status", str, rw, "finished")
        if status not in RUN_STATUSES:
            raise RecordError(f"{rw}.status: '{status}' is not one of "
                              f"{', '.join(RUN_STATUSES)}")
        results = [CellResult.from_json(c, f"{where}: cells[{i}]")
                   for i, c in enumerate(d["cells"])]
        n_cells = _need(d, "n_cells", int, rw, len(results))
        known = {"schema", "run_id", "created", "bench_version", "git_commit", "environment",
                 "grid", "n_cells", "status", "complete", "cells", "meta"}
        return cls(
            run_id=_need(d, "run_id", str, rw, ""),
            created=_need(d, "created", str, rw, ""),
            grid=_need(d, "grid", dict, rw, {}) or {},
            n_cells=n_cells, status=status, cells=results,
            bench_version=_need(d, "bench_version", str, rw, ""),
            git_commit=_need(d, "git_commit", (str, type(None)), rw, "") or "",
            environment=_need(d, "environment", dict, rw, {}) or {},
            schema=SCHEMA_VERSION, meta=_need(d, "meta", dict, rw, {}) or {},
            extra={k: v for k, v in d.items() if k not in known})


_RUN_FIELDS = ("schema", "run_id", "created", "bench_version", "git_commit", "environment",
               "grid", "n_cells", "status", "cells", "meta")
RunRecord._KEYS = _RUN_FIELDS


def new_record(grid: dict[str, Any], n_cells: int = 0) -> RunRecord:
    return RunRecord.new(grid, n_cells)


def save(record: RunRecord, path: Path) -> None:
    """Write the record atomically (NaN written as null; an infinite cost as Infinity, which
    Python's json reads back)."""
    write_atomic(path, json.dumps(_nan_to_null(record.to_json()), indent=1, default=str))


def _nan_to_null(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, dict):
        return {k: _nan_to_null(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_nan_to_null(x) for x in v]
    return v


# ----------------------------------------------------------------------------- reading


def load(path: str | Path) -> RunRecord:
    """Read a run record (a file, or a directory: its newest record); a missing, corrupt,
    foreign or malformed file is one :class:`RecordError` naming the file and the field."""
    p = Path(path)
    if p.is_dir():
        runs = find(p)
        if not runs:
            raise BenchError(f"no run records (*.json) in {p}; run `bench run --out {p}` first")
        p = runs[-1]
    if not p.exists():
        raise BenchError(f"run record {p} does not exist; `bench run` writes one under results/")
    try:
        raw = recordcheck.parse(p.read_text(encoding="utf-8"), str(p))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"run record {p} is corrupt or truncated ({exc}); rerun it") from None
    except OSError as exc:
        raise RecordError(f"run record {p} cannot be read ({exc.strerror})") from None
    return RunRecord.from_json(raw, str(p))


def find(path: str | Path) -> list[Path]:
    """Record files under a directory (not its score store or baseline), oldest first.  Run ids
    sort by start time to the microsecond, so file names order the runs; files of older bench
    versions (one-second ids) sort among them by the same rule."""
    p = Path(path)
    if p.is_file():
        return [p]
    return sorted((q for q in p.glob("*.json") if not q.name.startswith(".")),
                  key=lambda q: (q.stem[:15], q.stem))


def load_many(paths: list[Path], warn: Any = None) -> list[RunRecord]:
    """Load every readable record; an unreadable one is reported (``warn(message)``) and
    skipped."""
    out = []
    for p in paths:
        try:
            out.append(load(p))
        except BenchError as exc:
            if warn is not None:
                warn(f"skipped: {exc}")
    return out
