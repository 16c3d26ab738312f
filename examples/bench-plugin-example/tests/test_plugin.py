"""The plugin through bench itself: registration, then one real cell."""

import bench_plugin_example.plugin as plugin
import numpy as np

from bench import api

pytest_plugins = ["bench.testing.pytest_plugin"]


def test_registers_through_the_manager(register_plugin, bench_manager):
    if "example" not in bench_manager.plugins:  # not installed: register it for this test
        register_plugin(plugin, "example")
    assert bench_manager.get("detector", "robust-z").plugin == "example"
    assert bench_manager.get("dataset", "sine-spikes").plugin == "example"


def test_runs_a_cell(register_plugin, bench_manager, tmp_path):
    if "example" not in bench_manager.plugins:
        register_plugin(plugin, "example")
    cells = api.plan(["sine-spikes:length=400"], ["robust-z"], manager=bench_manager)
    record = api.run(cells, out=tmp_path, manager=bench_manager)
    (cell,) = record["cells"]
    assert cell["status"] == "ok", cell.get("error")
    assert cell["evaluations"][0]["metrics"]["roc_auc"] > 0.8


def test_scores_spikes_higher(tiny_series):
    det = plugin.RobustZ().fit(tiny_series.part("train")[0])
    x, labels = tiny_series.part("test")
    s = det.score(x)
    assert np.median(s[labels == 1]) > np.max(s[labels == 0][:5])
