"""The worker side of the isolating executors: a process that runs cells one at a time for its
parent and leaves nothing behind.

:class:`bench.executors.Worker` starts it as ``python -c "...; main(...)"`` in a session (and
process group) of its own.  On Linux it dies with its parent (``PR_SET_PDEATHSIG``), adopts its
orphaned descendants (``PR_SET_CHILD_SUBREAPER``), and forks a small guard that kills the whole
group when the parent or the worker is gone (the lifeline pipe closes, or the worker exits), so a
detector's child processes never outlive the run.  After every cell, whatever its outcome, the
worker kills the processes the cell left behind.

Messages to the parent, on the ``write_fd`` pipe: ``("ready", {"error", "guard"})`` once the plugin
manager is built, then per cell ``("started", index)`` (loading begins), ``("event", event)``
(progress and ``{"kind": "phase", "phase": "fit"}``) and ``("result", CellResult)``.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import psutil

from . import progress
from .errors import BenchError, Interrupted
from .records import CellResult

#: how often a worker's guard looks at the worker's process tree, seconds
GUARD_LOOK_S = 0.5
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> bool:
    """Linux ``prctl(option, value)``; False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


# ----------------------------------------------------------------------------- one cell, safely


def safely(run_one: Callable[..., Any], cell: Any, manager: Any) -> CellResult:
    """``run_one(cell, manager)``, and a failed result for anything that escapes it, by the
    exception's type: ``MemoryError`` is ``oom``; ``SystemExit`` and a plugin's
    ``KeyboardInterrupt`` are the cell's ``error``.  Only the session's :class:`Interrupted`
    (a signal the run caught) passes through."""
    t0 = time.perf_counter()
    try:
        return run_one(cell, manager)
    except Interrupted:
        raise
    except BaseException as exc:  # noqa: BLE001 - a plugin's exit or Ctrl-C costs its cell only
        return failed_by(cell, exc, time.perf_counter() - t0)


def failed_by(cell: Any, exc: BaseException, wall_s: float, where: str = "") -> CellResult:
    """The failed result of ``cell`` for an exception that ended it."""
    status = "oom" if isinstance(exc, MemoryError) else "error"
    if isinstance(exc, BenchError):
        msg = str(exc)
    elif isinstance(exc, SystemExit):
        msg = f"a plugin called sys.exit({exc.code!r}); the run went on without this cell"
    elif isinstance(exc, KeyboardInterrupt):
        msg = "a plugin raised KeyboardInterrupt; the run went on without this cell"
    else:
        msg = f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return CellResult.failed(cell, status, f"{where}{msg}", tb, wall_s)


# ----------------------------------------------------------------------------- processes


def leftovers(root: int, group: int, keep: set[int]) -> list[psutil.Process]:
    """Processes of ``root``'s tree and of process group ``group`` (-1: none), except
    ``keep``."""
    found: dict[int, psutil.Process] = {}
    try:
        for p in psutil.Process(root).children(recursive=True):
            found[p.pid] = p
    except psutil.Error:
        pass
    for p in psutil.process_iter() if group >= 0 else ():
        try:
            if p.pid not in found and os.getpgid(p.pid) == group:
                found[p.pid] = p
        except (OSError, psutil.Error):
            continue
    return [p for pid, p in found.items() if pid not in keep]


def kill_all(procs: list[psutil.Process]) -> None:
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def _reap() -> None:
    """Collect the exit status of any finished child (orphans adopted as subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep(guard: int) -> None:
    """Kill what the last cell left running (its child processes, adopted orphans, anything in
    this process group) except the guard, and reap them."""
    me = os.getpid()
    procs = leftovers(me, os.getpgid(0), {me, guard})
    kill_all(procs)
    psutil.wait_procs(procs, timeout=2)
    _reap()


def start_guard(lifeline: int, worker: int) -> int:
    """Fork a guard process; returns its pid.  The guard waits until the parent is gone (the
    lifeline pipe reaches EOF) or the worker is (the guard's parent changes), then kills the
    worker's tree and process group, itself last."""
    pid = os.fork()
    if pid:
        os.close(lifeline)
        return pid
    try:  # the guard: nothing here may raise past os._exit
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, _worker_gone)
        prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)  # wakes the guard the moment the worker dies
        me = os.getpid()
        seen: list[psutil.Process] = []  # the worker's tree as last looked at: what left the
        try:                              # group (setsid) is still known here
            while os.getppid() == worker:
                ready, _, _ = select.select([lifeline], [], [], GUARD_LOOK_S)
                if ready and not os.read(lifeline, 64):
                    break
                seen = leftovers(worker, -1, {me})
        except _WorkerGone:
            pass
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # both wake-ups may come: act once
        try:
            kill_all(seen + leftovers(worker, os.getpgid(0), {me}))
        finally:
            os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(0)


