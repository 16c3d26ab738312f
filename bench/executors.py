"""Executors run cells: ``inline`` (in this process), ``process`` (a local pool of isolated worker
processes with a per-cell timeout and memory limit) and ``dask`` (Dask distributed).

Every executor has ``map(fn, cells)``, yielding one record entry per cell as cells finish (any
order; each entry has ``index``), ``cancel()``, returning an ``interrupted`` entry for each cell
still in flight (after Ctrl-C), and ``close()``.  :func:`run_all` drives one with Ctrl-C handled.

A cell that raises, hangs, exceeds its memory limit or kills its process costs only itself: its
entry has status ``error``, ``timeout``, ``oom`` or ``crash``, a one-line ``error`` and the
``traceback`` where there is one, and the run goes on.
"""

from __future__ import annotations

import importlib
import inspect
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
from typing import Any

import bench

from . import checks, progress
from .errors import BenchError

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


# ----------------------------------------------------------------------------- worker side


def worker_setup(manager: Any = None, plugins: Iterable[str] = (), *,
                 timeout: float | None = None, memory_limit: int | None = None) -> dict[str, Any]:
    """What a worker needs to rebuild the parent's plugin manager: blocked and allowed plugin
    names, and the plugins registered in-process (not from entry points), by module name, plus
    any ``plugins`` given as ``module`` or ``name=module``.  Small and picklable."""
    from .plugins import get_manager

    manager = manager or get_manager()
    extra = {info.name: info.module for info in manager.plugins.values()
             if not info.error and not info.package and not info.builtin
             and info.module not in ("__main__", "__mp_main__")}
    for p in plugins:
        name, _, module = p.rpartition("=")
        extra[name or module] = module
    return {"blocked": sorted(manager.blocked),
            "only": sorted(manager.only) if manager.only is not None else None,
            "plugins": sorted(extra.items()), "timeout": timeout, "memory_limit": memory_limit}


_MANAGERS: dict[str, Any] = {}
_MANAGERS_LOCK = threading.Lock()


def worker_manager(setup: dict[str, Any]) -> Any:
    """The plugin manager for ``setup`` in this (worker) process, built once and reused."""
    from .plugins import Manager

    key = repr((setup["blocked"], setup["only"], setup["plugins"]))
    with _MANAGERS_LOCK:
        if key not in _MANAGERS:
            m = Manager(blocked=setup["blocked"], only=setup["only"])
            for name, module in setup["plugins"]:
                if name in m.plugins:
                    continue
                try:
                    mod = importlib.import_module(module)
                except Exception as exc:
                    raise BenchError(
                        f"worker could not import plugin module '{module}' ({type(exc).__name__}: "
                        f"{exc}); install it on the workers or put its folder on their PYTHONPATH"
                    ) from exc
                m.register(mod, name)
            _MANAGERS[key] = m
        return _MANAGERS[key]


def _classify(out: Any) -> Any:
    """A cell that failed with MemoryError ran out of memory: status ``oom``."""
    last = (out.traceback or "").strip().splitlines()[-1:] or [""]
    if out.status == "error" and last[0].startswith("MemoryError"):
        out.status = "oom"
    return out


def call_cell(fn: Callable[..., dict[str, Any]], cell: Any, setup: dict[str, Any] | None
              ) -> dict[str, Any]:
    """Run ``fn(cell)`` with the manager of ``setup`` (``fn`` takes ``manager=`` when it can);
    never raises: anything that escapes ``fn`` becomes a status ``error`` entry."""
    from .records import CellResult

    t0 = time.perf_counter()
    try:
        with progress.running(cell):
            if setup is None:
                return _classify(fn(cell))
            manager = worker_manager(setup)
            if "manager" in inspect.signature(fn).parameters:
                return _classify(fn(cell, manager=manager))
            from .plugins import set_manager

            set_manager(manager)
            return _classify(fn(cell))
    except Exception as exc:
        tb = traceback.format_exc()
        out = CellResult.failed(cell, "error", f"{type(exc).__name__}: {exc}" if not
                          isinstance(exc, BenchError) else str(exc), tb,
                          time.perf_counter() - t0)
        return _classify(out)


