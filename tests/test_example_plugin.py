"""examples/bench-plugin-example installs with pip (into a throwaway directory), is found through
its entry point, runs in `bench run`, and passes its own bench.testing suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_plugins_contract import bench_cli

from bench.testing import install_for_subprocess

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bench-plugin-example"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return install_for_subprocess(EXAMPLE, tmp_path_factory.mktemp("example-site"))


def test_listed(env):
    proc = bench_cli(env, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    (ex,) = [p for p in json.loads(proc.stdout) if p["name"] == "example"]
    assert ex["package"] == "bench-plugin-example" and ex["version"] == "0.1.0"
    assert ex["module"] == "bench_plugin_example.plugin" and not ex["builtin"]
    assert ex["provides"] == {"dataset": ["sine-spikes"], "detector": ["robust-z"]}
    assert ex["hooks"] == ["bench_register_datasets", "bench_register_detectors"]


@pytest.mark.slow
def test_bench_run(env, tmp_path):
    proc = bench_cli(env, "run", "-m", "robust-z", "-m", "iforest", "-d", "sine-spikes",
                     "-d", "synthetic:n_series=2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "### sine-spikes" in proc.stdout and "| robust-z " in proc.stdout
    (record,) = tmp_path.glob("*.json")
    cells = json.loads(record.read_text())["cells"]
    assert all(c["status"] == "ok" for c in cells), [c.get("error") for c in cells]
    mine = {c["dataset"]: c for c in cells if c["detector"] == "robust-z"}
    assert mine["sine-spikes"]["detector_version"] == "0.1.0"
    assert mine["sine-spikes"]["evaluations"][0]["metrics"]["roc_auc"] > 0.8


@pytest.mark.slow
def test_its_own_tests_pass(env):
    """The example's tests run bench.testing against the installed package."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(EXAMPLE / "tests")], cwd=EXAMPLE, env=env, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
