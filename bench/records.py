"""Run records: one JSON file per run, written atomically after every cell."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .errors import BenchError

SCHEMA_VERSION = 3
#: schema 1 -> 2: cells gained ``fit_key`` (the score-store key), ``key_parts.metric_code`` and
#: ``dataset_given``.  Upgraded cells get ``metric_code: "unknown (schema 1)"``, so a compare
#: against them says the metric code cannot be matched rather than inventing a match.
#: schema 2 -> 3: the record gained ``n_cells`` (cells planned), run ids sortable to the
#: microsecond, ``key_parts.detector_code`` (a digest of the detector's code) and
#: ``key_parts.evaluation`` (declared versions of the metrics, costs and thresholds used).
#: Upgraded records get ``n_cells = len(cells)`` and no detector code digest, so a compare says
#: their keys cannot be matched rather than inventing a match.
PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "jax", "jaxlib", "flax", "optax",
            "pluggy", "tabulate")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and an atomic
    rename: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; records are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict[str, Any]:
    """Python, packages, machine, and JAX's devices when JAX is loaded."""
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": versions,
    }
    if "jax" in sys.modules:
        try:
            import jax

            env["jax_devices"] = [str(d) for d in jax.devices()]
        except Exception as exc:  # pragma: no cover - depends on the machine
            env["jax_devices"] = [f"error: {exc}"]
    return env


# ----------------------------------------------------------------------------- errors


class RecordError(BenchError):
    """A run record that cannot be read: the message names the file and the field."""


#: what a cell can end as; ``running`` only ever appears in a record being written
CELL_STATUSES = ("ok", "error", "timeout", "oom", "crash", "interrupted")
RUN_STATUSES = ("running", "finished", "interrupted")
_NUM = (int, float)


def _kind(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _need(d: dict[str, Any], key: str, types: Any, where: str, default: Any = ...) -> Any:
    """``d[key]`` checked against ``types``; a missing key takes ``default`` (required when
    ``default`` is ``...``)."""
    if key not in d:
        if default is ...:
            raise RecordError(f"{where}: field '{key}' is missing")
        return default
    v = d[key]
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise RecordError(f"{where}.{key}: expected {_tname(types)}, got bool")
    if not isinstance(v, types):
        raise RecordError(f"{where}.{key}: expected {_tname(types)}, got {_kind(v)} {v!r:.40}")
    return v


def _tname(types: Any) -> str:
    ts = types if isinstance(types, tuple) else (types,)
    names = {"dict": "an object", "list": "a list", "str": "a string", "int": "an integer",
             "float": "a number", "bool": "true/false", "NoneType": "null"}
    return " or ".join(dict.fromkeys(names.get(t.__name__, t.__name__) for t in ts))


def _number(v: Any, where: str) -> float:
    """A metric or cost value: a number, or null for NaN (JSON has no NaN of its own)."""
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, _NUM):
        raise RecordError(f"{where}: expected a number or null, got {_kind(v)} {v!r:.40}")
    return float(v)


def _check_evaluation(ev: Any, where: str) -> dict[str, Any]:
    if not isinstance(ev, dict):
        raise RecordError(f"{where}: expected an object, got {_kind(ev)}")
    _need(ev, "threshold", str, where)
    metrics = _need(ev, "metrics", dict, where)
    for name, v in metrics.items():
        metrics[name] = _number(v, f"{where}.metrics.{name}")
    costs = _need(ev, "costs", dict, where, {})
    for name, by_range in costs.items():
        w = f"{where}.costs.{name}"
        if not isinstance(by_range, dict):
            raise RecordError(f"{w}: expected an object of train/val/test, got {_kind(by_range)}")
        for rng, v in by_range.items():
            by_range[rng] = _number(v, f"{w}.{rng}")
    _need(ev, "per_series", list, where, [])
    _need(ev, "oracle", bool, where, False)
    return ev


# ----------------------------------------------------------------------------- a cell


