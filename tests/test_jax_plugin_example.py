"""examples/bench-jax-plugin-example: a third-party JAX detector on bench's public JAX base
(bench.detectors.jax), found through its entry point, passing the conformance suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bench
import bench.testing as bt
from bench import api
from bench.params import bind

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bench-jax-plugin-example"
SMALL = {"window": 8, "width": 8, "epochs": 2, "batch": 32}


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    import bench_jax_plugin_example.plugin as plugin

    return plugin


def test_registers_with_typed_training_fields(plugin, register_plugin, bench_manager):
    if "jax_example" not in bench_manager.plugins:  # not installed: register it for this test
        register_plugin(plugin, "jax_example")
    entry = bench_manager.get("detector", "transformer_ae")
    assert entry.plugin == "jax_example"
    params = bind("detector", "transformer_ae", entry.factory, {"epochs": "4", "heads": "4"})
    assert params["epochs"] == 4 and params["stride"] == 2 and params["patience"] == 3
    with pytest.raises(bench.BenchError, match="'batch' = 0 is out of range"):
        bind("detector", "transformer_ae", entry.factory, {"batch": "0"})


def test_conformance_without_training(plugin):
    """The suite's rules that need no training (the full suite, with training and the fleet
    check, is the slow test below and CI's wheel step)."""
    subject = bt.detector(plugin.TransformerAEDetector, name="transformer_ae",
                          plugin="jax_example", params=SMALL)
    for check in (bt.check_parameters, bt.check_score_before_fit_raises,
                  bt.check_tags_match_signatures):
        check(subject)


def test_a_bad_width_is_one_line(plugin):
    det = plugin.TransformerAEDetector(width=6, heads=2)
    with pytest.raises(bench.BenchError, match="width a multiple of 2 x heads"):
        det.fit([[0.0]] * 50)


@pytest.mark.slow
def test_installed_it_passes_its_conformance_suite(tmp_path_factory):
    """Installed with pip (into a throwaway directory), the example's own tests: bench's whole
    conformance suite (fleet check included) and a fleet stacked in one program."""
    env = bt.install_for_subprocess(EXAMPLE, tmp_path_factory.mktemp("jax-example-site"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(EXAMPLE / "tests")], cwd=EXAMPLE, env=env, text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


@pytest.mark.slow
def test_runs_a_cell_as_a_fleet(plugin, register_plugin, bench_manager, tmp_path):
    if "jax_example" not in bench_manager.plugins:
        register_plugin(plugin, "jax_example")
    from bench.detectors.jax import train

    cells = api.plan(["synthetic:n_series=3,length=600"], ["transformer_ae:epochs=10"],
                     manager=bench_manager)
    before = dict(train.COMPILES)
    record = api.run(cells, out=tmp_path, manager=bench_manager)
    (cell,) = record["cells"]
    assert cell["status"] == "ok" and cell["fleet"] == 3, cell.get("error")  # the fleet path
    # the three models train and score in stacked programs (traced once each, in this process);
    # whether it beats chance is check_better_than_chance's business (the conformance suite)
    traced = {k: v - before.get(k, 0) for k, v in train.COMPILES.items()
              if k.startswith("transformer_ae.") and v > before.get(k, 0)}
    assert set(traced) <= {"transformer_ae.fleet_epoch_eval", "transformer_ae.fleet_epoch",
                           "transformer_ae.fleet_errors"} and traced, traced
    assert 0.0 <= cell["evaluations"][0]["metrics"]["roc_auc"] <= 1.0
