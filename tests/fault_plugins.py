"""Misbehaving plugins for the fault tests: real `bench` plugins, registered with
``Manager.register(fault_plugins, "faults")``; worker processes import this module by name."""

from __future__ import annotations

import os
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


class ReportsProgress(ZScore):
    """Reports three 'epochs' of training progress through bench.progress."""

    def fit(self, X, *, X_val=None, seed=0):
        from bench import progress

        for epoch in range(3):
            progress.report(epoch + 1, 3, "epoch", every_s=0.0)
        return super().fit(X)


class CtrlC(ZScore):
    """Behaves as if the user pressed Ctrl-C while it trains (for the inline executor)."""

    def fit(self, X, *, X_val=None, seed=0):
        raise KeyboardInterrupt


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


@bench.hookimpl
def bench_register_datasets(register):
    register("tiny", tiny)
    register("fault_loader", broken_loader)
