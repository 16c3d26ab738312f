"""Broken third-party plugins installed through entry points (in a throwaway directory, seen only
by `bench` subprocesses): each is named with its problem and fix, the others keep working, and
`bench --help` never fails."""

from __future__ import annotations

import json

import pytest
from test_plugins_contract import PLUGIN, bench_cli, write_package

from bench.testing import install_for_subprocess

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "broken-pkg"
version = "0.0.1"

[project.entry-points.bench]
zscore = "broken_pkg.good"
no-import = "broken_pkg.no_import"
typo = "broken_pkg.typo"
twin = "broken_pkg.twin"
exploding = "broken_pkg.exploding"
"""

MODULES = {
    "good": PLUGIN,
    "no_import": "import numpy\nimport not_a_module_anywhere\n",
    "typo": """
        import bench

        @bench.hookimpl
        def bench_register_detector(register):
            register("typo", object)
        """,
    "twin": """
        import bench
        from broken_pkg.good import ZScore

        @bench.hookimpl
        def bench_register_detectors(register):
            register("kde", ZScore)
            register("zscore-twin", ZScore)
        """,
    "exploding": """
        import bench

        class Exploding:
            def __init__(self, *, size: int = 3):
                raise RuntimeError("boom in __init__")

        @bench.hookimpl
        def bench_register_detectors(register):
            register("exploding", Exploding)
        """,
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken-src")
    write_package(root, PYPROJECT, MODULES, "broken_pkg")
    return install_for_subprocess(root, tmp_path_factory.mktemp("broken-site"))


def test_help_never_fails(env):
    for args in (["--help"], ["run", "--help"], ["plugins", "--help"], ["--version"]):
        proc = bench_cli(env, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_plugins_names_each_problem_and_fix(env):
    proc = bench_cli(env, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    info = {p["name"]: p for p in json.loads(proc.stdout)}
    assert "ModuleNotFoundError" in info["no-import"]["error"]
    assert "bench_register_detector " in info["typo"]["error"] + " "
    assert info["zscore"]["provides"] == {"detector": ["zscore"]}
    assert info["twin"]["provides"] == {"detector": ["zscore-twin"]}
    assert info["kde"]["provides"] == {"detector": ["kde"]}  # the built-in keeps its name
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("bench: warning:")]
    assert any("'no-import'" in w and "not_a_module_anywhere" in w and "-p no:no-import" in w
               for w in warnings)
    assert any("'typo'" in w and "misspelled" in w for w in warnings)
    assert any("plugin 'twin' registers detector 'kde', already registered by plugin 'kde'" in w
               for w in warnings)


def test_table_lists_version_module_hooks(env):
    proc = bench_cli(env, "plugins")
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[2:] if line.strip()}
    assert "0.0.1" in rows["twin"] and "broken_pkg.twin" in rows["twin"]
    assert "bench_register_detectors" in rows["twin"]
    assert "failed to import" in proc.stdout  # the broken one is listed, with why


def test_blocking_silences_a_broken_plugin(env):
    proc = bench_cli(env, "-p", "no:no-import", "-p", "no:typo", "plugins", "--json")
    names = {p["name"] for p in json.loads(proc.stdout)}
    assert not {"no-import", "typo"} & names and "zscore" in names
    assert "no-import" not in proc.stderr and "typo" not in proc.stderr
    env2 = {**env, "BENCH_DISABLE_PLUGINS": "no-import,typo,twin"}
    proc = bench_cli(env2, "plugins", "--json")
    assert not {"no-import", "typo", "twin"} & {p["name"] for p in json.loads(proc.stdout)}
    assert "warning" not in proc.stderr


def test_allow_list(env):
    proc = bench_cli({**env, "BENCH_PLUGINS": "zscore"}, "plugins", "--json")
    info = {p["name"]: p for p in json.loads(proc.stdout)}
    third_party = {n for n, p in info.items() if not p["builtin"]}
    assert third_party == {"zscore"} and "kde" in info and "warning" not in proc.stderr


def test_run_goes_on_around_a_broken_plugin(env, tmp_path):
    proc = bench_cli(env, "run", "-m", "zscore", "-m", "exploding", "-m", "zscore-twin",
                     "-d", "synthetic:n_series=1,length=400", "--out", str(tmp_path))
    assert proc.returncode == 3, proc.stderr  # the documented status of a run with a failed cell
    (record,) = tmp_path.glob("*.json")
    cells = {c["detector"]: c for c in json.loads(record.read_text())["cells"]}
    assert cells["zscore"]["status"] == "ok" and cells["zscore-twin"]["status"] == "ok"
    assert cells["exploding"]["status"] == "error"
    assert "boom in __init__" in cells["exploding"]["error"]
    assert cells["exploding"]["detector_plugin"] == "exploding"
    assert "bench: warning: plugin 'no-import'" in proc.stderr


def test_trace_hooks_option(env):
    proc = bench_cli(env, "--trace-hooks", "list", "detectors")
    assert proc.returncode == 0
    assert "bench: trace: load plugin 'twin' = broken_pkg.twin" in proc.stderr
    assert "bench: trace: bench_register_detectors -> plugin 'zscore'" in proc.stderr
    proc = bench_cli({**env, "BENCH_TRACE": "1"}, "list", "detectors")
    assert "plugin 'twin' registers detector 'zscore-twin'" in proc.stderr
