"""The plugin manager: duplicates, blocking, broken plugins, check_pending, tracing.

Throwaway plugins are classes of ``@bench.hookimpl`` methods registered in a fixture and
unregistered in ``finally`` (``register_plugin`` from bench.testing.pytest_plugin)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from cli_helpers import run_cli

import bench
from bench import api, plugins
from bench.plugins import DEFAULT_PLUGINS, Manager

pytest_plugins = ["bench.testing.pytest_plugin"]


class Const:
    """Scores every row the same (a detector for registry tests)."""

    def __init__(self, *, value: float = 0.0):
        self.value = value

    def fit(self, X, seed=0):
        return self

    def score(self, X):
        return np.full(len(X), self.value)


class Exploding:
    def __init__(self, *, size: int = 3):
        raise RuntimeError("boom in __init__")


def plugin_registering(**detectors):
    class Plugin:
        @bench.hookimpl
        def bench_register_detectors(register):
            for name, factory in detectors.items():
                register(name, factory)

    return Plugin


# ----------------------------------------------------------------------------- duplicates


def test_duplicate_name_names_both_plugins_and_keeps_the_first(register_plugin, bench_manager):
    register_plugin(plugin_registering(twin=Const), "first-pkg")
    register_plugin(plugin_registering(twin=Exploding, solo=Const), "second-pkg")
    reg = bench_manager.registry("detector")
    assert reg.get("twin").plugin == "first-pkg" and reg.get("twin").factory is Const
    assert reg.get("solo").plugin == "second-pkg"  # its other registrations still count
    (problem,) = [p for p in bench_manager.problems if "'twin'" in p]
    assert "plugin 'second-pkg'" in problem and "plugin 'first-pkg'" in problem
    assert "-p no:second-pkg" in problem


def test_duplicate_of_a_builtin_name(register_plugin, bench_manager):
    register_plugin(plugin_registering(kde=Const), "impostor")
    assert bench_manager.get("detector", "kde").plugin == "kde"
    assert any("'impostor'" in p and "'kde'" in p for p in bench_manager.problems)


def test_registry_rejects_bad_names_and_factories(register_plugin, bench_manager):
    register_plugin(plugin_registering(**{"": Const, "not-callable": 42}), "sloppy")
    names = bench_manager.registry("detector").names()
    assert "" not in names and "not-callable" not in names
    text = "\n".join(bench_manager.problems)
    assert "plugin 'sloppy': detector name must be a non-empty string" in text
    assert "detector 'not-callable' was registered with a non-callable int" in text


def test_fixture_unregisters_the_plugin(bench_manager):
    bench_manager.register(plugin_registering(temp=Const), "temp-plugin")
    try:
        assert "temp" in bench_manager.registry("detector")
    finally:
        bench_manager.unregister("temp-plugin")
    assert "temp" not in bench_manager.registry("detector")
    assert "temp-plugin" not in bench_manager.plugins


# ----------------------------------------------------------------------------- blocking


def test_block_with_argument_and_env(monkeypatch):
    m = Manager(blocked=["kde"])
    assert "kde" not in m.registry("detector") and "iforest" in m.registry("detector")
    assert m.skipped == {"kde": "blocked"}
    monkeypatch.setenv("BENCH_DISABLE_PLUGINS", "kde, iforest")
    m = Manager()
    assert not ({"kde", "iforest"} & set(m.registry("detector").names()))
    assert "metric" in m.registries and len(m.registry("metric")) > 0


def test_allow_list_keeps_builtins_and_drops_other_plugins(monkeypatch):
    monkeypatch.setenv("BENCH_PLUGINS", "nothing-installed")
    m = Manager()
    assert {"kde", "iforest"} <= set(m.registry("detector").names())
    assert not [p for p in m.plugins.values() if not p.builtin]


def test_cli_p_no_blocks(capsys):
    code, listed, _ = run_cli(capsys, "-p", "no:kde", "list", "detectors", "--json")
    assert code == 0
    assert '"kde"' not in listed and '"iforest"' in listed


def test_cli_bad_p_is_one_line(capsys):
    code, _, err = run_cli(capsys, "-p", "kde", "plugins")
    assert code == 1 and "write -p no:NAME" in err


# ----------------------------------------------------------------------------- broken plugins


def test_plugin_that_fails_to_import(monkeypatch, tmp_path):
    (tmp_path / "bench_test_broken_mod.py").write_text("import not_a_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(DEFAULT_PLUGINS, "broken-one", "bench_test_broken_mod")
    m = Manager()
    info = m.plugins["broken-one"]
    assert "failed to import: ModuleNotFoundError" in info.error
    (problem,) = [p for p in m.problems if "broken-one" in p]
    assert "not_a_module_anywhere" in problem and "-p no:broken-one" in problem
    assert "kde" in m.registry("detector")  # the others keep working
    assert "broken-one" not in [e.plugin for e in m.registry("detector")]
    monkeypatch.delitem(sys.modules, "bench_test_broken_mod", raising=False)


def test_plugin_that_exits_on_import(monkeypatch, tmp_path):
    (tmp_path / "bench_test_exit_mod.py").write_text("raise SystemExit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(DEFAULT_PLUGINS, "exits", "bench_test_exit_mod")
    m = Manager()
    assert "SystemExit" in m.plugins["exits"].error and "kde" in m.registry("detector")


def test_misspelled_hook(bench_manager):
    class Typo:
        @bench.hookimpl
        def bench_register_detector(register):  # missing "s"
            register("typo", Const)

    bench_manager.register(Typo, "typo-plugin")
    try:
        assert "typo" not in bench_manager.registry("detector")
        (problem,) = [p for p in bench_manager.problems if "typo-plugin" in p]
        assert "unknown hook(s) bench_register_detector (misspelled?)" in problem
        assert "bench_register_detectors" in problem  # the valid hooks are listed
        assert bench_manager.plugins["typo-plugin"].error
        assert "kde" in bench_manager.registry("detector")
    finally:
        bench_manager.unregister("typo-plugin")


def test_misspelled_hook_argument(bench_manager):
    class WrongArg:
        @bench.hookimpl
        def bench_register_detectors(registr):
            registr("wrong", Const)

    bench_manager.register(WrongArg, "wrong-arg")
    try:
        (problem,) = [p for p in bench_manager.problems if "wrong-arg" in p]
        assert "is not a valid plugin" in problem and "registr" in problem
        assert "wrong" not in bench_manager.registry("detector")
    finally:
        bench_manager.unregister("wrong-arg")


def test_hook_without_marker_is_reported(register_plugin, bench_manager):
    class Undecorated:
        def bench_register_detectors(register):
            register("undecorated", Const)

    register_plugin(Undecorated, "plain")
    assert "undecorated" not in bench_manager.registry("detector")
    assert any("defines bench_register_detectors without @bench.hookimpl" in p
               for p in bench_manager.problems)


def test_registration_hook_that_raises_keeps_earlier_registrations(register_plugin,
                                                                    bench_manager):
    class HalfWay:
        @bench.hookimpl
        def bench_register_detectors(register):
            register("half-way", Const)
            raise ValueError("config file missing")

    register_plugin(HalfWay, "half")
    assert bench_manager.get("detector", "half-way").plugin == "half"
    assert any("plugin 'half': bench_register_detectors raised ValueError: config file missing"
               in p for p in bench_manager.problems)


def test_check_pending_reports_unknown_hooks(bench_manager):
    class Sneaky:
        @bench.hookimpl
        def bench_register_widgets(register):
            pass

    bench_manager.pm.register(Sneaky, name="sneaky")  # past the manager's own check
    try:
        (problem,) = bench_manager.check_pending()
        assert "bench_register_widgets" in problem and "sneaky" in problem.lower()
        assert problem in bench_manager.problems
    finally:
        bench_manager.pm.unregister(name="sneaky")
    assert bench_manager.check_pending() == []


def _run_grid(manager, detectors, tmp_path):
    cells = api.plan(["synthetic:n_series=1,length=400"], detectors, manager=manager)
    record = api.run(cells, out=tmp_path, manager=manager)
    return {c["detector"]: c for c in record["cells"]}


def test_factory_that_raises_fails_its_cell_only(register_plugin, bench_manager, tmp_path):
    register_plugin(plugin_registering(exploding=Exploding, steady=Const), "fragile")
    cells = _run_grid(bench_manager, ["exploding", "steady", "kde"], tmp_path)
    assert cells["steady"]["status"] == "ok" and cells["kde"]["status"] == "ok"
    bad = cells["exploding"]
    assert bad["status"] == "error" and bad["detector_plugin"] == "fragile"
    assert "RuntimeError: boom in __init__" in bad["error"]


def test_factory_error_message_names_the_plugin(register_plugin, bench_manager, tmp_path):
    register_plugin(plugin_registering(exploding=Exploding), "fragile")
    cells = _run_grid(bench_manager, ["exploding"], tmp_path)
    err = cells["exploding"]["error"]
    assert "detector 'exploding' (plugin 'fragile'): constructing it with" in err
    assert "fix the plugin's __init__" in err


# ----------------------------------------------------------------------------- tracing


def test_trace_shows_loads_and_hook_calls(capsys):
    m = Manager(trace=True)
    _ = m.registries
    m.notify("bench_run_finished", record={}, path=None)
    err = capsys.readouterr().err
    assert "bench: trace: load plugin 'kde'" in err
    assert "bench: trace: bench_register_detectors -> plugin 'kde'" in err
    assert "plugin 'kde' registers detector 'kde'" in err


def test_trace_env_and_cli_option(monkeypatch, capsys):
    monkeypatch.setenv("BENCH_TRACE", "1")
    assert Manager().trace
    monkeypatch.delenv("BENCH_TRACE")
    assert not Manager().trace
    code, _, err = run_cli(capsys, "--trace-hooks", "list", "detectors")
    assert code == 0 and "bench_register_detectors -> plugin 'iforest'" in err


def test_trace_is_silent_by_default(capsys):
    _ = Manager().registries
    assert "trace" not in capsys.readouterr().err


def test_process_wide_manager_is_replaceable():
    m = Manager(entry_points=False, defaults=False)
    plugins.set_manager(m)
    assert plugins.get_manager() is m and len(m.registry("detector")) == 0
    plugins.set_manager(None)
    assert plugins.get_manager() is not m
    with pytest.raises(bench.BenchError, match="unknown kind 'widget'"):
        m.registry("widget")
