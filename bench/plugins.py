"""The plugin manager: entry points, built-in defaults, typed registries, blocking, tracing."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import BenchError

GROUP = "bench"

#: Built-in plugins, registered from here only when their entry point is missing (a source
#: checkout whose metadata predates the module).  Must match ``[project.entry-points.bench]``.
DEFAULT_PLUGINS: dict[str, str] = {
    "metrics": "bench.metrics",
    "costs": "bench.costs",
    "thresholds": "bench.thresholds",
    "executors": "bench.executors",
    "iforest": "bench.detectors.iforest",
    "kde": "bench.detectors.kde",
    "synthetic": "bench.datasets.synthetic",
    "hpc": "bench.datasets.hpc",
}

KINDS = {
    "dataset": "bench_register_datasets",
    "detector": "bench_register_detectors",
    "metric": "bench_register_metrics",
    "cost": "bench_register_cost_models",
    "threshold": "bench_register_thresholds",
    "executor": "bench_register_executors",
}


@dataclass
class Entry:
    """One registered thing: a dataset, detector, metric, cost model, threshold or executor."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        text = self.meta.get("description") or inspect.getdoc(self.factory) or ""
        return text.strip().split("\n\n")[0].replace("\n", " ")

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str = ""
    package: str = ""
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str = ""