def _worker_main(read_fd: int, write_fd: int) -> None:
    """Body of a ``process`` worker: receive (fn, cell), send back its entry, until EOF."""
    import faulthandler
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    init = inbox.recv()
    sys.path[:] = init["sys_path"]
    fault = open(init["fault_file"], "w")  # noqa: SIM115 - lives as long as the process
    faulthandler.enable(file=fault)
    send_lock = threading.Lock()

    def send(msg: Any) -> None:
        with send_lock:
            outbox.send(msg)

    progress.set_forwarder(lambda event: send(("progress", event)))
    while True:
        try:
            msg = inbox.recv()
        except EOFError:
            return
        if msg is None:
            return
        fn, cell = msg
        send(("started", cell.index))
        out = call_cell(fn, cell, init["setup"])
        try:
            send(("result", out))
        except Exception as exc:  # an unpicklable value in the entry
            from .records import CellResult

            send(("result", CellResult.failed(cell, "error", f"cell result could not be sent back: "
                                        f"{type(exc).__name__}: {exc}", "", out.wall_s)))


# ----------------------------------------------------------------------------- one worker process


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Worker:
    """One isolated worker process running cells one at a time.

    The parent watches it: a cell running longer than ``timeout`` seconds, or a process tree
    whose resident memory exceeds ``memory_limit`` bytes, is killed (status ``timeout`` /
    ``oom``); a process that dies by itself gives status ``crash``.  Killed or dead workers are
    started again on the next cell.  Workers ignore SIGINT; the parent handles Ctrl-C.
    """

    START_LIMIT_S = 120.0

    def __init__(self, setup: dict[str, Any], env: dict[str, str]):
        self.setup = setup
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.cell: Any = None
        self.started_at: float | None = None  # when the worker began the current cell
        self.sent_at = 0.0
        self.restarts = -1

    # -------------------------------------------------------------- lifecycle
    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        from multiprocessing.connection import Connection

        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        fd, self.fault_file = tempfile.mkstemp(prefix="bench-worker-", suffix=".log")
        os.close(fd)
        code = f"import bench.executors as e; e._worker_main({p2c_r}, {c2p_w})"
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(p2c_r, c2p_w),
                                     env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=sys.__stderr__ or subprocess.DEVNULL)
        os.close(p2c_r)
        os.close(c2p_w)
        self.inbox = Connection(c2p_r, writable=False)
        self.outbox = Connection(p2c_w, readable=False)
        self.outbox.send({"sys_path": list(sys.path), "setup": self.setup,
                          "fault_file": self.fault_file})
        self.restarts += 1

    def submit(self, fn: Callable[..., Any], cell: Any) -> None:
        if not self.alive:
            self.start()
        self.cell, self.started_at, self.sent_at = cell, None, time.perf_counter()
        self.outbox.send((fn, cell))

    def kill(self) -> None:
        """Kill the worker and any processes it started."""
        if self.proc is None:
            return
        try:
            import psutil

            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:
            kids = []
        for k in kids:
            try:
                k.kill()
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def stop(self) -> None:
        """Ask an idle worker to exit; kill it if it does not within a second."""
        if self.proc is None:
            return
        try:
            self.outbox.send(None)
            self.proc.wait(timeout=1.0)
        except Exception:
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
        try:
            os.unlink(self.fault_file)
        except OSError:
            pass

    def rss(self) -> int:
        """Resident memory of the worker and its children, in bytes (0 if it is gone)."""
        import psutil

        try:
            p = psutil.Process(self.proc.pid)
            total = p.memory_info().rss
            for k in p.children(recursive=True):
                try:
                    total += k.memory_info().rss
                except psutil.Error:
                    pass
            return total
        except Exception:
            return 0

    # -------------------------------------------------------------- watching
    def check(self) -> dict[str, Any] | None:
        """The current cell's entry if it is over (finished, failed or killed), else None."""
        try:
            while self.inbox.poll():
                kind, payload = self.inbox.recv()
                if kind == "started":
                    self.started_at = time.perf_counter()
                elif kind == "progress":
                    progress.dispatch(payload)
                elif kind == "result":
                    self.cell = None
                    return payload
        except (EOFError, OSError):
            return self._died()
        limit = self.setup.get("timeout")
        now = time.perf_counter()
        if self.started_at is None:
            if now - self.sent_at > self.START_LIMIT_S:
                return self._fail("crash", f"worker process did not start within "
                                  f"{self.START_LIMIT_S:.0f} s; killed")
        elif limit is not None and now - self.started_at > limit:
            return self._fail("timeout", f"cell exceeded the wall-clock limit of {limit:g} s "
                              f"(--timeout); its worker process was killed and replaced")
        mem = self.setup.get("memory_limit")
        if mem is not None:
            rss = self.rss()
            if rss > mem:
                return self._fail("oom", f"worker process memory {_mb(rss)} exceeded the limit "
                                  f"of {_mb(mem)} (--memory-limit); it was killed and replaced")
        return None

    def deadline(self) -> float:
        """Seconds until this worker's cell times out (a large number without a timeout)."""
        limit = self.setup.get("timeout")
        if limit is None or self.started_at is None:
            return 1.0
        return max(0.0, self.started_at + limit - time.perf_counter())

    def _elapsed(self) -> float:
        return time.perf_counter() - (self.started_at or self.sent_at)

    def _fail(self, status: str, message: str, tb: str = "") -> dict[str, Any]:
        from .records import CellResult

        cell, wall = self.cell, self._elapsed()
        self.kill()
        self.cell = None
        return CellResult.failed(cell, status, message, tb, wall)

    def _died(self) -> dict[str, Any]:
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
        return self._fail("crash", f"worker process {how} while running the cell; replaced", tb)


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


