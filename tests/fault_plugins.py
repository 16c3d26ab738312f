"""Misbehaving plugins for the fault tests: real `bench` plugins, registered with
``Manager.register(fault_plugins, "faults")``; worker processes import this module by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
from bench.datasets.synthetic import make_series

import bench
from bench.plugins import Manager


def manager() -> Manager:
    """A fresh plugin manager with these plugins registered as "faults"."""
    import fault_plugins

    m = Manager()
    m.register(fault_plugins, "faults")
    assert not m.problems, m.problems
    return m


class ZScore:
    """A cheap well-behaved detector: max absolute z-score over features."""

    def __init__(self, *, k: float = 3.0):
        self.k = k

    def fit(self, X, *, X_val=None, seed=0):
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        return self

    def score(self, X):
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)


class FitRaises(ZScore):
    def fit(self, X, *, X_val=None, seed=0):
        raise ValueError("fit exploded on purpose")


class ScoreRaises(ZScore):
    def score(self, X):
        raise RuntimeError("score exploded on purpose")


class Hangs(ZScore):
    def fit(self, X, *, X_val=None, seed=0):
        while True:
            time.sleep(0.05)


class EatsMemory(ZScore):
    def fit(self, X, *, X_val=None, seed=0):
        hoard = []
        while True:  # 64 MB at a time, touched so it is resident
            hoard.append(np.ones(8 * 2**20))


class Exits(ZScore):
    def fit(self, X, *, X_val=None, seed=0):
        os._exit(3)


class ReturnsNaN(ZScore):
    def score(self, X):
        out = super().score(X)
        out[len(out) // 2] = np.nan
        return out


class WrongLength(ZScore):
    def score(self, X):
        return super().score(X)[:-1]


def tiny(*, n_series: int = 1, length: int = 400, seed: int = 0) -> bench.Dataset:
    """A small synthetic dataset: cells on it take milliseconds."""
    series = [make_series(seed * 100 + i, length, 48, f"s{i}") for i in range(n_series)]
    return bench.Dataset("tiny", series, description="tiny", license="CC0")


def broken_loader(*, n: int = 1) -> bench.Dataset:
    raise RuntimeError("loader exploded on purpose")


def segfault_loader(*, n: int = 1) -> bench.Dataset:
    """Kills its process with SIGSEGV, as a loader's buggy C extension would."""
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def hanging_loader(*, n: int = 1) -> bench.Dataset:
    """Never returns (a network mount that hangs)."""
    while True:
        time.sleep(0.05)


def slow_loader(*, seconds: float = 1.0) -> bench.Dataset:
    """``tiny`` after ``seconds`` of sleep."""
    time.sleep(seconds)
    return tiny()


class ReportsProgress(ZScore):
    """Reports three 'epochs' of training progress through bench.progress."""

    def fit(self, X, *, X_val=None, seed=0):
        from bench import progress

        for epoch in range(3):
            progress.report(epoch + 1, 3, "epoch", every_s=0.0)
        return super().fit(X)


class CtrlC(ZScore):
    """Raises KeyboardInterrupt itself while it trains: a plugin bug, which costs its cell."""

    def fit(self, X, *, X_val=None, seed=0):
        raise KeyboardInterrupt


class SysExit(ZScore):
    """Calls sys.exit(5) while it trains."""

    def fit(self, X, *, X_val=None, seed=0):
        sys.exit(5)


class RaisesMemoryError(ZScore):
    """Runs out of memory the way numpy says it: MemoryError."""

    def fit(self, X, *, X_val=None, seed=0):
        raise MemoryError("Unable to allocate 7.28 TiB for an array")


class SpawnsChildren(ZScore):
    """Starts two long-lived processes while it trains, then returns normally (or, with
    ``then_hang``, never; with ``then_exit``, kills its process): a plain child and one that
    leaves for a session of its own (``setsid``).  Their pids are appended to ``pidfile``."""

    def __init__(self, *, pidfile: str = "", then_hang: bool = False, then_exit: bool = False,
                 k: float = 3.0):
        super().__init__(k=k)
        self.pidfile, self.then_hang, self.then_exit = pidfile, then_hang, then_exit

    def fit(self, X, *, X_val=None, seed=0):
        code = "import os, sys, time; sys.argv[1:] and os.setsid(); time.sleep(600)"
        kids = [subprocess.Popen([sys.executable, "-c", code, *extra])
                for extra in ([], ["setsid"])]
        if self.pidfile:
            with open(self.pidfile, "a") as f:
                f.write("".join(f"{k.pid}\n" for k in kids))
        if self.then_exit:
            time.sleep(1.5)  # the worker's guard has seen the children by then
            os._exit(4)
        while self.then_hang:
            time.sleep(0.05)
        return super().fit(X)


class SlowFit(ZScore):
    """Takes ``seconds`` of wall-clock time to train (sleeping, so a loaded machine does not
    change it)."""

    def __init__(self, *, seconds: float = 1.0, k: float = 3.0):
        super().__init__(k=k)
        self.seconds = seconds

    def fit(self, X, *, X_val=None, seed=0):
        time.sleep(self.seconds)
        return super().fit(X)


@bench.hookimpl
def bench_register_detectors(register):
    register("zscore_ok", ZScore)
    register("fault_fit", FitRaises)
    register("fault_score", ScoreRaises)
    register("fault_hang", Hangs)
    register("fault_memory", EatsMemory)
    register("fault_exit", Exits)
    register("fault_nan", ReturnsNaN)
    register("fault_length", WrongLength)
    register("zscore_progress", ReportsProgress)
    register("fault_ctrl_c", CtrlC)
    register("fault_sys_exit", SysExit)
    register("fault_memory_error", RaisesMemoryError)
    register("spawns_children", SpawnsChildren)
    register("slow_fit", SlowFit)


@bench.hookimpl
def bench_register_datasets(register):
    register("tiny", tiny)
    register("fault_loader", broken_loader)
    register("segfault_loader", segfault_loader)
    register("hanging_loader", hanging_loader)
    register("slow_loader", slow_loader)
