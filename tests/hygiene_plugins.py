"""Detectors that leave things behind, for the process-hygiene tests (issue 22): a daemon
(double fork, so its parent is gone before the cell ends), a kill of the detector's own process
group, a non-daemon thread that never ends.  Real ``bench`` plugins; workers import this module
by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from fault_plugins import ZScore

import bench


class Daemonizes(ZScore):
    """Starts a process that double-forks into a daemon (its pid appended to ``pidfile``)
    and returns: the daemon's parent is gone before the cell ends."""

    def __init__(self, *, pidfile: str = "", k: float = 3.0):
        super().__init__(k=k)
        self.pidfile = pidfile

    def fit(self, X, *, X_val=None, seed=0):
        code = ("import os, sys, time\n"
                "if os.fork(): os._exit(0)\n"
                "os.setsid()\n"
                "if os.fork(): os._exit(0)\n"
                "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
                "time.sleep(600)\n")
        subprocess.run([sys.executable, "-c", code, self.pidfile], check=True)
        deadline = time.time() + 10
        while time.time() < deadline and not open(self.pidfile).read().strip():
            time.sleep(0.02)
        return super().fit(X)


class KillsItsGroup(ZScore):
    """Kills its own process group (as a careless `kill 0` in a wrapper script does)."""

    def fit(self, X, *, X_val=None, seed=0):
        os.killpg(0, signal.SIGKILL)
        time.sleep(5)
        return super().fit(X)


class LeavesThread(ZScore):
    """Starts a non-daemon thread that never ends."""

    def fit(self, X, *, X_val=None, seed=0):
        threading.Thread(target=lambda: time.sleep(3600), name="plugin-forever",
                         daemon=False).start()
        return super().fit(X)


def exits_loading():
    """A dataset loader that calls ``sys.exit(3)``."""
    sys.exit(3)


@bench.hookimpl
def bench_register_datasets(register):
    register("exits_loading", exits_loading)


@bench.hookimpl
def bench_register_detectors(register):
    register("daemonizes", Daemonizes)
    register("kills_its_group", KillsItsGroup)
    register("leaves_thread", LeavesThread)