class InlineExecutor:
    """Runs each cell in this process, one after another, in grid order, with ``manager`` when
    given (else the process-wide one).  No isolation: a hang or crash stops the run (use
    ``--executor process`` for timeouts and memory limits)."""

    def __init__(self, *, jobs: int | None = None, timeout: float | None = None,
                 memory_limit: str | int | None = None, scheduler: str | None = None,
                 manager: Any = None, **_: Any):
        self.manager = manager
        checks.positive_count("--jobs", jobs)
        if timeout is not None or memory_limit is not None:
            raise BenchError("--timeout and --memory-limit need an executor that isolates "
                             "cells; add --executor process")
        if jobs is not None and jobs > 1:
            raise BenchError(f"--jobs {jobs}: the inline executor runs one cell at a time; "
                             f"add --executor process (or dask) to run cells in parallel")
        if scheduler is not None:
            raise BenchError("--scheduler is for --executor dask")
        self._current: Any = None

    def map(self, fn: Callable[[Any], Any], cells: Iterable[Any]) -> Iterator[Any]:
        for cell in cells:
            self._current = cell
            progress.started(cell)
            with progress.running(cell):
                if self.manager is not None and "manager" in inspect.signature(fn).parameters:
                    out = _classify(fn(cell, manager=self.manager))
                else:
                    out = _classify(fn(cell))
            self._current = None
            yield out

    def cancel(self) -> list[dict[str, Any]]:
        from .records import CellResult

        cell, self._current = self._current, None
        return [CellResult.failed(cell, "interrupted", "interrupted (Ctrl-C)")] if cell else []

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A local pool of ``jobs`` worker processes (default: one per CPU core), each running one
    cell at a time, reused while healthy.

    ``timeout``: wall-clock seconds per cell; ``memory_limit``: bytes or text such as ``2GB``,
    checked against the worker's resident memory (with its child processes) every 20 ms;
    ``plugins``: extra plugin modules (``module`` or ``name=module``) to register in each worker,
    beyond the entry points and the plugins registered in this process's manager.
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

    def map(self, fn: Callable[[Any], Any], cells: Iterable[Any]) -> Iterator[Any]:
        pending = deque(cells)
        n = min(self.jobs, len(pending))
        self.workers = [Worker(self.setup, _worker_env(i)) for i in range(n)]
        from multiprocessing.connection import wait

        mem = self.setup["memory_limit"]
        while pending or any(w.cell is not None for w in self.workers):
            for w in self.workers:
                if w.cell is None and pending:
                    w.submit(fn, pending[0])
                    progress.started(pending.popleft())
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

    def cancel(self) -> list[dict[str, Any]]:
        from .records import CellResult

        out = []
        for w in self.workers:
            if w.cell is not None:
                out.append(CellResult.failed(
                    w.cell, "interrupted", "interrupted (Ctrl-C); its worker process was killed",
                    "", w._elapsed()))
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

_SANDBOXES = threading.local()


