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
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

import bench

from . import checks, progress
from ._procworker import (
    PR_SET_CHILD_SUBREAPER,
    build_manager,
    kill_all,
    leftovers,
    prctl,
    safely,
    start_watch,
    sweep_new,
    tree_now,
)
from .errors import BenchError, checkpoint
from .records import CellResult

RunOne = Callable[[Any, Any], CellResult]
Emit = Callable[[dict[str, Any]], None]

# ----------------------------------------------------------------------------- options

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6,
          "mib": 2**20, "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12,
          "tib": 2**40}


def parse_size(text: str | int | float | None) -> int | None:
    """Bytes in a size such as ``2GB`` (10^9), ``1.5GiB`` or ``2G`` (2^30), ``512MB`` or a plain
    number of bytes; ``None`` stays ``None``."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else int(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise BenchError(f"--memory-limit '{text}': write a size such as 2GB, 512MB or 1.5GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _mb(n: float) -> str:
    return f"{n / 10**6:.0f} MB"


def _positive(name: str, value: float | None) -> float | None:
    return checks.positive_seconds(f"--{name}", value)


def _no_emit(event: dict[str, Any]) -> None:
    """Where events go when the caller wants none."""


def _started(emit: Emit, cell: Any) -> None:
    emit({"kind": "started", **progress.started_event(cell)})


def worker_setup(manager: Any, plugins: Iterable[str] = (), *,
                 timeout: float | None = None, memory_limit: int | None = None) -> dict[str, Any]:
    """What a worker needs to rebuild the parent's plugin manager: blocked and allowed plugin
    names, and the plugins registered in-process (not from entry points), by module name, plus
    any ``plugins`` given as ``module`` or ``name=module``.  Small and picklable."""
    if manager is None:
        raise BenchError("an isolating executor needs the run's plugin manager (manager=)")
    extra = {info.name: info.module for info in manager.plugins.values()
             if not info.error and not info.package and not info.builtin
             and info.module not in ("__main__", "__mp_main__")}
    for p in plugins:
        name, _, module = p.rpartition("=")
        extra[name or module] = module
    return {"blocked": sorted(manager.blocked),
            "only": sorted(manager.only) if manager.only is not None else None,
            "plugins": sorted(extra.items()), "timeout": timeout, "memory_limit": memory_limit}


# ----------------------------------------------------------------------------- one worker process


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Worker:
    """The parent's handle on one isolated worker process (:mod:`bench._procworker`) running
    cells one at a time.

    The parent watches it.  Starting (imports, plugin manager) may take up to
    ``START_LIMIT_S``; then loading the cell's dataset and fitting it each get ``timeout``
    seconds, on separate clocks (the fit clock starts when the dataset is loaded).  A process
    tree whose resident memory exceeds ``memory_limit`` bytes is killed (``oom``), one that
    overruns a clock is killed (``timeout``), one that dies by itself gives ``crash``.  Killed or
    dead workers are started again on the next cell.  ``emit`` receives the cell's events.
    """

    START_LIMIT_S = 120.0

    def __init__(self, setup: dict[str, Any], env: dict[str, str], emit: Emit = _no_emit):
        self.setup, self.env, self.emit = setup, env, emit
        self.proc: subprocess.Popen[bytes] | None = None
        self.cell: Any = None
        self.phase = "idle"  # start -> load -> fit
        self.clock = 0.0  # when the current phase began (perf_counter)
        self.began = 0.0  # when the cell was submitted
        self.guard = 0
        self.restarts = -1

    # -------------------------------------------------------------- lifecycle
    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        life_r, self._lifeline = os.pipe()
        fd, self.fault_file = tempfile.mkstemp(prefix="bench-worker-", suffix=".log")
        os.close(fd)
        # die with this process only when this is the main thread: the kernel's parent-death
        # signal fires when the creating *thread* ends (Dask runs sandboxes from pool threads)
        parent = os.getpid() if threading.current_thread() is threading.main_thread() else 0
        code = (f"import bench._procworker as w; w.main({p2c_r}, {c2p_w}, {life_r}, {parent})")
        self.proc = subprocess.Popen([sys.executable, "-c", code],
                                     pass_fds=(p2c_r, c2p_w, life_r), env=self.env,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     stdout=sys.__stderr__ or subprocess.DEVNULL)
        for fd in (p2c_r, c2p_w, life_r):
            os.close(fd)
        self.inbox = Connection(c2p_r, writable=False)
        self.outbox = Connection(p2c_w, readable=False)
        self.outbox.send({"sys_path": list(sys.path), "setup": self.setup,
                          "fault_file": self.fault_file})
        self.restarts += 1
        self.guard = 0

    def submit(self, run_one: RunOne, cell: Any) -> None:
        if not self.alive:
            self.start()
        self.cell, self.phase = cell, "start"
        self.clock = self.began = time.perf_counter()
        self.outbox.send((run_one, cell))

    def kill(self) -> None:
        """Kill the worker's process group and every process of its tree.  When the worker is
        already dead its guard (which knew its tree) is given a moment to clean up first."""
        if self.proc is None:
            return
        if self.proc.poll() is not None and self.guard:
            _wait_gone(self.guard, GUARD_GRACE_S)
        procs = leftovers(self.proc.pid, self.proc.pid, set())
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        kill_all(procs)  # not waited for: they are not this process's children
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def stop(self) -> None:
        """Ask an idle worker to exit, then make sure its whole group is gone."""
        if self.proc is None:
            return
        try:
            self.outbox.send(None)
            self.proc.wait(timeout=1.0)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()
        self.proc = None

    def _close_pipes(self) -> None:
        for c in (getattr(self, "inbox", None), getattr(self, "outbox", None)):
            try:
                if c is not None:
                    c.close()
            except OSError:
                pass
        for fd in (getattr(self, "_lifeline", None),):
            try:
                if fd is not None:
                    os.close(fd)
            except OSError:
                pass
        self._lifeline = None
        try:
            os.unlink(self.fault_file)
        except OSError:
            pass

    def rss(self) -> int:
        """Resident memory of the worker and its children (not its guard), in bytes; 0 if it
        is gone."""
        try:
            p = psutil.Process(self.proc.pid)
            total = p.memory_info().rss
            for k in p.children(recursive=True):
                if k.pid == self.guard:
                    continue
                try:
                    total += k.memory_info().rss
                except psutil.Error:
                    pass
            return total
        except (psutil.Error, AttributeError):
            return 0

    # -------------------------------------------------------------- watching
    def _receive(self) -> CellResult | None:
        while self.inbox.poll():
            kind, payload = self.inbox.recv()
            if kind == "ready":
                self.guard = payload.get("guard", 0)
            elif kind == "started":
                self.phase, self.clock = "load", time.perf_counter()
            elif kind == "event" and payload.get("kind") == "phase":
                self.phase, self.clock = payload["phase"], time.perf_counter()
            elif kind == "event":
                self.emit(payload)
            elif kind == "result":
                self.cell, self.phase = None, "idle"
                return payload
        return None

    def _limit(self) -> float | None:
        return self.START_LIMIT_S if self.phase == "start" else self.setup.get("timeout")

    def check(self) -> CellResult | None:
        """The current cell's result if it is over (finished, failed or killed), else None."""
        try:
            out = self._receive()
        except (EOFError, OSError):
            return self._died()
        if out is not None:
            return out
        limit = self._limit()
        if limit is not None and time.perf_counter() - self.clock > limit:
            return self._overrun(limit)
        mem = self.setup.get("memory_limit")
        if mem is not None:
            rss = self.rss()
            if rss > mem:
                what = "loading the dataset" if self.phase == "load" else "running the cell"
                return self._fail("oom", f"worker process memory {_mb(rss)} exceeded the limit "
                                  f"of {_mb(mem)} (--memory-limit) while {what}; it was "
                                  f"killed and replaced")
        return None

    def _overrun(self, limit: float) -> CellResult:
        if self.phase == "start":
            return self._fail("crash", f"worker process did not start within {limit:.0f} s; "
                              f"killed")
        what = "loading its dataset" if self.phase == "load" else "the cell"
        return self._fail("timeout", f"{what} exceeded the wall-clock limit of {limit:g} s "
                          f"(--timeout, counted from the start of the "
                          f"{'load' if self.phase == 'load' else 'fit'}); its worker process "
                          f"was killed and replaced")

    def deadline(self) -> float:
        """Seconds until this worker's current phase times out (1 without a limit)."""
        limit = self._limit()
        if limit is None or self.cell is None:
            return 1.0
        return max(0.0, self.clock + limit - time.perf_counter())

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def _fail(self, status: str, message: str, tb: str = "") -> CellResult:
        cell, wall = self.cell, self.elapsed()
        self.kill()
        self.cell, self.phase = None, "idle"
        return CellResult.failed(cell, status, message, tb, wall)

    def _died(self) -> CellResult:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        try:
            with open(self.fault_file) as f:
                tb = f.read().strip()
        except OSError:
            tb = ""
        how = ("did not exit" if code is None else
               f"was killed by {_signal_name(code)}" if code < 0 else f"exited with code {code}")
        if code == -signal.SIGKILL:
            how += " (possibly the system's out-of-memory killer)"
        where = "loading the dataset" if self.phase == "load" else "running the cell"
        return self._fail("crash", f"worker process {how} while {where}; replaced", tb)

    def wait_result(self, poll_s: float) -> CellResult:
        """Block until the current cell is over; its result."""
        while True:
            wait([self.inbox], timeout=poll_s if self.setup.get("memory_limit") else
                 max(0.001, min(1.0, self.deadline())))
            out = self.check()
            if out is not None:
                return out


