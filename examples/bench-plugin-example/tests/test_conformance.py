"""The bench conformance suite on this plugin's detector and dataset."""

from bench_plugin_example.dataset import sine_spikes
from bench_plugin_example.detector import RobustZ

import bench.testing as bt

SUBJECTS = [
    bt.detector(RobustZ, name="robust-z", plugin="example"),
    bt.dataset(sine_spikes, name="sine-spikes", plugin="example", params={"length": 400}),
]


@bt.parametrize_with_checks(SUBJECTS)
def test_bench_conformance(subject, check):
    check(subject)