class _ByKey:
    """Read access by key to a record's JSON form (``cell["status"]``, ``rec.get("run_id")``):
    the named fields, then ``extra``.  Kept for plugins and scripts written against the JSON
    form; new code reads attributes.  No item assignment."""

    _KEYS: tuple[str, ...] = ()
    extra: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        if key in self._KEYS:
            return getattr(self, key)
        if key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: str) -> bool:
        return key in self._KEYS or key in self.extra


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
    evaluations: list[dict[str, Any]] = field(default_factory=list)
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
        from .params import jsonable

        return cls(index=cell.index, dataset=cell.dataset.name, detector=cell.detector.name,
                   seed=cell.seed, status=status, dataset_given=jsonable(cell.dataset.params),
                   given=jsonable(cell.detector.params), protocol=asdict(cell.protocol),
                   error=message, traceback=traceback, wall_s=float(wall_s))

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
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
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
                     "dataset_fingerprint", "fit_key", "key", "device", "scores_file"):
            v = _need(d, name, (str, type(None)), where, "")
            kw[name] = v or ""
        for name in ("wall_s", "fit_s", "score_s", "compile_s"):
            kw[name] = _number(_need(d, name, (*_NUM, type(None)), where, 0.0),
                               f"{where}.{name}")
        peak = _need(d, "peak_mem_mb", (*_NUM, type(None)), where, None)
        kw["peak_mem_mb"] = None if peak is None else float(peak)
        for name in ("n_series", "n_points", "compiles"):
            kw[name] = _need(d, name, int, where, 0)
        kw["reused"] = _need(d, "reused", bool, where, False)
        if status == "ok":
            evs = _need(d, "evaluations", list, where)
            kw["evaluations"] = [_check_evaluation(ev, f"{where}.evaluations[{i}]")
                                 for i, ev in enumerate(evs)]
        else:
            kw["evaluations"] = _need(d, "evaluations", list, where, [])
        known = set(_FIELD_NAMES)
        kw["extra"] = {k: v for k, v in d.items() if k not in known}
        return cls(**kw)


_FIELD_NAMES = tuple(f.name for f in fields(CellResult) if f.name != "extra")
CellResult._KEYS = _FIELD_NAMES


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
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, grid: dict[str, Any], n_cells: int) -> RunRecord:
        now = _dt.datetime.now(_dt.timezone.utc)
        return cls(run_id=new_run_id(now), created=now.isoformat(timespec="microseconds"),
                   grid=grid, n_cells=n_cells, git_commit=git_commit(),
                   environment=environment())

    # -- state

    def add(self, cell: CellResult) -> None:
        """Add (or replace, by index) a cell's result; cells stay ordered by index."""
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

    # -- JSON

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema, "run_id": self.run_id, "created": self.created,
            "bench_version": self.bench_version, "git_commit": self.git_commit,
            "environment": self.environment, "grid": self.grid, "n_cells": self.n_cells,
            "status": self.status, "complete": self.complete,
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
        d = upgrade({**d, "cells": list(cells)}, where)
        status = _need(d, "status", str, rw, "finished")
        if status not in RUN_STATUSES:
            raise RecordError(f"{rw}.status: '{status}' is not one of "
                              f"{', '.join(RUN_STATUSES)}")
        results = [CellResult.from_json(c, f"{where}: cells[{i}]")
                   for i, c in enumerate(d["cells"])]
        n_cells = _need(d, "n_cells", int, rw, len(results))
        known = {"schema", "run_id", "created", "bench_version", "git_commit", "environment",
                 "grid", "n_cells", "status", "complete", "cells"}
        return cls(
            run_id=_need(d, "run_id", str, rw, ""),
            created=_need(d, "created", str, rw, ""),
            grid=_need(d, "grid", dict, rw, {}) or {},
            n_cells=n_cells, status=status, cells=results,
            bench_version=_need(d, "bench_version", str, rw, ""),
            git_commit=_need(d, "git_commit", (str, type(None)), rw, "") or "",
            environment=_need(d, "environment", dict, rw, {}) or {},
            schema=SCHEMA_VERSION,
            extra={k: v for k, v in d.items() if k not in known})


_RUN_FIELDS = ("schema", "run_id", "created", "bench_version", "git_commit", "environment",
               "grid", "n_cells", "status", "cells")
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
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"run record {p} is corrupt or truncated ({exc}); rerun it") from None
    except OSError as exc:
        raise RecordError(f"run record {p} cannot be read ({exc.strerror})") from None
    return RunRecord.from_json(raw, str(p))


def _upgrade_1(rec: dict[str, Any]) -> dict[str, Any]:
    cells = []
    for cell in rec["cells"]:
        if isinstance(cell, dict):
            cell = dict(cell)
            parts = cell.get("key_parts")
            if isinstance(parts, dict):
                cell["key_parts"] = {**parts, "metric_code": parts.get(
                    "metric_code", "unknown (schema 1)")}
                cell.setdefault("fit_key", "")
            cell.setdefault("dataset_given", {})
        cells.append(cell)
    return {**rec, "cells": cells, "schema": 2}


def _upgrade_2(rec: dict[str, Any]) -> dict[str, Any]:
    n = len(rec["cells"])
    status = rec.get("status", "finished")
    return {**rec, "n_cells": rec.get("n_cells", n), "status": status, "schema": 3}


UPGRADES = {1: _upgrade_1, 2: _upgrade_2}


def upgrade(rec: dict[str, Any], where: str = "record") -> dict[str, Any]:
    """Bring an older record (its JSON form) up to :data:`SCHEMA_VERSION`, one step at a time."""
    while rec["schema"] < SCHEMA_VERSION:
        rec = UPGRADES[rec["schema"]](rec)
    return rec


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
