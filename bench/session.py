"""A :class:`Session` owns one run's execution: its plugin manager, its record, its signal
handling and its one event channel.

Modelled on pytest's ``Session`` (``pytest_runtestloop``) and ``CallInfo.from_call``: the session
plans nothing, it runs the cells it is given through an executor, turning whatever each cell does
into a :class:`CellResult` (:func:`run_one`), adding it to the :class:`RunRecord` and writing the
record after every cell.  Everything that happens is emitted through the plugin manager's
lifecycle hooks (``bench_run_started``, ``bench_cell_started``, ``bench_cell_progress``,
``bench_cell_finished``, ``bench_run_finished``); a progress display or a callback is a listener
registered on the session for the run (:meth:`Session.listen`).

SIGINT (Ctrl-C) and SIGTERM are handled alike, as pytest, asv and sqlite's shell do: the handler
only records the request (:func:`bench.errors.request_stop`); the run stops at its next safe
point (between cells, when a cell reports progress or moves to its next series, each tick of an
executor's wait), so a signal that lands in a callback whose exceptions Python ignores (JAX's
garbage-collection callback) is never lost.  A second signal, or a run that reaches no safe point
within :data:`FORCE_AFTER_S` seconds (a hung inline cell), stops it at once.  Cells that finished
are kept, the ones in flight and the ones not started are recorded as ``interrupted``, the
record's status is final (``interrupted``) and :class:`bench.errors.Interrupted` (a
KeyboardInterrupt carrying ``signum``) is raised to the caller; the ``bench`` command exits
128 + signum (130 for SIGINT, 143 for SIGTERM).  Rerunning resumes from the stored scores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pluggy

from . import chance_test, checks, progress, records, store
from ._procworker import failed_by
from .cell import Cell
from .errors import (
    BenchError,
    Interrupted,
    checkpoint,
    clear_stop,
    request_stop,
    stop_requested,
)
from .plugins import Manager
from .records import CellResult, RunRecord
from .runner import load_dataset, run_cell

hookimpl = pluggy.HookimplMarker("bench")

#: seconds a stop request waits for a safe point before the run is stopped where it is
FORCE_AFTER_S = 10.0
#: the record is rewritten after a cell at most this often (see Session._save_now_and_then)
SAVE_EVERY_S = 2.0


# ----------------------------------------------------------------------------- one cell


def run_one(cell: Cell, manager: Manager) -> CellResult:
    """Run one cell and return its result; never raises for what a plugin does (only the
    session's :class:`Interrupted` passes).  Loads the cell's dataset first (timed as
    ``load_s``), then tells the executor that the fit begins (:func:`bench.progress.phase`), so
    an isolating executor limits loading and fitting on separate clocks."""
    checkpoint()
    t0 = time.perf_counter()
    try:
        load_dataset(manager, cell.dataset)
    except Interrupted:
        raise
    except BaseException as exc:  # noqa: BLE001 - a loader's failure costs its cell only
        return failed_by(cell, exc, time.perf_counter() - t0,
                         where=f"load of dataset '{cell.dataset}': ")
    load_s = time.perf_counter() - t0
    checkpoint()
    progress.phase("fit")
    try:
        out = run_cell(cell, manager)
    except Interrupted:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt from a plugin
        return failed_by(cell, exc, time.perf_counter() - t0)
    out.load_s = round(load_s, 6)
    return out


# ----------------------------------------------------------------------------- listeners


class CellCallback:
    """A listener that calls ``fn(cell_result, done, total)`` after each cell (the ``on_cell``
    callback of :func:`bench.api.run`)."""

    def __init__(self, fn: Callable[[CellResult, int, int], None]):
        self.fn, self.done, self.total = fn, 0, 0

    @hookimpl
    def bench_run_started(self, run: dict[str, Any]) -> None:
        self.total = run["cells"]

    @hookimpl
    def bench_cell_finished(self, cell: CellResult) -> None:
        self.done += 1
        self.fn(cell, self.done, self.total)


# ----------------------------------------------------------------------------- the session


class Session:
    """One run of ``cells`` with ``manager``: ``executor`` (a registered name) with
    ``executor_options``; the record is written to ``out/RUN_ID.json`` after every cell (not
    written when ``out`` is None) and scores go to the store ``out/scores`` (reused unless
    ``reuse`` is False).  ``listeners``: objects with ``@bench.hookimpl`` methods of the
    lifecycle hooks, registered for this run only."""

    def __init__(self, cells: Sequence[Cell], *, manager: Manager,
                 out: str | Path | None = "results", executor: str = "inline",
                 executor_options: dict[str, Any] | None = None, reuse: bool = True,
                 listeners: Sequence[Any] = ()):
        if not cells:
            raise BenchError("nothing to run: the grid has no cells")
        self.manager = manager
        self.out = Path(out) if out is not None else None
        self.executor = executor
        self.executor_options = dict(executor_options or {})
        self.cells = list(cells)
        if self.out is not None:
            store = str(self.out / "scores")
            self.cells = [dataclasses.replace(c, store=store, reuse=reuse) for c in self.cells]
        self.record = RunRecord.new(self._grid(), len(self.cells))
        self.path = self.out / f"{self.record.run_id}.json" if self.out is not None else None
        self._listeners: list[Any] = []
        for obj in listeners:
            self.listen(obj)
        self._defer = False
        self._pending: int | None = None
        self._stopped = threading.Event()
        self._unsaved = False
        self._saved_at = float("-inf")  # when the record was last written (monotonic s)

    # -------------------------------------------------------------- events
    def listen(self, obj: Any) -> None:
        """Register ``obj`` (``@bench.hookimpl`` methods) on the manager's hooks for this run."""
        self._listeners.append(obj)

    @contextlib.contextmanager
    def _listening(self) -> Iterator[None]:
        names = []
        try:
            for obj in self._listeners:
                names.append(self.manager.pm.register(obj, name=f"session-listener-{id(obj)}"))
            yield
        finally:
            for name in names:
                if name and self.manager.pm.has_plugin(name):
                    self.manager.pm.unregister(name=name)

    def emit(self, hookname: str, **kwargs: Any) -> None:
        """The one event channel: a lifecycle hook on every plugin and listener."""
        self.manager.notify(hookname, **kwargs)

    def _event(self, event: dict[str, Any]) -> None:
        """What executors send: a cell started, or a detector reported its progress."""
        event = dict(event)
        kind = event.pop("kind", "")
        if kind == "started":
            self.emit("bench_cell_started", cell=event)
        elif kind == "task":
            self.emit("bench_cell_progress", progress=event)

    # -------------------------------------------------------------- signals
    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM request a stop (honoured at the next safe point); a second one,
        or no safe point within :data:`FORCE_AFTER_S`, raises :class:`Interrupted` where the run
        is (or right after the record write in progress).  The previous handlers come back
        afterwards.  Only in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        main = threading.main_thread().ident
        done = threading.Event()

        def force_later(signum: int) -> None:
            while not done.wait(FORCE_AFTER_S):
                signal.pthread_kill(main, signum)  # seen by the handler as a second signal

        def handler(signum: int, frame: Any) -> None:
            if request_stop(signum):
                threading.Thread(target=force_later, args=(signum,), daemon=True,
                                 name="bench-stop-watchdog").start()
            elif self._defer:
                self._pending = signum
            else:
                raise Interrupted(signum)

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        self._stopped = done
        try:
            yield
        finally:
            done.set()
            for s, h in previous.items():
                signal.signal(s, h)
            pending = stop_requested()
            clear_stop()
        if pending:  # it came after the last safe point (the record is final): still a stop
            raise Interrupted(pending)

    @contextlib.contextmanager
    def _deferred(self) -> Iterator[None]:
        """A block a forced stop does not break into; one that arrived meanwhile is raised
        after."""
        self._defer = True
        try:
            yield
        finally:
            self._defer = False
            if self._pending is not None:
                signum, self._pending = self._pending, None
                raise Interrupted(signum)

    # -------------------------------------------------------------- the loop
    def _grid(self) -> dict[str, Any]:
        c0 = self.cells[0]
        return {
            "datasets": sorted({str(c.dataset) for c in self.cells}),
            "detectors": sorted({str(c.detector) for c in self.cells}),
            "seeds": sorted({c.seed for c in self.cells}),
            # what was asked (each cell records the plan it ran: CellResult.plan)
            "thresholds": [str(t) for t in c0.thresholds] or ["declared by each dataset"],
            "costs": [str(c) for c in c0.costs],
            "metrics": list(c0.metrics),
            "protocol": {"name": getattr(c0.protocol, "name", "") or "declared by each dataset",
                         "standardize": c0.protocol.standardize,
                         "window": getattr(c0.protocol, "window", None)},
            "executor": self.executor,
        }

    def _isolates(self) -> bool:
        entry = self.manager.get("executor", self.executor)
        return bool(entry.meta.get("isolates", False))

    def preflight(self) -> None:
        """Before any cell: the output directory is writable and, unless the executor isolates
        cells (then loading happens in its workers, under their limits), each dataset loads;
        a :class:`BenchError` there (a missing file, bad values) is one line, nothing written.
        A loader that breaks in any other way is left to fail its own cells."""
        if self.out is not None:
            checks.output_dir(self.out, "--out")
            for d in (self.out, self.out / "scores"):  # what a killed writer left
                store.sweep_tmp(d)
        if not self._isolates():
            load_datasets(self.cells, self.manager)

    def _make_executor(self) -> Any:
        """The run's executor; an isolating one gets at most one worker per cell (``-j 8`` on a
        grid of 2 cells starts 2)."""
        options = dict(self.executor_options)
        if self._isolates() and not options.get("scheduler"):
            jobs = options.get("jobs")
            if isinstance(jobs, int) and not isinstance(jobs, bool) and jobs > len(self.cells):
                options["jobs"] = len(self.cells)
            elif jobs is None and self.executor == "dask":
                options["jobs"] = min(os.cpu_count() or 1, len(self.cells))
        return make_executor(self.manager, self.executor, options)

    def _map(self, ex: Any) -> Iterator[CellResult]:
        """``ex.map(run_one, cells, emit)``; an executor written for the older contract,
        ``map(fn, cells)`` calling ``fn(cell)``, gets ``run_one`` bound to this manager."""
        try:
            params = list(inspect.signature(ex.map).parameters.values())
        except (TypeError, ValueError):
            params = []
        if len(params) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in params):
            return ex.map(run_one, self.cells, self._event)
        return ex.map(functools.partial(run_one, manager=self.manager), self.cells)

    def _save(self) -> None:
        """Write the record; a failure (a full disk) is one :class:`BenchError`, raised once:
        the record file keeps its previous whole version (the write is atomic) and the scores
        of finished cells stay in the store, so a rerun resumes."""
        if self.path is None or self._unsaved:
            return
        try:
            records.save(self.record, self.path)
        except OSError as exc:
            self._unsaved = True
            raise BenchError(f"cannot write the run record {self.path}: "
                             f"{exc.strerror or type(exc).__name__}; free space (or pass --out "
                             f"elsewhere) and rerun the same command: finished cells' scores "
                             f"are in {self.out / 'scores'} and are reused") from None

    def _save_now_and_then(self) -> None:
        """Write the record after a cell when the last write is :data:`SAVE_EVERY_S` old: a
        record of many series re-encoded after every cell of a fast grid cost 18 of 78 s of the
        quick suite.  The record written at the end (and on an interrupt) always has every cell;
        a killed run loses at most the last seconds' cells from the record, and their scores are
        in the store, so the rerun reuses them."""
        now = time.monotonic()
        if now - self._saved_at < SAVE_EVERY_S:
            return
        self._save()
        self._saved_at = now

    def _add(self, result: CellResult) -> None:
        with self._deferred():
            self.record.add(result)
            self._save_now_and_then()
        self.emit("bench_cell_finished", cell=result)

    def _interrupt(self, ex: Any, why: str) -> None:
        """Keep what finished; mark the cells in flight and the ones not started."""
        for result in ex.cancel() if ex is not None else ():
            result.error = f"{result.error} ({why})"
            self.record.add(result)
            self.emit("bench_cell_finished", cell=result)
        done = {c.index for c in self.record.cells}
        for cell in self.cells:
            if cell.index not in done:
                self.record.add(CellResult.failed(
                    cell, "interrupted", f"the run was stopped ({why}) before this cell "
                    f"started; rerun the same command to resume"))

    def run(self) -> RunRecord:
        """Run every cell; the record (also written to :attr:`path`)."""
        self.preflight()
        ex = self._make_executor()  # a bad executor option is one line, nothing written
        with self._listening(), self._signals():
            self.emit("bench_run_started", run={
                "run_id": self.record.run_id, "cells": len(self.cells),
                "datasets": self.record.grid["datasets"],
                "detectors": self.record.grid["detectors"],
                "out": str(self.path) if self.path else None})
            interrupted = False
            try:
                checkpoint()  # a signal that came while planning, loading or starting workers
                for result in self._map(ex):
                    self._add(result)
                    checkpoint()
            except KeyboardInterrupt as exc:
                interrupted = True
                self._defer = True  # a second signal must not break the clean-up
                self._stopped.set()  # no forced stop any more
                why = signal.Signals(getattr(exc, "signum", signal.SIGINT)).name
                self._interrupt(ex, f"{why}" + (" (Ctrl-C)" if why == "SIGINT" else ""))
                raise
            finally:
                self._defer = True
                try:
                    if ex is not None:
                        ex.close()
                finally:
                    chance_test.finalise(self.record, self.manager, interrupted)
                    self.record.finish(interrupted=interrupted)
                    self._save()
                    self._defer, self._pending = False, None
                    self.emit("bench_run_finished", record=self.record,
                              path=str(self.path) if self.path else None)
        return self.record


