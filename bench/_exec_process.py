"""The ``process`` executor (:mod:`bench.executors` re-exports it): a local pool of isolated worker
processes (:mod:`bench._procworker`), each watched by the parent's :class:`Worker` handle, with
a per-cell timeout (loading and fitting on separate clocks) and memory limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

from . import checks
from ._exec_common import Emit, RunOne, _mb, _no_emit, _positive, _started, parse_size, worker_setup
from ._procworker import kill_all, leftovers
from .errors import BenchError, checkpoint
from .records import CellResult

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


# ----------------------------------------------------------------------------- executor


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
