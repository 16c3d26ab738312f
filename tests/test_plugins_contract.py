"""The core contract: the README's minimal third-party plugin, pip-installed into a throwaway
directory, is listed by `bench plugins` and ranked by `bench run` (in a subprocess, so this
environment is not touched)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.testing import install_for_subprocess

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "my-pkg"
version = "0.3.0"

[project.entry-points.bench]
zscore = "my_pkg.plugin"
my-data = "my_pkg.data"
"""

# verbatim from the issue (and the README / docs tutorial)
PLUGIN = '''
import numpy as np
import bench

class ZScore:
    def __init__(self, *, k: float = 3.0):
        self.k = k
    def fit(self, X, *, X_val=None, seed=0):
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        return self
    def score(self, X):
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)

@bench.hookimpl
def bench_register_detectors(register):
    register("zscore", ZScore)
'''

DATA = '''
import numpy as np
import bench

@bench.hookimpl
def bench_register_datasets(register):
    register("my-data", my_data)

def my_data(*, n: int = 1000):
    values = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    labels = np.zeros(n, dtype="int8"); labels[900:910] = 1
    s = bench.Series(values, labels, name="s0", split=bench.Split(train_end=500, val_end=750))
    return bench.Dataset("my-data", [s], description="...", license="CC0")
'''


def write_package(root: Path, pyproject: str, modules: dict[str, str], pkg: str) -> Path:
    (root / pkg).mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    (root / pkg / "__init__.py").write_text("")
    for name, text in modules.items():
        (root / pkg / f"{name}.py").write_text(textwrap.dedent(text))
    return root


def bench_cli(env: dict[str, str], *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def zscore_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("zscore-src")
    write_package(root, PYPROJECT, {"plugin": PLUGIN, "data": DATA}, "my_pkg")
    return install_for_subprocess(root, tmp_path_factory.mktemp("zscore-site"))


def test_listed_by_bench_plugins(zscore_env):
    proc = bench_cli(zscore_env, "plugins")
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("zscore "))
    assert "0.3.0" in row and "my_pkg.plugin" in row and "bench_register_detectors" in row
    assert "detector: zscore" in row
    info = {p["name"]: p for p in json.loads(bench_cli(zscore_env, "plugins", "--json").stdout)}
    assert info["zscore"]["version"] == "0.3.0" and info["zscore"]["package"] == "my-pkg"
    assert info["zscore"]["builtin"] is False
    assert info["my-data"]["provides"] == {"dataset": ["my-data"]}
    assert "warning" not in proc.stderr


def test_ranked_by_bench_run(zscore_env, tmp_path):
    proc = bench_cli(zscore_env, "run", "-m", "zscore", "-m", "kde", "-d", "my-data",
                     "-d", "synthetic:n_series=2", "-d", "hpc", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for title in ("### my-data", "### synthetic", "### hpc", "### overall"):
        assert title in proc.stdout
    assert proc.stdout.count("| zscore ") >= 4  # three datasets and the overall ranking
    (record,) = tmp_path.glob("*.json")
    cells = json.loads(record.read_text())["cells"]
    mine = [c for c in cells if c["detector"] == "zscore"]
    assert [c["status"] for c in mine] == ["ok"] * 3, [c.get("error") for c in mine]
    assert {c["detector_plugin"] for c in mine} == {"zscore"}
    assert {c["detector_version"] for c in mine} == {"0.3.0"}
    assert mine[0]["key_parts"]["detector"] == ["zscore", "0.3.0", {"k": 3.0}]
    # my-data is pure noise: no detector can do much better than chance there, but on the
    # planted anomalies of the synthetic set the z-score is far above it
    synth = next(c for c in mine if c["dataset"] == "synthetic")
    assert synth["evaluations"][0]["metrics"]["roc_auc"] > 0.7


def test_parameters_from_the_command_line(zscore_env, tmp_path):
    proc = bench_cli(zscore_env, "run", "-q", "-m", "zscore:k=2.5", "-d", "my-data:n=1200",
                     "--out", str(tmp_path), "--format", "json", "--no-chance")
    assert proc.returncode == 0, proc.stderr
    (record,) = tmp_path.glob("*.json")
    (cell,) = json.loads(record.read_text())["cells"]
    assert cell["status"] == "ok" and cell["params"] == {"k": 2.5}
    assert cell["dataset_params"] == {"n": 1200}