def guard_main(worker: int) -> None:
    """Body of the guard of a process bench does not start itself (a Dask worker): started as
    ``python -c "...; guard_main(PID)"`` by that process, it watches its tree and, when the process
    is gone, kills what it left: its descendants as last seen and, when it leads a process group
    of its own, that group (the guard last)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _worker_gone)
    me = os.getpid()
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
        own_group = os.getpgid(0) == worker
        seen: list[psutil.Process] = []
        try:
            while os.getppid() == worker:
                time.sleep(GUARD_LOOK_S)
                seen = leftovers(worker, -1, {me})
        except _WorkerGone:
            pass
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        kill_all(seen + leftovers(worker, os.getpgid(0) if own_group else -1, {me}))
        if own_group:
            os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(0)


def start_watch(worker: int) -> int:
    """Start :func:`guard_main` for process ``worker`` (this one); its pid."""
    import subprocess

    code = f"import bench._procworker as w; w.guard_main({worker})"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                            env=env, close_fds=True).pid


def sweep_new(before: set[int], keep: set[int]) -> int:
    """Kill (and reap) the processes of this process's tree, and of its process group when it
    leads one, that are not in ``before`` or ``keep``: what a cell left running.  How many."""
    me = os.getpid()
    group = me if os.getpgid(0) == me else -1
    procs = [p for p in leftovers(me, group, keep | {me}) if p.pid not in before]
    kill_all(procs)
    psutil.wait_procs(procs, timeout=2)
    return len(procs)


def tree_now(keep: set[int]) -> set[int]:
    """The pids :func:`sweep_new` would look at now (to pass as its ``before``)."""
    me = os.getpid()
    group = me if os.getpgid(0) == me else -1
    return {p.pid for p in leftovers(me, group, keep | {me})}


class _WorkerGone(Exception):
    """Raised in the guard by its parent-death signal."""


def _worker_gone(signum: int, frame: Any) -> None:
    raise _WorkerGone


# ----------------------------------------------------------------------------- the worker


def build_manager(setup: dict[str, Any]) -> Any:
    """The plugin manager ``setup`` describes (see :func:`bench.executors.worker_setup`)."""
    import importlib

    from .plugins import Manager

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
    return m


def warm_up() -> None:
    """Import the harness's own cell code, and the scikit-learn metrics it imports lazily,
    before the first cell: no cell's clock pays for the harness's imports."""
    import importlib

    for module in ("bench.runner", "sklearn.metrics"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def main(read_fd: int, write_fd: int, lifeline: int, parent: int) -> None:
    """Body of a worker: set up, then receive ``(run_one, cell)`` and send back its result until
    EOF or ``None``.  ``parent``: the pid to die with (0: rely on the lifeline alone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    if parent:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    guard = start_guard(lifeline, os.getpid())
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    init = inbox.recv()
    sys.path[:] = init["sys_path"]
    fault = open(init["fault_file"], "w")  # noqa: SIM115 - lives as long as the process
    faulthandler.enable(file=fault)
    lock = threading.Lock()

    def send(msg: Any) -> None:
        with lock:
            outbox.send(msg)

    try:
        manager, broken = build_manager(init["setup"]), None
        warm_up()
        from .memory import own_process

        own_process()
    except Exception as exc:
        manager, broken = None, str(exc) if isinstance(exc, BenchError) else \
            f"worker could not build its plugin manager: {type(exc).__name__}: {exc}"
    send(("ready", {"error": broken, "guard": guard}))
    while True:
        try:
            msg = inbox.recv()
        except EOFError:
            return
        if msg is None:
            return
        run_one, cell = msg
        send(("started", cell.index))
        if broken:
            out = CellResult.failed(cell, "error", broken)
        else:
            with progress.running(cell, lambda ev: send(("event", ev))):
                out = safely(run_one, cell, manager)
        sweep(guard)
        try:
            send(("result", out))
        except Exception as exc:  # an unpicklable value in the result
            send(("result", CellResult.failed(
                cell, "error", f"cell result could not be sent back: {type(exc).__name__}: "
                f"{exc}", "", out.wall_s)))
