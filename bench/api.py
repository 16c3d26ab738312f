"""The library API behind the CLI: build a grid, run it, write its record, list plugins."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import plugins, records, store
from .data import Evaluation
from .errors import BenchError
from .params import Spec, bind, check_seeds, parse_spec
from .plugins import Manager, get_manager
from .runner import Cell, Protocol, run_cell

DEFAULT_THRESHOLD = "min_cost"
DEFAULT_COST = "event:c_alarm=1,c_missed=5,tolerance=12"


def _specs(items: Iterable[str | Spec]) -> list[Spec]:
    return [parse_spec(i) for i in items]


def default_specs(manager: Manager, kind: str) -> list[Spec]:
    """The entries of ``kind`` that a bare ``bench run`` uses (``default_run`` meta, default True
    for detectors and False for datasets unless they ship their data)."""
    out = []
    for e in manager.registry(kind):
        flag = e.meta.get("default_run", kind == "detector")
        if flag:
            out.append(Spec(e.name, dict(flag) if isinstance(flag, dict) else {}))
    return out


def default_metrics(manager: Manager) -> list[str]:
    return [e.name for e in manager.registry("metric") if getattr(e.factory, "default", False)]


def validate(manager: Manager, kind: str, specs: Sequence[Spec], construct: bool = False) -> None:
    """Fail early, before any cell runs, on an unknown name or a bad parameter (and, for cheap
    objects such as thresholds and cost models, on a value their constructor rejects)."""
    for s in specs:
        e = manager.get(kind, s.name)
        params = bind(kind, s.name, e.factory, s.params)
        if construct:
            e.factory(**params)


def plan(
    datasets: Sequence[str | Spec] = (),
    detectors: Sequence[str | Spec] = (),
    *,
    thresholds: Sequence[str | Spec] = (),
    costs: Sequence[str | Spec] = (DEFAULT_COST,),
    metrics: Sequence[str] = (),
    seeds: Sequence[int] = (0,),
    protocol: Protocol | None = None,
    manager: Manager | None = None,
) -> list[Cell]:
    """The cells of the grid datasets x detectors x seeds, validated.  With no ``thresholds``,
    each dataset uses its declared threshold strategy (``bench.Evaluation.threshold``); each
    dataset's declared headline, thresholded and gated metrics are always computed, and its
    cost model when no cost of that name is given (resolved as each cell loads its dataset,
    from the ``Dataset``'s ``evaluation``, and recorded in the cell's ``plan``)."""
    manager = manager or get_manager()
    ds = _specs(datasets) or default_specs(manager, "dataset")
    dets = _specs(detectors) or default_specs(manager, "detector")
    thr = _specs(thresholds)
    cst = _specs(costs) or [parse_spec(DEFAULT_COST)]
    mets = list(metrics) or default_metrics(manager)
    if not ds:
        raise BenchError("no dataset given and none runs by default; pass -d NAME "
                         "(see `bench list datasets`)")
    if not dets:
        raise BenchError("no detector given; pass -m NAME (see `bench list detectors`)")
    seeds = check_seeds(seeds)  # one line for --seed -1, before any cell (issue 22)
    validate(manager, "dataset", ds)
    validate(manager, "detector", dets)
    validate(manager, "cost", cst, construct=True)
    for m in mets:
        manager.get("metric", m)
    if thr:
        validate(manager, "threshold", thr, construct=True)
    cells = []
    for d in ds:
        for m in dets:
            for seed in seeds:
                # what the run leaves open (threshold, the dataset's cost model, headline and
                # thresholded metrics, protocol name) is filled from the dataset's declared
                # Evaluation when the cell loads it (bench.runner.planned): one source
                cells.append(Cell(len(cells), d, m, seed, list(thr), cst, list(mets),
                                  protocol or Protocol()))
    return cells


def declared_evaluation(manager: Manager, dataset: str) -> Evaluation:
    """A dataset's :class:`bench.Evaluation` as registered (``evaluation=`` meta, what ``bench
    list`` shows without loading data), or the default one.  Cells read the one the ``Dataset``
    carries; ``bench.testing.check_evaluation_declared_once`` checks that the two agree."""
    ev = manager.get("dataset", dataset).meta.get("evaluation")
    return ev if isinstance(ev, Evaluation) else Evaluation()


def preflight(cells: Sequence[Cell], manager: Manager) -> None:
    """Load each dataset once before any cell runs, so a missing file or a bad parameter is one
    clear error (nothing written) rather than a column of failed cells (see
    :func:`bench.session.load_datasets`)."""
    from .session import load_datasets

    load_datasets(cells, manager)


def make_executor(manager: Manager, name: str, options: dict[str, Any] | None = None) -> Any:
    """Build a registered executor (see :func:`bench.session.make_executor`)."""
    from .session import make_executor as make

    return make(manager, name, options)


@contextlib.contextmanager
def using(manager: Manager) -> Iterator[Manager]:
    """Make ``manager`` the process-wide one (what in-process cells see) for a block."""
    previous = plugins._default
    plugins.set_manager(manager)
    try:
        yield manager
    finally:
        plugins.set_manager(previous)


def run(
    cells: Sequence[Cell],
    *,
    out: str | Path | None = "results",
    executor: str = "inline",
    executor_options: dict[str, Any] | None = None,
    manager: Manager | None = None,
    on_cell: Callable[[records.CellResult, int, int], None] | None = None,
    reuse: bool = True,
    listeners: Sequence[Any] = (),
) -> records.RunRecord:
    """Run every cell in a :class:`bench.session.Session`, write the record after each one
    (atomically), return the record.

    With ``out`` set, each cell's scores go to the score store ``out/scores/`` keyed by the cell's
    fit key; with ``reuse`` (the default) a cell whose scores are already there is re-evaluated
    from them instead of refitted, so a rerun or a killed run resumes without losing work.
    ``listeners`` (e.g. a :class:`bench.progress.Progress`) receive the run's lifecycle hooks;
    ``on_cell(cell, done, total)`` is called after each cell.
    """
    from .session import CellCallback, Session

    session = Session(cells, manager=manager or get_manager(), out=out, executor=executor,
                      executor_options=executor_options, reuse=reuse, listeners=listeners)
    if on_cell is not None:
        session.listen(CellCallback(on_cell))
    return session.run()


def plugins_info(manager: Manager | None = None) -> list[dict[str, Any]]:
    manager = manager or get_manager()
    regs = manager.registries
    out = []
    for info in sorted(manager.plugins.values(), key=lambda p: (not p.builtin, p.name)):
        provides = {kind: [e.name for e in reg if e.plugin == info.name]
                    for kind, reg in regs.items()}
        out.append({
            "name": info.name,
            "version": info.version,
            "package": info.package,
            "module": info.module,
            "builtin": info.builtin,
            "hooks": info.hooks,
            "provides": {k: v for k, v in provides.items() if v},
            **({"error": info.error} if info.error else {}),
        })
    return out


def warn_problems(manager: Manager, stream: Any = None) -> None:
    stream = stream or sys.stderr
    _ = manager.registries  # registration problems are found while building them
    for p in manager.problems:
        print(f"bench: warning: {p}", file=stream)


BASELINE_DIR = Path("results") / "baseline"


def quick_suite(manager: Manager | None = None) -> list[Cell]:
    """The regression suite CI runs: the ``quick`` suite (:mod:`bench.suites`, what a bare
    `bench run` runs), default thresholds, costs and metrics."""
    from .suites import cells

    return cells("quick", manager or get_manager())


def baseline_update(directory: str | Path = BASELINE_DIR, manager: Manager | None = None,
                    on_cell: Callable[[Any, int, int], None] | None = None
                    ) -> records.RunRecord:
    """Run the quick suite (refitting every cell) and write it as the baseline record, with its
    scores in ``directory/scores`` so that a later change of an evaluation version re-evaluates
    them instead of leaving the baseline not comparable.  The old record and scores are replaced
    only once the new run has finished."""
    import shutil
    import tempfile

    directory = Path(directory)
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        record = run(quick_suite(manager), out=tmp, manager=manager, on_cell=on_cell,
                     reuse=False)
        if not record.complete:
            raise BenchError(f"the quick suite did not finish ({record.incomplete_reason()}); "
                             f"the baseline in {directory} is unchanged")
        scores = directory / "scores"
        shutil.rmtree(scores, ignore_errors=True)
        scores.mkdir(parents=True)
        for cell in record.cells:
            if cell.fit_key:
                store.copy(Path(tmp) / "scores" / f"{cell.fit_key}.npz", scores,
                           explain=False)
            cell.scores_file = ""
        records.save(record, directory / "baseline.json")
    return record


def compare_paths(base: str | Path, head: str | Path, *, tolerances: dict[str, float] | None = None,
                  manager: Manager | None = None, warn: Callable[[str], None] | None = None):
    """Compare the records at two paths (a file, or a directory: its newest readable record).
    Base cells whose declared evaluation versions differ from the head's are first re-evaluated
    from the base's stored scores with this bench's evaluation code, where the store has them."""
    from .compare import compare

    b, h = _newest(base, warn), _newest(head, warn)
    b = reevaluate_base(b, h, _store_of(base), manager, warn)
    return compare(b, h, tolerances=tolerances)


def _store_of(path: str | Path) -> Path:
    p = Path(path)
    return (p if p.is_dir() else p.parent) / "scores"


def cell_from_plan(result: records.CellResult, scores_from: str | None = None) -> Cell:
    """The :class:`Cell` a recorded cell ran, rebuilt from its own ``plan`` (its thresholds,
    costs, metrics and protocol), to re-evaluate its stored scores with this bench."""
    plan = result.plan
    return Cell(result.index, Spec(result.dataset, dict(result.dataset_given)),
                Spec(result.detector, dict(result.given)), result.seed,
                _specs(plan.thresholds), _specs(plan.costs), list(plan.metrics),
                _protocol(plan.protocol or result.protocol), scores_from=scores_from)


def _protocol(d: dict[str, Any]) -> Protocol:
    """A recorded protocol as a :class:`Protocol` (keys this bench does not know are dropped)."""
    known = {f.name for f in dataclasses.fields(Protocol)}
    return Protocol(**{k: v for k, v in (d or {}).items() if k in known})


def reevaluate_base(base: records.RunRecord, head: records.RunRecord, store_dir: str | Path,
                    manager: Manager | None = None,
                    warn: Callable[[str], None] | None = None) -> records.RunRecord:
    """``base`` with each cell whose declared evaluation versions differ from its head twin's
    re-evaluated from its stored scores (``store_dir/FIT_KEY.npz``, verified) under the cell's
    own plan (the thresholds, costs, metrics and protocol it ran; never the run's grid) with
    this bench's evaluation code.  Cells without stored scores are left as they are (a compare
    then says they are not comparable, and why)."""
    manager = manager or get_manager()
    heads = {(c.identity, c.seed): c for c in head.cells if c.ok}
    out = dataclasses.replace(base, cells=list(base.cells),
                              meta={k: dict(v) for k, v in base.meta.items()})
    for i, b in enumerate(base.cells):
        h = heads.get((b.identity, b.seed))
        if h is None or not b.ok or b.key_parts.get("evaluation") == \
                h.key_parts.get("evaluation"):
            continue
        path = store.path_in(store_dir, b.fit_key)  # a fit key names a file in the store only
        if path is None or not path.is_file():
            continue
        new = run_cell(cell_from_plan(b, str(path)), manager)
        if not new.ok:
            if warn:
                warn(f"could not re-evaluate base cell {b.identity}: {new.error}")
            continue
        new.key_parts = {**new.key_parts, "detector_code": b.key_parts.get("detector_code"),
                         "harness_fit": b.key_parts.get("harness_fit")}
        new.fit_key, new.params, new.detector_version = b.fit_key, b.params, b.detector_version
        out.cells[i] = new
        for kind, facts in new.used.items():  # its numbers now mean what this bench's do
            out.meta.setdefault(kind, {}).update(facts)
    return out


def _newest(path: str | Path, warn: Callable[[str], None] | None) -> records.RunRecord:
    paths = records.find(path)
    if not Path(path).exists():
        raise BenchError(f"run record {path} does not exist")
    for p in reversed(paths):
        try:
            return records.load(p)
        except BenchError as exc:
            if Path(path).is_file():
                raise
            if warn:
                warn(f"skipped: {exc}")
    raise BenchError(f"no readable run record in {path}; run `bench run --out {path}` first")
