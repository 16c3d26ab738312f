"""Seeded synthetic CPU-utilisation-like series with labelled injected anomalies."""

from __future__ import annotations

import numpy as np

import bench
from bench.params import Interval

KINDS = ("ramp", "burst", "spikes", "level_shift")
#: time series: VUS-PR headline, F1 beside it, unsupervised (the training half holds an anomaly)
EVALUATION = bench.Evaluation(split="train 50 %, validation 25 %, test 25 % of each series")


def _base(rng: np.random.Generator, length: int, period: int) -> np.ndarray:
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi)
    level = rng.uniform(30, 50)
    amp = rng.uniform(10, 20)
    daily = amp * np.sin(2 * np.pi * t / period + phase)
    harmonic = 0.3 * amp * np.sin(4 * np.pi * t / period + 2 * phase)
    return level + daily + harmonic + rng.normal(0, 1.5, length)


def _inject(x: np.ndarray, kind: str, start: int, width: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (modified signal, label mask) for one anomaly of ``kind`` at ``start``."""
    x = x.copy()
    mask = np.zeros(len(x), dtype=bool)
    end = min(start + width, len(x))
    n = end - start
    if kind == "ramp":  # exponential ramp, e.g. a runaway process
        x[start:end] += np.expm1(np.linspace(0, np.log(rng.uniform(30, 50)), n))
    elif kind == "burst":  # a cosine burst: oscillation at a foreign frequency
        x[start:end] += rng.uniform(15, 25) * np.cos(np.linspace(0, 6 * np.pi, n)) ** 2
    elif kind == "spikes":
        idx = start + rng.choice(n, size=max(1, n // 6), replace=False)
        x[idx] += rng.uniform(35, 55, size=len(idx))
        mask[idx] = True
        return x, mask
    elif kind == "level_shift":
        x[start:end] += rng.choice([-1, 1]) * rng.uniform(20, 30)
    mask[start:end] = True
    return x, mask


def make_series(seed: int, length: int, period: int, name: str) -> bench.Series:
    rng = np.random.default_rng(seed)
    x = _base(rng, length, period)
    labels = np.zeros(length, dtype=bool)
    train_end, val_end = length // 2, (3 * length) // 4
    # one anomaly in train (excluded from fitting by default), two in validation, two in test
    slots = [(0.2, 0.45), (0.52, 0.62), (0.64, 0.72), (0.77, 0.86), (0.88, 0.96)]
    for i, (a, b) in enumerate(slots):
        width = int(rng.integers(length // 80, length // 30))
        start = int(rng.uniform(a, b) * length)
        start = min(start, length - width - 1)
        kind = KINDS[(i + seed) % len(KINDS)] if i else KINDS[int(rng.integers(len(KINDS)))]
        x, m = _inject(x, kind, start, width, rng)
        labels |= m
    x = np.clip(x, 0, 100)
    return bench.Series(x.astype(np.float32), labels.astype(np.int8), name=name,
                        split=bench.Split(train_end, val_end),
                        meta={"unit": "% CPU", "period": period})


def synthetic(*, n_series: int = 4, length: int = 2000, period: int = 96,
              seed: int = 0) -> bench.Dataset:
    """Seeded CPU-utilisation-like series (daily sinusoid + harmonic + noise, in %) with injected,
    labelled anomalies: exponential ramps, cosine bursts, spikes and level shifts; one anomaly in
    the training half, two in validation, two in test."""
    series = [make_series(seed * 1000 + i, length, period, f"cpu-{i}") for i in range(n_series)]
    return bench.Dataset(
        "synthetic", series,
        description=synthetic.__doc__.split("\n")[0],
        license="CC0-1.0 (generated)",
        family="time-series",
        provenance=f"bench.datasets.synthetic, seed={seed}",
        evaluation=EVALUATION,
    )


#: the values synthetic's parameters accept, checked when a run is planned (bench.params): an
#: anomaly is at least ``length // 80`` rows wide, so shorter series cannot hold one
synthetic._parameter_constraints = {
    "n_series": [Interval(int, 1, None)], "length": [Interval(int, 100, None)],
    "period": [Interval(int, 2, None)], "seed": [Interval(int, 0, 2**32 - 1)]}


@bench.hookimpl
def bench_register_datasets(register):
    register("synthetic", synthetic, default_run=True, evaluation=EVALUATION)