class Registry:
    """Entries of one kind, unique by name.  A duplicate is rejected with a problem that names
    both plugins; the first registration stays."""

    def __init__(self, kind: str, problems: list[str]):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._problems = problems

    def add(self, name: str, factory: Callable[..., Any], plugin: str, **meta: Any) -> None:
        if not isinstance(name, str) or not name:
            self._problems.append(f"plugin '{plugin}': {self.kind} name must be a non-empty string")
            return
        if not callable(factory):
            self._problems.append(
                f"plugin '{plugin}': {self.kind} '{name}' was registered with a non-callable "
                f"{type(factory).__name__}; register a class or function"
            )
            return
        if name in self._entries:
            first = self._entries[name].plugin
            self._problems.append(
                f"plugin '{plugin}' registers {self.kind} '{name}', already registered by plugin "
                f"'{first}'; rename it, or block one with -p no:{plugin}"
            )
            return
        self._entries[name] = Entry(self.kind, name, factory, plugin, dict(meta))

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            avail = ", ".join(sorted(self._entries)) or "none"
            raise BenchError(f"unknown {self.kind} '{name}'; available: {avail}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self):
        """Entries in registration order."""
        return iter(list(self._entries.values()))

    def names(self) -> list[str]:
        return sorted(self._entries)


def _split_env(var: str) -> set[str]:
    return {p.strip() for p in os.environ.get(var, "").split(",") if p.strip()}


class Manager:
    """Loads plugins and holds the registries.

    blocked:  plugin names not to load (``-p no:NAME``, ``BENCH_DISABLE_PLUGINS=a,b``).
    only:     if given, load only these plugins (``BENCH_PLUGINS=a,b``).
    trace:    print every hook call to stderr (``BENCH_TRACE=1``).
    """

    def __init__(
        self,
        *,
        blocked: Iterable[str] = (),
        only: Iterable[str] | None = None,
        trace: bool = False,
        entry_points: bool = True,
        defaults: bool = True,
    ):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.blocked = set(blocked) | _split_env("BENCH_DISABLE_PLUGINS")
        env_only = _split_env("BENCH_PLUGINS")
        self.only = set(only) if only is not None else (env_only or None)
        self.trace = trace or os.environ.get("BENCH_TRACE", "") not in ("", "0")
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[str] = []
        self._registries: dict[str, Registry] | None = None
        if self.trace:
            self.pm.trace.root.setwriter(lambda s: sys.stderr.write(s))
            self.pm.enable_tracing()
        if entry_points:
            self._load_entry_points()
        if defaults:
            for name, module in DEFAULT_PLUGINS.items():
                if name not in self.plugins or self.plugins[name].error:
                    self._load(name, module, builtin=True)
        self._check_pending()

    # ------------------------------------------------------------------ loading
    def _wanted(self, name: str) -> bool:
        return name not in self.blocked and (self.only is None or name in self.only)

    def _load_entry_points(self) -> None:
        for ep in md.entry_points(group=GROUP):
            if ep.name in self.plugins or not self._wanted(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            version = dist.version if dist is not None else ""
            package = dist.metadata["Name"] if dist is not None else ""
            builtin = package == "bench"
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                self._broken(ep.name, ep.value, f"failed to import: {type(exc).__name__}: {exc}",
                             version=version, package=package, builtin=builtin)
                continue
            self.register(module, ep.name, version=version, package=package, builtin=builtin)

    def _load(self, name: str, module_name: str, builtin: bool) -> None:
        if not self._wanted(name):
            return
        self.plugins.pop(name, None)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            self._broken(name, module_name, f"failed to import: {type(exc).__name__}: {exc}",
                         builtin=builtin)
            return
        from . import __version__

        self.register(module, name, version=__version__, package="bench", builtin=builtin)

    def _broken(self, name: str, module: str, why: str, **info: Any) -> None:
        self.plugins[name] = PluginInfo(name, module, error=why, **info)
        self.problems.append(
            f"plugin '{name}' ({module}) {why}; fix or uninstall it, or block it with -p no:{name}"
        )

    def register(self, module: Any, name: str, *, version: str = "", package: str = "",
                 builtin: bool = False) -> None:
        """Register a plugin object (a module or any object with hookimpls) under ``name``."""
        modname = getattr(module, "__name__", type(module).__name__)
        unknown = [a for a in dir(module) if a.startswith("bench_") and not hasattr(self.pm.hook, a)]
        if unknown:
            self._broken(name, modname, f"implements unknown hook(s) {', '.join(unknown)} "
                         f"(misspelled?); valid hooks: {', '.join(sorted(_hook_names()))}",
                         version=version, package=package, builtin=builtin)
            return
        try:
            self.pm.register(module, name=name)
        except Exception as exc:
            self._broken(name, modname, f"is not a valid plugin: {exc}", version=version,
                         package=package, builtin=builtin)
            return
        hooks = sorted(i.name for i in self.pm.get_hookcallers(module) or [])
        self.plugins[name] = PluginInfo(name, modname, version, package, builtin, hooks)
        self._registries = None

    def unregister(self, name: str) -> None:
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.plugins.pop(name, None)
        self._registries = None

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:  # pragma: no cover - caught per plugin above
            self.problems.append(str(exc))

    # ------------------------------------------------------------------ registries
    def _build(self) -> dict[str, Registry]:
        regs = {kind: Registry(kind, self.problems) for kind in KINDS}
        for kind, hookname in KINDS.items():
            caller = getattr(self.pm.hook, hookname)
            for impl in reversed(caller.get_hookimpls()):  # registration order
                plugin = impl.plugin_name
                info = self.plugins.get(plugin)

                def register(name, factory, _p=plugin, _r=regs[kind], _i=info, **meta):
                    if "version" not in meta and _i is not None and _i.version:
                        meta["version"] = _i.version
                    _r.add(name, factory, _p, **meta)

                if self.trace:
                    sys.stderr.write(f"bench: calling {hookname} of plugin '{plugin}'\n")
                try:
                    impl.function(**{a: register for a in impl.argnames})
                except Exception as exc:
                    self.problems.append(
                        f"plugin '{plugin}': {hookname} raised {type(exc).__name__}: {exc}; "
                        f"its other registrations are kept"
                    )
        return regs

    @property
    def registries(self) -> dict[str, Registry]:
        if self._registries is None:
            self._registries = self._build()
        return self._registries

    def registry(self, kind: str) -> Registry:
        return self.registries[kind]

    def get(self, kind: str, name: str) -> Entry:
        return self.registries[kind].get(name)

    # ------------------------------------------------------------------ lifecycle hooks
    def notify(self, hookname: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; a reporter's exception is reported, never fatal."""
        hook = getattr(self.pm.hook, hookname)
        for impl in hook.get_hookimpls():
            try:
                impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception as exc:
                print(f"bench: warning: plugin '{impl.plugin_name}' {hookname} raised "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr)


def _hook_names() -> list[str]:
    return [n for n in dir(hookspecs) if n.startswith("bench_")]


_default: Manager | None = None


def get_manager(**kwargs: Any) -> Manager:
    """The process-wide manager (created on first use; ``kwargs`` make a fresh one)."""
    global _default
    if kwargs:
        return Manager(**kwargs)
    if _default is None:
        _default = Manager()
    return _default


def set_manager(manager: Manager | None) -> None:
    global _default
    _default = manager
