"""The ``dask`` executor (:mod:`bench.executors` re-exports it): cells as tasks on Dask distributed,
the per-Dask-worker state, the worker plugin that gives Dask workers bench's process hygiene,
and the task that runs one cell (isolated in a :class:`bench._exec_process.Worker` when a
timeout or memory limit is set).  Dask itself is imported only when the executor is built."""

from __future__ import annotations

import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from . import checks, progress
from ._exec_common import Emit, RunOne, _no_emit, _positive, _started, parse_size, worker_setup
from ._exec_process import ProcessExecutor, Worker, _worker_env
from ._procworker import (
    PR_SET_CHILD_SUBREAPER,
    build_manager,
    prctl,
    safely,
    start_watch,
    sweep_new,
    tree_now,
)
from .errors import BenchError, checkpoint
from .records import CellResult


def _dask_worker_state() -> dict[str, Any]:
    """Per-Dask-worker state (plugin managers by setup, sandboxes by thread), kept on the Dask
    worker object itself rather than in module globals."""
    from distributed import get_worker

    return _state_of(get_worker())


def _state_of(w: Any) -> dict[str, Any]:
    state = getattr(w, "_bench_state", None)
    if state is None:
        state = w._bench_state = {"managers": {}, "sandboxes": {}, "lock": threading.Lock(),
                                  "guard": 0}
    return state


class _DaskHygiene:
    """A Dask worker plugin: the worker leads a process group of its own (``own_group``: the
    LocalCluster bench started, so a detector that kills its group costs its worker, not the
    run, and Ctrl-C reaches bench alone), adopts its cells' orphans (subreaper) and has a guard
    process that kills what is left when the worker dies (bench killed with SIGKILL included);
    cells are swept one by one in :func:`_dask_task`."""

    name = "bench-process-hygiene"

    def __init__(self, own_group: bool):
        self.own_group = own_group

    def setup(self, worker: Any) -> None:
        if self.own_group:
            try:
                os.setpgid(0, 0)
            except OSError:
                pass
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        state = _state_of(worker)
        if not state["guard"]:
            state["guard"] = start_watch(os.getpid())

    def teardown(self, worker: Any) -> None:
        pass


def _dask_task(run_one: RunOne, cell: Any, setup: dict[str, Any]) -> CellResult:
    """A Dask task: one cell.  With a timeout or memory limit the cell runs in an isolated
    worker process owned by this Dask worker thread (reused across cells), so a fault costs the
    cell and not the Dask worker; otherwise it runs in the Dask worker itself."""
    state = _dask_worker_state()
    if setup["timeout"] is None and setup["memory_limit"] is None:
        key = repr((setup["blocked"], setup["only"], setup["plugins"]))
        with state["lock"]:
            if key not in state["managers"]:
                state["managers"][key] = build_manager(setup)
        from distributed import get_worker

        alone = get_worker().state.nthreads == 1  # else another cell's processes are here too
        keep = {state["guard"]}
        before = tree_now(keep) if alone else set()
        try:
            with progress.running(cell, None):
                return safely(run_one, cell, state["managers"][key])
        finally:
            if alone:
                sweep_new(before, keep)
    me = threading.get_ident()
    w = state["sandboxes"].get(me)
    if w is None or w.setup != setup:
        if w is not None:
            w.stop()
        w = state["sandboxes"][me] = Worker(setup, _worker_env(0))
    w.submit(run_one, cell)
    return w.wait_result(ProcessExecutor.POLL_S)


#: a Dask scheduler address: [protocol://]host[:port]
_SCHEDULER = re.compile(r"([a-z][a-z0-9+]*://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?/?")


