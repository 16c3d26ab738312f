"""Named suites: grids declared as data (datasets, detectors with their seeds, protocol) that
``bench run --suite NAME`` runs and ``bench list suites`` lists.

A suite is a :class:`Suite`; a plugin registers one through the ``bench_register_suites`` hook
(``register(name, factory)``, ``factory(**params) -> Suite``), exactly as bench registers its
own (:func:`bench_register_suites` below):

* ``quick``: what a bare ``bench run`` runs (and the regression gate, ``bench baseline``).  Every
  dataset family and every default detector, on **samples named as samples** (fewer channels,
  probes and series, the JAX detectors with fewer epochs on one dataset per family: every
  choice is in the dataset and detector parameters, so in every title and record).  Its
  timings with an empty and a filled JAX compilation cache: benchmarks/README.md, "First run".
* ``full``: every shipped corpus complete (58 NAB series, every SMAP / MSL channel, every
  telemetry probe, HDFS 100k sessions, HPC, synthetic), every default detector.
* ``nab``: NAB's own procedure (``--protocol nab``) on the 58 NAB series.
* ``tsb-ad``: TSB-AD's procedure on the TSB-AD files bench can rebuild (``-d tsb-ad``).

Every suite runs the chance baselines: ``random`` over seeds 0-9 (the paired chance test needs
at least 10 on a single-series dataset) and ``constant`` once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bench

from .cell import Cell, Protocol
from .errors import BenchError
from .params import Spec, parse_spec

#: the chance baselines' seeds in every built-in suite (bench.chance_test needs >= 10)
RANDOM_SEEDS = tuple(range(10))


@dataclass(frozen=True)
class Member:
    """One detector of a suite (``NAME[:k=v,...]``) and the seeds it runs with."""

    detector: str
    seeds: tuple[int, ...] = (0,)
    #: the names of the suite's datasets it runs on (empty: every one)
    only: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.seeds:
            raise BenchError(f"suite member {self.detector!r}: give at least one seed")
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "only", tuple(self.only))

    def runs_on(self, dataset: str) -> bool:
        return not self.only or parse_spec(dataset).name in self.only


@dataclass(frozen=True)
class Suite:
    """A named grid, declared as data.

    datasets:     dataset specs (``NAME[:k=v,...]``), in table order.
    detectors:    :class:`Member` s (a plain string is one member with seed 0).
    protocol:     the protocol every cell uses (``""``: each dataset's declared one).
    window:       the harness window for row detectors (``None``: their default; 1 = none).
    defaults:     also run every other dataset / detector registered with ``default_run``
                  (a plugin's shipped data and detectors join the quick suite), with seed 0.
    samples:      the suite runs samples of larger corpora: the run ends by saying what to run
                  for the real thing (``then``).
    then:         the command that runs the real thing.
    """

    name: str
    description: str
    datasets: tuple[str, ...]
    detectors: tuple[Member | str, ...]
    protocol: str = ""
    window: int | None = None
    defaults: bool = False
    samples: bool = False
    then: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def members(self) -> list[Member]:
        return [m if isinstance(m, Member) else Member(m) for m in self.detectors]


# ----------------------------------------------------------------------------- planning


def get(manager: Any, spec: str | Spec) -> Suite:
    """The :class:`Suite` that ``spec`` (``NAME[:k=v,...]``) names, built by its registered
    factory; a one-line error for an unknown name or a factory that returns no Suite."""
    from .params import bind

    s = parse_spec(spec) if isinstance(spec, str) else spec
    entries = list(manager.registry("suite"))
    if s.name not in {e.name for e in entries}:
        from .listing import find

        find(entries, "suite", s.name)  # raises, suggesting close names
    entry = manager.get("suite", s.name)
    suite = entry.factory(**bind("suite", s.name, entry.factory, s.params))
    if not isinstance(suite, Suite):
        raise BenchError(f"suite '{s.name}' (plugin {entry.plugin}): its factory returned "
                         f"{type(suite).__name__}, not a bench.suites.Suite")
    return suite


def _registered(manager: Any, kind: str, spec: str) -> bool:
    name = parse_spec(spec).name
    return name in {e.name for e in manager.registry(kind)}


def resolve(suite: Suite, manager: Any) -> tuple[list[str], list[Member], list[str]]:
    """The suite's datasets and members as this manager can run them, and one note per name it
    skipped (a blocked or uninstalled plugin's; ``-p no:kde`` leaves kde out of the quick
    suite rather than failing it)."""
    from .api import default_specs

    notes = []
    datasets = []
    for d in suite.datasets:
        if _registered(manager, "dataset", d):
            datasets.append(d)
        else:
            notes.append(f"suite {suite.name}: dataset {parse_spec(d).name!r} is not "
                         f"registered (plugin blocked or not installed): left out")
    members = []
    for m in suite.members():
        if _registered(manager, "detector", m.detector):
            members.append(m)
        else:
            notes.append(f"suite {suite.name}: detector {parse_spec(m.detector).name!r} is not "
                         f"registered (plugin blocked or not installed): left out")
    if suite.defaults:
        named = {parse_spec(d).name for d in suite.datasets}
        datasets += [str(s) for s in default_specs(manager, "dataset") if s.name not in named]
        named = {parse_spec(m.detector).name for m in suite.members()}
        members += [Member(str(s)) for s in default_specs(manager, "detector")
                    if s.name not in named]
    return datasets, members, notes


def plan(suite: Suite, manager: Any, *, thresholds: Sequence[str | Spec] = (),
         costs: Sequence[str | Spec] = (), metrics: Sequence[str] = (),
         protocol: Protocol | None = None, notes: list[str] | None = None) -> list[Cell]:
    """The suite's cells (datasets x members x each member's seeds, in the suite's order),
    validated as :func:`bench.api.plan` validates a grid.  ``protocol``: the run's standardise
    flag and, when set, a protocol name and window that must agree with the suite's."""
    from .api import DEFAULT_COST
    from .api import plan as plan_grid

    protocol = protocol or Protocol()
    name = suite.protocol
    if protocol.name and name and protocol.name != name:
        raise BenchError(f"suite {suite.name} runs protocol {name}; drop --protocol "
                         f"{protocol.name} or run the grid without --suite")
    window = protocol.window if protocol.window is not None else suite.window
    proto = dataclasses.replace(protocol, name=protocol.name or name, window=window)
    datasets, members, skipped = resolve(suite, manager)
    if notes is not None:
        notes += skipped
    if not datasets or not members:
        raise BenchError(f"suite {suite.name}: no {'dataset' if not datasets else 'detector'} "
                         f"of it is registered (bench plugins shows what loaded)")
    cells: list[tuple[int, int, Cell]] = []
    for mi, m in enumerate(members):
        mine = [d for d in datasets if m.runs_on(d)]
        if not mine:
            continue
        part = plan_grid(mine, [m.detector], thresholds=thresholds,
                         costs=costs or (DEFAULT_COST,), metrics=metrics, seeds=m.seeds,
                         protocol=proto, manager=manager)
        per_ds = len(part) // len(mine)
        cells += [(datasets.index(mine[i // per_ds]), mi, c) for i, c in enumerate(part)]
    cells.sort(key=lambda t: (t[0], t[1]))
    return [dataclasses.replace(c, index=i) for i, (_, _, c) in enumerate(cells)]


def cells(name: str | Spec, manager: Any = None, **kwargs: Any) -> list[Cell]:
    """The cells of the registered suite ``name`` (see :func:`plan`)."""
    from .plugins import get_manager

    manager = manager or get_manager()
    return plan(get(manager, name), manager, **kwargs)


def for_run(manager: Any, suite: str | None, datasets: Sequence[str], detectors: Sequence[str],
            seeds: Sequence[int], protocol: Protocol, *, thresholds: Sequence[str] = (),
            costs: Sequence[str] = (), metrics: Sequence[str] = (),
            notes: list[str] | None = None,
            chance: bool = True) -> tuple[list[Cell], Suite | None]:
    """The cells of a ``bench run``: ``--suite NAME`` runs that suite, no ``-d`` / ``-m`` /
    ``--suite`` runs ``quick``, and ``-d`` / ``-m`` run their grid (:func:`bench.api.plan`; an
    option left out takes the default entries) with ``seeds`` (default 0).  A grid that names
    its detectors gets the chance rows every suite has (:data:`CHANCE`: ``random`` over seeds
    0-9, ``constant`` once, on each dataset), so its tables show lift and the chance test,
    unless it names a chance detector itself or ``chance`` is False (``--no-chance``).
    Returns the cells and the suite (None for a plain grid)."""
    from .api import DEFAULT_COST
    from .api import plan as plan_grid

    if suite is not None and (datasets or detectors or seeds):
        raise BenchError(f"--suite {suite} declares its datasets, detectors and seeds; drop "
                         f"-d/-m/--seed, or drop --suite to run your own grid")
    if suite is None and not datasets and not detectors and not seeds:
        suite = "quick"
    if suite is None:
        kw = {"thresholds": thresholds, "costs": costs or (DEFAULT_COST,), "metrics": metrics,
              "protocol": protocol, "manager": manager}
        grid = plan_grid(datasets, detectors, seeds=seeds or (0,), **kw)
        if chance and detectors and not _names_chance(manager, detectors):
            for m in CHANCE:
                grid += plan_grid(datasets, [m.detector], seeds=m.seeds, **kw)
            grid = [dataclasses.replace(c, index=i) for i, c in enumerate(grid)]
        return grid, None
    s = get(manager, suite)
    return plan(s, manager, thresholds=thresholds, costs=costs, metrics=metrics,
                protocol=protocol, notes=notes), s


def _names_chance(manager: Any, detectors: Sequence[str]) -> bool:
    """True when one of the named detectors is a chance baseline (registered ``chance=True``)."""
    for d in detectors:
        name = parse_spec(d).name if isinstance(d, str) else d.name
        try:
            if manager.get("detector", name).meta.get("chance"):
                return True
        except BenchError:
            continue  # an unknown name is reported by plan_grid
    return False


def describe(suite: Suite) -> list[str]:
    """Lines for ``bench list suites NAME``: what the suite runs."""
    out = [f"datasets:  {', '.join(suite.datasets)}" + (" (+ every other default dataset)"
                                                        if suite.defaults else "")]
    dets = [m.detector + (f" x seeds {m.seeds[0]}-{m.seeds[-1]}" if len(m.seeds) > 1 else "")
            + (f" (on {', '.join(m.only)})" if m.only else "") for m in suite.members()]
    out.append(f"detectors: {', '.join(dets)}" + (" (+ every other default detector)"
                                                    if suite.defaults else ""))
    out.append(f"protocol:  {suite.protocol or 'each dataset declared one'}"
               + (f", window {suite.window}" if suite.window else ""))
    if suite.samples:
        out.append(f"samples:   yes; the real thing: {suite.then}")
    return out


def ending(suite: Suite, n_cells: int) -> str:
    """The line a run of ``suite`` ends with (empty unless it ran samples)."""
    if not suite.samples:
        return ""
    return (f"bench: that was the {suite.name} suite ({n_cells} cells on samples, named as "
            f"samples in each title); the real thing: {suite.then} (bench list suites)")


# ----------------------------------------------------------------------------- built-in suites

#: the chance baselines every suite runs: random over seeds 0-9, constant once
CHANCE = (Member("random", RANDOM_SEEDS), Member("constant"))

#: the quick suite's samples: the shipped samples, trimmed where a family keeps its shape
QUICK_DATASETS = (
    "hdfs",
    "hpc",
    "nab:sample=true,series=realTraffic/speed_7578",
    "smap:sample=true,channels=P-4|T-3",
    "msl:sample=true,channels=C-2|T-13",
    "synthetic:n_series=2",
    "telemetry:sample=true,probes=A*|B*|C*",
)

#: where the quick suite runs the JAX detectors: one dataset per family (logs, telemetry, a
#: fleet of univariate time series), the three the overall table ranks (complete sets, not
#: samples).  Their XLA compilations dominate a first run (2 programs per cell, 1-3 s of CPU
#: each; benchmarks/README.md, "First run"); the other datasets' tables show them in
#: `bench run --suite full` or `bench run -d NAME`.
QUICK_JAX_ON = ("hdfs", "hpc", "synthetic")

#: the JAX detectors in the quick suite: fewer epochs and no early stopping (patience=0: a
#: training program without the validation pass compiles faster, and 3-5 epochs leave nothing
#: to stop early); visible in every row and record
QUICK_DETECTORS = (
    Member("dense_ae:epochs=5,patience=0", only=QUICK_JAX_ON),
    Member("lstm_ae:epochs=3,patience=0", only=QUICK_JAX_ON),
    Member("lstm_forecast:epochs=3,patience=0", only=QUICK_JAX_ON),
    *CHANCE,
    Member("iforest"),
    Member("kde"),
)

FULL_DATASETS = ("hdfs", "hpc", "nab", "smap", "msl", "synthetic", "telemetry")
DEFAULT_DETECTORS = ("dense_ae", "lstm_ae", "lstm_forecast", "iforest", "kde")


def quick() -> Suite:
    """Every dataset family (logs, telemetry, time series) and every default detector on
    samples named as samples (2 SMAP and 2 MSL channels, 8 telemetry probes, 1 NAB series, 2
    synthetic series), random over 10 seeds: what a bare `bench run` runs.  The JAX detectors
    run 3-5 epochs without early stopping on one dataset per family (hdfs, hpc, synthetic):
    their compilation dominates a first run (timings: benchmarks/README.md, "First run")."""
    return Suite("quick", _doc(quick), QUICK_DATASETS, QUICK_DETECTORS, defaults=True,
                 samples=True, then="bench run --suite full")


def full() -> Suite:
    """Every shipped corpus complete: 58 NAB series, every SMAP (54) and MSL (27) channel,
    every telemetry probe, HDFS 100k sessions, HPC and the synthetic set; every default
    detector with its default parameters, random over 10 seeds.  NAB, SMAP/MSL and telemetry
    are found in BENCH_DATA or ../shared/data, or fetched first (bench fetch NAME)."""
    return Suite("full", _doc(full), FULL_DATASETS,
                 (*(Member(d) for d in DEFAULT_DETECTORS), *CHANCE), defaults=True)


def nab() -> Suite:
    """NAB's own procedure (--protocol nab: probation 15 %, causal scoring, one threshold per
    profile chosen on the corpus as NAB publishes it) on the 58 NAB series; its scoreboard
    values per profile are in each cell's dataset_metrics."""
    return Suite("nab", _doc(nab), ("nab",),
                 (*(Member(d) for d in DEFAULT_DETECTORS), *CHANCE), protocol="nab")


#: TSB-AD's classical detectors as bench registers them (bench list detectors, "classical");
#: one not installed is left out with a note
TSB_CLASSICAL = ("lof", "sub_lof", "sub_knn", "sub_hbos", "sub_pca", "poly", "matrix_profile",
                 "sr", "kmeans_ad")


def tsb_ad() -> Suite:
    """TSB-AD's procedure (--protocol tsb-ad: fit and score the whole series, VUS-PR with a
    per-series window equal to its period) on the TSB-AD files bench can rebuild (-d tsb-ad):
    iforest with TSB-AD's 200 trees and no harness window, as TSB-AD's IForest column, kde, and
    TSB-AD's classical detectors (lof, sub_lof, sub_knn, sub_hbos, sub_pca, poly,
    matrix_profile, sr, kmeans_ad); its deep ones (tsb_autoencoder, tsb_lstmad) are left to
    -m."""
    return Suite("tsb-ad", _doc(tsb_ad), ("tsb-ad",),
                 (Member("iforest:n_estimators=200"), Member("kde"),
                  *(Member(d) for d in TSB_CLASSICAL), *CHANCE),
                 protocol="tsb-ad", window=1)


def _doc(fn: Any) -> str:
    return " ".join((fn.__doc__ or "").split())


@bench.hookimpl
def bench_register_suites(register: Any) -> None:
    register("quick", quick)
    register("full", full)
    register("nab", nab)
    register("tsb-ad", tsb_ad)