def _dask_task(fn: Callable[..., Any], cell: Any, setup: dict[str, Any]) -> dict[str, Any]:
    """A Dask task: one cell.  With a timeout or memory limit the cell runs in an isolated
    worker process owned by this Dask worker thread (reused across cells), so a fault costs the
    cell and not the Dask worker; otherwise it runs in the Dask worker itself."""
    if setup["timeout"] is None and setup["memory_limit"] is None:
        return call_cell(fn, cell, setup)
    from multiprocessing.connection import wait

    w = getattr(_SANDBOXES, "worker", None)
    if w is None or w.setup != setup:
        if w is not None:
            w.stop()
        w = _SANDBOXES.worker = Worker(setup, _worker_env(0))
    w.submit(fn, cell)
    while True:
        wait([w.inbox], timeout=ProcessExecutor.POLL_S if setup["memory_limit"] else
             max(0.001, min(1.0, w.deadline())))
        out = w.check()
        if out is not None:
            return out


class DaskExecutor:
    """Cells as tasks on Dask distributed: an existing cluster (``scheduler``, e.g.
    ``tcp://10.0.0.5:8786``) or a LocalCluster of ``jobs`` single-threaded worker processes.

    Only the cell (names and parameters) is sent; workers load datasets themselves through their
    own per-process cache.  Results stream back as tasks finish; one cell per worker thread is in
    flight at a time, so a worker that dies takes no other cell with it.  ``timeout`` /
    ``memory_limit`` isolate each cell in a child process of its Dask worker, exactly as the
    ``process`` executor does.  A Dask worker that
    dies while running a cell gives that cell status ``crash``.
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

        self.setup = worker_setup(manager, plugins, timeout=_positive("timeout", timeout),
                                  memory_limit=parse_size(memory_limit))
        self.cluster = None
        if scheduler:
            try:
                self.client = distributed.Client(scheduler, timeout="20s")
            except OSError as exc:
                raise BenchError(f"--scheduler {scheduler}: cannot connect ({exc}); start one "
                                 f"with `dask scheduler` or leave --scheduler out") from None
        else:
            # a cell that kills its worker is not retried on the next worker
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = distributed.LocalCluster(
                    n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=50)
                self.client = distributed.Client(self.cluster)
        self.token = os.urandom(4).hex()
        self._inflight: dict[str, Any] = {}

    def _slots(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:
            return 1

    def map(self, fn: Callable[[Any], Any], cells: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        todo = iter(cells)
        ac = as_completed()

        def submit_next() -> None:
            cell = next(todo, None)
            if cell is None:
                return
            fut = self.client.submit(_dask_task, fn, cell, self.setup, pure=False,
                                     key=f"bench-cell-{cell.index}-{self.token}")
            self._inflight[fut.key] = (fut, cell)
            progress.started(cell)
            ac.add(fut)

        for _ in range(self._slots()):  # one cell per worker thread: a worker that dies
            submit_next()                 # takes no queued, innocent cell with it
        for fut in ac:
            _, cell = self._inflight.pop(fut.key)
            out = self._outcome(fut, cell)
            submit_next()
            yield out

    @staticmethod
    def _outcome(fut: Any, cell: Any) -> dict[str, Any]:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        from .records import CellResult

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

    def cancel(self) -> list[dict[str, Any]]:
        from .records import CellResult

        out = []
        futs = [f for f, _ in self._inflight.values()]
        for _, cell in self._inflight.values():
            out.append(CellResult.failed(cell, "interrupted", "interrupted (Ctrl-C); its Dask task "
                                   "was cancelled"))
        self._inflight.clear()
        try:
            self.client.cancel(futs, force=True)
        except Exception:
            pass
        return out

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


# ----------------------------------------------------------------------------- driving


def run_all(ex: Any, fn: Callable[[Any], Any], cells: Iterable[Any],
            on_result: Callable[[dict[str, Any]], None]) -> None:
    """Feed every cell's entry to ``on_result`` as it finishes.  On Ctrl-C the cells still in
    flight are fed as status ``interrupted`` and KeyboardInterrupt is raised again."""
    try:
        for out in ex.map(fn, cells):
            on_result(out)
    except KeyboardInterrupt:
        for out in getattr(ex, "cancel", list)():
            on_result(out)
        raise


def default_executor(executor: str | None, jobs: int | None) -> str:
    """``--executor`` when given, else ``process`` for ``--jobs`` above one, else ``inline``."""
    return executor or ("process" if jobs and jobs > 1 else "inline")


@bench.hookimpl
def bench_register_executors(register):
    register("inline", InlineExecutor)
    register("process", ProcessExecutor)
    register("dask", DaskExecutor)