class DaskExecutor:
    """Cells as tasks on Dask distributed: an existing cluster (``scheduler``, e.g.
    ``tcp://10.0.0.5:8786``) or a LocalCluster of ``jobs`` single-threaded worker processes.

    Only the cell (names and parameters) is sent; workers load datasets themselves through their
    own per-process cache.  Results stream back as tasks finish; one cell per worker thread is in
    flight at a time, so a worker that dies takes no other cell with it.  ``timeout`` /
    ``memory_limit`` isolate each cell in a child process of its Dask worker, exactly as the
    ``process`` executor does.  A Dask worker that dies while running a cell gives that cell
    status ``crash``.  Progress reported by detectors is not forwarded from Dask workers.
    """

    def __init__(self, *, jobs: int | None = None, scheduler: str | None = None,
                 timeout: float | None = None, memory_limit: str | int | None = None,
                 plugins: Iterable[str] = (), manager: Any = None, **_: Any):
        try:
            import distributed
        except ImportError:
            raise BenchError("--executor dask needs Dask distributed; "
                             "pip install 'bench[dask]'") from None
        import dask

        checks.positive_count("--jobs", jobs)
        self.setup = worker_setup(manager, plugins, timeout=_positive("timeout", timeout),
                                  memory_limit=parse_size(memory_limit))
        self.cluster = None
        if scheduler:
            if not _SCHEDULER.fullmatch(str(scheduler)):
                raise BenchError(f"--scheduler {scheduler!r}: write the scheduler's address, "
                                 f"e.g. tcp://10.0.0.5:8786 (as `dask scheduler` prints it)")
            try:
                self.client = distributed.Client(scheduler, timeout="20s")
            except (OSError, ValueError, TimeoutError) as exc:
                raise BenchError(f"--scheduler {scheduler}: cannot connect ({exc}); start one "
                                 f"with `dask scheduler` or leave --scheduler out") from None
        else:
            # a cell that kills its worker is not retried on the next worker
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = distributed.LocalCluster(
                    n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=50)
                self.client = distributed.Client(self.cluster)
        self._hygiene()
        self.token = os.urandom(4).hex()
        self._inflight: dict[str, Any] = {}

    def _hygiene(self) -> None:
        """Register :class:`_DaskHygiene` on every worker (present and future)."""
        from distributed import WorkerPlugin

        plugin = type("BenchHygiene", (_DaskHygiene, WorkerPlugin), {})(self.cluster is not None)
        try:
            self.client.register_plugin(plugin)
        except (OSError, TimeoutError) as exc:
            print(f"bench: warning: could not set up Dask workers' process hygiene: {exc}",
                  file=sys.stderr)

    def _slots(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except (OSError, TimeoutError):
            return 1

    def map(self, run_one: RunOne, cells: Iterable[Any], emit: Emit = _no_emit
            ) -> Iterator[CellResult]:
        from distributed import wait as dask_wait

        todo = iter(cells)

        def submit_next() -> None:
            cell = next(todo, None)
            if cell is None:
                return
            fut = self.client.submit(_dask_task, run_one, cell, self.setup, pure=False,
                                     key=f"bench-cell-{cell.index}-{self.token}")
            self._inflight[fut.key] = (fut, cell)
            _started(emit, cell)

        for _ in range(self._slots()):  # one cell per worker thread: a worker that dies
            submit_next()                 # takes no queued, innocent cell with it
        while self._inflight:
            checkpoint()  # each second of waiting is a safe point for a stop request
            try:
                done, _ = dask_wait([f for f, _ in self._inflight.values()], timeout=1.0,
                                    return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            for fut in done:
                _, cell = self._inflight.pop(fut.key)
                out = self._outcome(fut, cell)
                fut.release()  # a worker that dies later must not make Dask rerun this cell
                submit_next()
                yield out
            del done

    @staticmethod
    def _outcome(fut: Any, cell: Any) -> CellResult:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        try:
            return fut.result()
        except KilledWorker as exc:
            return CellResult.failed(cell, "crash", f"the Dask worker running this cell died "
                                     f"(KilledWorker): {str(exc).splitlines()[0][:300]}")
        except FutureCancelledError:
            return CellResult.failed(cell, "interrupted", "its Dask task was cancelled")
        except Exception as exc:
            return CellResult.failed(cell, "error",
                                     f"Dask task failed: {type(exc).__name__}: {exc}",
                                     traceback.format_exc())

    def cancel(self) -> list[CellResult]:
        out = [CellResult.failed(cell, "interrupted", "interrupted while running; its Dask task "
                                 "was cancelled") for _, cell in self._inflight.values()]
        futs = [f for f, _ in self._inflight.values()]
        self._inflight.clear()
        try:
            self.client.cancel(futs, force=True)
        except (OSError, TimeoutError) as exc:
            print(f"bench: warning: could not cancel Dask tasks: {exc}", file=sys.stderr)
        return out

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