def load_datasets(cells: Sequence[Cell], manager: Manager) -> None:
    """Load each dataset of ``cells`` once, in this process: a :class:`BenchError` (a missing
    file, bad values) is raised as it is; a loader that breaks in any other way (a plugin bug) is
    left to fail its own cells."""
    seen = set()
    for c in cells:
        if str(c.dataset) not in seen:
            seen.add(str(c.dataset))
            try:
                load_dataset(manager, c.dataset)
            except (BenchError, Interrupted):
                raise
            except SystemExit as exc:
                raise BenchError(f"dataset '{c.dataset}': its loader called sys.exit"
                                 f"({exc.code!r}); a loader must raise an exception (a "
                                 f"bench.errors.BenchError for bad input), not exit") from None
            except Exception:  # noqa: BLE001 - reported by the cells that use it
                pass


def make_executor(manager: Manager, name: str, options: dict[str, Any] | None = None) -> Any:
    """Build a registered executor; the run's plugin manager is passed to factories that take
    ``manager`` (the built-ins do, so workers rebuild the same plugin set)."""
    factory = manager.get("executor", name).factory
    options = dict(options or {})
    try:
        params = inspect.signature(factory).parameters
        if "manager" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
            options["manager"] = manager
    except (TypeError, ValueError):
        pass
    return factory(**options)
