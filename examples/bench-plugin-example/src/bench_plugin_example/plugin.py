"""The plugin module named by the ``bench`` entry point: hooks only, cheap to import."""

import bench

from .dataset import sine_spikes
from .detector import RobustZ


@bench.hookimpl
def bench_register_detectors(register):
    register("robust-z", RobustZ)


@bench.hookimpl
def bench_register_datasets(register):
    register("sine-spikes", sine_spikes)