#: seconds a dead worker's guard gets to kill the processes the worker left
GUARD_GRACE_S = 2.0


def _wait_gone(pid: int, limit_s: float) -> None:
    """Wait until process ``pid`` (not a child of this one) has exited, at most ``limit_s``."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.01)


def _worker_env(i: int) -> dict[str, str]:
    """Worker ``i``'s environment: JAX never preallocates GPU memory, and when
    ``CUDA_VISIBLE_DEVICES`` lists several devices each worker sees one (round-robin)."""
    env = dict(os.environ)
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env["PYTHONUNBUFFERED"] = "1"
    devices = [d for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if len(devices) > 1:
        env["CUDA_VISIBLE_DEVICES"] = devices[i % len(devices)]
    return env


# ----------------------------------------------------------------------------- executors


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


class ProcessExecutor:
    """A local pool of ``jobs`` worker processes (default: one per CPU core), each running one
    cell at a time, reused while healthy.

    ``timeout``: wall-clock seconds for loading a cell's dataset and, separately, for fitting and
    evaluating it; ``memory_limit``: bytes or text such as ``2GB``, checked against the
    worker's resident memory (with its child processes) every 20 ms; ``plugins``: extra plugin
    modules (``module`` or ``name=module``) to register in each worker, beyond the entry points
    and the plugins registered in this process's manager.
    """

    POLL_S = 0.02

    def __init__(self, *, jobs: int | None = None, timeout: float | None = None,
                 memory_limit: str | int | None = None, plugins: Iterable[str] = (),
                 manager: Any = None, scheduler: str | None = None, **_: Any):
        if scheduler is not None:
            raise BenchError("--scheduler is for --executor dask")
        self.jobs = checks.positive_count("--jobs", jobs) or os.cpu_count() or 1
        self.setup = worker_setup(manager, plugins, timeout=_positive("timeout", timeout),
                                  memory_limit=parse_size(memory_limit))
        self.workers: list[Worker] = []

    def map(self, run_one: RunOne, cells: Iterable[Any], emit: Emit = _no_emit
            ) -> Iterator[CellResult]:
        pending = deque(cells)
        n = min(self.jobs, len(pending))
        self.workers = [Worker(self.setup, _worker_env(i), emit) for i in range(n)]
        mem = self.setup["memory_limit"]
        while pending or any(w.cell is not None for w in self.workers):
            checkpoint()  # each tick (at most a second) is a safe point for a stop request
            for w in self.workers:
                if w.cell is None and pending:
                    cell = pending.popleft()
                    w.submit(run_one, cell)
                    _started(emit, cell)
            busy = [w for w in self.workers if w.cell is not None]
            tick = self.POLL_S if mem else min(1.0, *(w.deadline() for w in busy))
            wait([w.inbox for w in busy], timeout=max(tick, 0.001))
            for w in busy:
                out = w.check()
                if out is None:
                    continue
                if mem and w.alive and w.rss() > mem / 2:
                    w.stop()  # start the next cell in a fresh process, not a bloated one
                yield out

    def cancel(self) -> list[CellResult]:
        out = []
        for w in self.workers:
            if w.cell is not None:
                out.append(CellResult.failed(
                    w.cell, "interrupted", "interrupted while running; its worker process was "
                    "killed", "", w.elapsed()))
                w.kill()
                w.cell = None
        return out

    def close(self) -> None:
        for w in self.workers:
            if w.cell is not None:
                w.kill()
            else:
                w.stop()


# ----------------------------------------------------------------------------- dask


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


# ----------------------------------------------------------------------------- helpers


def default_executor(executor: str | None, jobs: int | None) -> str:
    """``--executor`` when given, else ``process`` for ``--jobs`` above one, else ``inline``."""
    return executor or ("process" if jobs and jobs > 1 else "inline")


@bench.hookimpl
def bench_register_executors(register):
    register("inline", InlineExecutor, isolates=False)
    register("process", ProcessExecutor, isolates=True)
    register("dask", DaskExecutor, isolates=True)
