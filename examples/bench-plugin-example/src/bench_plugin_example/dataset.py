"""``sine-spikes``: seeded sinusoids with labelled spikes and dips, generated on the fly."""

from __future__ import annotations

import numpy as np

import bench


def _series(i: int, length: int, seed: int) -> bench.Series:
    rng = np.random.default_rng([seed, i])
    t = np.arange(length)
    x = np.sin(2 * np.pi * t / rng.integers(30, 60) + rng.uniform(0, 2 * np.pi))
    x = x + 0.2 * rng.normal(size=length)
    labels = np.zeros(length, dtype=np.int8)
    half = length // 2
    # two anomalies in the validation quarter, two in the test quarter, none in training
    for lo in (half, half, half + length // 4, half + length // 4):
        at = int(rng.integers(lo + 2, lo + length // 4 - 6))
        x[at:at + 3] += rng.choice([-1.0, 1.0]) * rng.uniform(2.5, 4.0)
        labels[at:at + 3] = 1
    return bench.Series(x.astype(np.float32), labels, name=f"sine-{i}",
                        split=bench.Split(half, half + length // 4))


def sine_spikes(*, n_series: int = 3, length: int = 1200, seed: int = 0) -> bench.Dataset:
    """Seeded sinusoids (periods 30-59 steps, noise sd 0.2) with labelled 3-step spikes and dips
    of 2.5-4 units: two in validation and two in test per series, none in training."""
    if length < 80:
        raise bench.BenchError(f"dataset 'sine-spikes': length must be >= 80, got {length}")
    return bench.Dataset(
        "sine-spikes", [_series(i, length, seed) for i in range(n_series)],
        description=sine_spikes.__doc__.split("\n")[0],
        license="CC0-1.0 (generated)",
        family="time-series",
        provenance=f"bench-plugin-example, sine_spikes(seed={seed})",
    )
