"""Executors run cells: ``inline`` (in this process), ``process`` (a local pool of isolated worker
processes with a per-cell timeout and memory limit) and ``dask`` (Dask distributed).

Every executor has ``map(run_one, cells, emit)``, yielding one :class:`CellResult` per cell as
cells finish (any order), ``cancel()``, returning an ``interrupted`` result for each cell still
in flight (after Ctrl-C or SIGTERM), and ``close()``.  ``run_one(cell, manager)`` comes from the
run's :class:`bench.session.Session`; executors never import the runner.  ``emit(event)``
receives ``started`` events and the progress a cell reports (see :mod:`bench.progress`).

A cell that raises, hangs, exceeds its memory limit or kills its process costs only itself: its
result has status ``error``, ``timeout``, ``oom`` or ``crash``, a one-line ``error`` and the
``traceback`` where there is one, and the run goes on.  In the isolating executors each worker
is a process group of its own whose leftovers are killed after every cell (see
:mod:`bench._procworker`); loading the dataset and fitting are timed and limited separately.

The process executor lives in :mod:`bench._exec_process`, the Dask executor in
:mod:`bench._exec_dask` and what they share in :mod:`bench._exec_common`; every name is
re-exported here, so ``from bench.executors import ...`` works as before.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import psutil

import bench

from . import checks, progress
from ._exec_common import (  # noqa: F401  (re-exported)
    _UNITS,
    Emit,
    RunOne,
    _mb,
    _no_emit,
    _positive,
    _started,
    parse_size,
    worker_setup,
)
from ._exec_dask import (  # noqa: F401  (re-exported)
    _SCHEDULER,
    DaskExecutor,
    _dask_task,
    _dask_worker_state,
    _DaskHygiene,
    _state_of,
)
from ._exec_process import (  # noqa: F401  (re-exported)
    GUARD_GRACE_S,
    ProcessExecutor,
    Worker,
    _signal_name,
    _wait_gone,
    _worker_env,
)
from ._procworker import PR_SET_CHILD_SUBREAPER, prctl, safely
from .errors import BenchError, checkpoint
from .records import CellResult

# ----------------------------------------------------------------------------- inline


def _children() -> set[int]:
    try:
        return {p.pid for p in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return set()


def _kill_new_children(before: set[int]) -> None:
    """Kill (and reap) this process's descendants that were not there before a cell."""
    try:
        new = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    except psutil.Error:
        return
    for p in new:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(new, timeout=5)


#: non-daemon threads that inline cells left running: the ``bench`` command exits without
#: waiting for them (:func:`left_threads`)
_LEFT_THREADS: list[threading.Thread] = []


def _note_left_threads(cell: Any, before: set[threading.Thread]) -> None:
    new = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    if new:
        _LEFT_THREADS.extend(new)
        names = ", ".join(repr(t.name) for t in new)
        print(f"bench: warning: {cell.dataset} x {cell.detector}: the detector left "
              f"{len(new)} thread(s) running after its cell ({names}); the bench command will "
              f"not wait for them", file=sys.stderr)


def left_threads() -> list[threading.Thread]:
    """Non-daemon threads an inline cell started and left running, still alive."""
    return [t for t in _LEFT_THREADS if t.is_alive()]


class InlineExecutor:
    """Runs each cell in this process, one after another, in grid order, with ``manager``.  No
    isolation: a hang or a crash stops the run (use ``--executor process`` for timeouts and
    memory limits), but a plugin's exception, ``sys.exit()`` or ``KeyboardInterrupt`` costs
    only its cell.  Child processes that a cell started and left running are killed when it
    ends (a child that detached itself from this process's tree is out of reach: use
    ``process``, whose workers own a process group)."""

    def __init__(self, *, jobs: int | None = None, timeout: float | None = None,
                 memory_limit: str | int | None = None, scheduler: str | None = None,
                 manager: Any = None, **_: Any):
        checks.positive_count("--jobs", jobs)
        if timeout is not None or memory_limit is not None:
            raise BenchError("--timeout and --memory-limit need an executor that isolates "
                             "cells; add --executor process")
        if jobs is not None and jobs > 1:
            raise BenchError(f"--jobs {jobs}: the inline executor runs one cell at a time; "
                             f"add --executor process (or dask) to run cells in parallel")
        if scheduler is not None:
            raise BenchError("--scheduler is for --executor dask")
        if manager is None:
            raise BenchError("the inline executor needs the run's plugin manager (manager=)")
        self.manager = manager
        self._current: Any = None

    def map(self, run_one: RunOne, cells: Iterable[Any], emit: Emit = _no_emit
            ) -> Iterator[CellResult]:
        def sink(event: dict[str, Any]) -> None:  # a cell's progress is a safe point
            checkpoint()
            emit(event)

        # orphans of a cell's processes (a daemon's double fork) come back to this process,
        # so the sweep after each cell finds them; restored when the run is over
        reaper = prctl(PR_SET_CHILD_SUBREAPER, 1)
        try:
            yield from self._cells(run_one, cells, emit, sink)
        finally:
            if reaper:
                prctl(PR_SET_CHILD_SUBREAPER, 0)

    def _cells(self, run_one: RunOne, cells: Iterable[Any], emit: Emit,
               sink: Emit) -> Iterator[CellResult]:
        for cell in cells:
            checkpoint()
            self._current = cell
            _started(emit, cell)
            before, threads = _children(), set(threading.enumerate())
            try:
                with progress.running(cell, sink):
                    out = safely(run_one, cell, self.manager)
            finally:
                _kill_new_children(before)
                _note_left_threads(cell, threads)
            self._current = None
            yield out

    def cancel(self) -> list[CellResult]:
        cell, self._current = self._current, None
        return [CellResult.failed(cell, "interrupted", "interrupted while running")] \
            if cell else []

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- helpers


def default_executor(executor: str | None, jobs: int | None) -> str:
    """``--executor`` when given, else ``process`` for ``--jobs`` above one, else ``inline``."""
    return executor or ("process" if jobs and jobs > 1 else "inline")


@bench.hookimpl
def bench_register_executors(register):
    register("inline", InlineExecutor, isolates=False)
    register("process", ProcessExecutor, isolates=True)
    register("dask", DaskExecutor, isolates=True)
