"""bench.registration: the typed ``register(name, factory, **meta)`` of each kind, and the typed
hook specs that hand it to plugins."""

from __future__ import annotations

import inspect
import typing

import bench
from bench import hookspecs, registration
from bench.plugins import get_manager

pytest_plugins = ["bench.testing.pytest_plugin"]


class _Z:
    def fit(self, X, seed=0):
        self.mu_ = X.mean(0)
        return self

    def score(self, X):
        return abs(X - self.mu_).max(axis=1)


class Typo:
    @bench.hookimpl
    def bench_register_detectors(register):
        register("z-typo", _Z, defualt_run=False, chance=False)


def test_every_hook_is_typed():
    """Every parameter of every hook carries an annotation naming what the plugin receives, and
    every hook returns None (pytest's hookspec.py is the model)."""
    for name, fn in vars(hookspecs).items():
        if not (name.startswith("bench_") and inspect.isfunction(fn)):
            continue
        sig = inspect.signature(fn)
        assert sig.return_annotation == "None", name
        for p in sig.parameters.values():
            assert p.annotation is not inspect.Parameter.empty, f"{name}({p.name}) is untyped"
        if name.startswith("bench_register_"):
            proto = sig.parameters["register"].annotation
            assert hasattr(registration, proto), f"{name}: {proto} not in bench.registration"


def test_builtin_registrations_use_only_declared_meta_keys():
    get_manager().get("detector", "kde")  # registries are built on first use
    problems = [p for p in get_manager().problems if "unknown meta" in p]
    assert problems == []


def test_every_kind_declares_its_keys():
    for kind in ("dataset", "detector", "metric", "cost", "threshold", "executor"):
        keys = registration.meta_keys(kind)
        assert {"description", "version"} <= keys, kind
    assert "default_run" in registration.meta_keys("detector")
    assert "evaluation" in registration.meta_keys("dataset")
    assert typing.get_type_hints(registration.ExecutorMeta)["isolates"] is bool


def test_unknown_meta_key_is_a_problem_naming_plugin_key_and_known_keys(register_plugin,
                                                                         bench_manager):
    register_plugin(Typo, "typo")
    entry = bench_manager.get("detector", "z-typo")  # still registered, without the typo
    (problem,) = [p for p in bench_manager.problems if "z-typo" in p]
    assert "plugin 'typo'" in problem and "defualt_run" in problem and "default_run" in problem
    assert "defualt_run" not in entry.meta and entry.meta["chance"] is False
