"""The plugin manager: entry points, built-in defaults, typed registries, blocking, tracing.

A plugin is a module (or any object) of ``@bench.hookimpl`` functions named after the hooks in
:mod:`bench.hookspecs`.  Plugins come from the ``bench`` entry-point group; built-in plugins are
declared there too, and :data:`DEFAULT_PLUGINS` registers them in a source checkout whose metadata
predates a module.  A plugin that fails to import, misspells a hook or breaks a registry rule is
recorded in :attr:`Manager.problems` (one line naming the plugin, the problem and the fix) and the
others keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import contract, hookspecs, registration
from .errors import BenchError

GROUP = "bench"

#: the distribution that ships bench and its built-in plugins (its import name is ``bench``;
#: ``bench`` on the package index is an unrelated project)
DISTRIBUTION = "anomaly-bench"

#: Built-in plugins, registered from here only when their entry point is missing (a source
#: checkout whose metadata predates the module).  Must match ``[project.entry-points.bench]``.
DEFAULT_PLUGINS: dict[str, str] = {
    "metrics": "bench.metrics",
    "costs": "bench.costs",
    "thresholds": "bench.thresholds",
    "executors": "bench.executors",
    "suites": "bench.suites",
    "iforest": "bench.detectors.iforest",
    "kde": "bench.detectors.kde",
    "autoencoders": "bench.detectors.autoencoders",
    "chance": "bench.detectors.chance",
    "scores": "bench.detectors.scores",
    "tsb_neighbours": "bench.detectors.tsb_neighbours",
    "tsb_signal": "bench.detectors.tsb_signal",
    "tsb_deep": "bench.detectors.tsb_deep",
    "pyod": "bench.detectors.pyod_adapter",
    "synthetic": "bench.datasets.synthetic",
    "hpc": "bench.datasets.hpc",
    "hdfs": "bench.datasets.hdfs",
    "nab": "bench.datasets.nab",
    "smap": "bench.datasets.smap",
    "telemetry": "bench.datasets.telemetry",
    "yahoo": "bench.datasets.yahoo",
    "csv": "bench.datasets.csv",
    "tsb_ad": "bench.datasets.tsb_ad",
}

KINDS = {
    "dataset": "bench_register_datasets",
    "detector": "bench_register_detectors",
    "metric": "bench_register_metrics",
    "cost": "bench_register_cost_models",
    "threshold": "bench_register_thresholds",
    "suite": "bench_register_suites",
    "executor": "bench_register_executors",
}

#: the marker attribute ``@bench.hookimpl`` sets on a function
_IMPL_ATTR = GROUP + "_impl"


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
    """What ``bench plugins`` shows about one plugin; ``error`` is set when it could not load."""

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
            self._problems.append(f"plugin '{plugin}': {self.kind} name must be a non-empty "
                                  f"string, got {name!r}; register(\"my-name\", factory)")
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
                f"'{first}' (kept); rename it, or block one with -p no:{plugin}"
            )
            return
        unknown = registration.unknown_keys(self.kind, meta)
        if unknown:  # a typo such as defualt_run=True must not be ignored silently
            self._problems.append(
                f"plugin '{plugin}': {self.kind} '{name}' registered with unknown meta "
                f"{', '.join(unknown)} (ignored); known: "
                f"{', '.join(sorted(registration.meta_keys(self.kind)))} (bench.registration)")
            meta = {k: v for k, v in meta.items() if k not in unknown}
        if self.kind == "metric":  # metadata normalised once, here (bench.contract)
            try:
                factory = contract.as_metric(name, factory, meta)
            except ValueError as exc:
                self._problems.append(f"plugin '{plugin}': metric '{name}': {exc}")
                return
        self._entries[name] = Entry(self.kind, name, factory, plugin, dict(meta))

    def get(self, name: str) -> Entry:
        """The entry ``name``; for metrics also ``NAME:k=v,...``, the metric with those
        parameters bound (checked here, so a bad one fails before any cell runs)."""
        if name not in self._entries and self.kind == "metric" and ":" in name:
            return self._bound_metric(name)
        try:
            return self._entries[name]
        except KeyError:
            avail = ", ".join(sorted(self._entries)) or "none"
            raise BenchError(f"unknown {self.kind} '{name}'; available: {avail}") from None

    def _bound_metric(self, text: str) -> Entry:
        from .params import parse_spec

        spec = parse_spec(text)
        base = self.get(spec.name)
        name = str(spec)
        return Entry(self.kind, name, base.factory.bind(spec.params, name), base.plugin,
                     dict(base.meta))

    def __contains__(self, name: str) -> bool:
        if name not in self._entries and self.kind == "metric" and ":" in name:
            return name.partition(":")[0].strip() in self._entries
        return name in self._entries

    def __iter__(self):
        """Entries in registration order."""
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)


def _split_env(var: str) -> set[str]:
    return {p.strip() for p in os.environ.get(var, "").split(",") if p.strip()}


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


class Manager:
    """Loads plugins and holds the registries.

    blocked:  plugin names not to load (``-p no:NAME``, ``BENCH_DISABLE_PLUGINS=a,b``).
    only:     if given, load only these third-party plugins (``BENCH_PLUGINS=a,b``); built-in
              plugins still load unless blocked.
    trace:    print every plugin load and hook call to stderr (``--trace-hooks``,
              ``BENCH_TRACE=1``).
    entry_points / defaults: load the ``bench`` entry points / the built-in :data:`DEFAULT_PLUGINS`
              (a manager with neither starts empty; add plugins with :meth:`register`).
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
        #: names of installed plugins that were not loaded because of blocked / only
        self.skipped: dict[str, str] = {}
        self.problems: list[str] = []
        self._registries: dict[str, Registry] | None = None
        if entry_points:
            self._load_entry_points()
        if defaults:
            for name, module in DEFAULT_PLUGINS.items():
                if name not in self.plugins or self.plugins[name].error:
                    self._load(name, module, builtin=True)
        self.check_pending()

    # ------------------------------------------------------------------ tracing
    def _trace(self, msg: str) -> None:
        if self.trace:
            sys.stderr.write(f"bench: trace: {msg}\n")
            sys.stderr.flush()

    # ------------------------------------------------------------------ loading
    def _wanted(self, name: str, builtin: bool) -> bool:
        if name in self.blocked:
            self.skipped[name] = "blocked"
        elif self.only is not None and not builtin and name not in self.only:
            self.skipped[name] = "not in BENCH_PLUGINS"
        else:
            return True
        self._trace(f"skip plugin '{name}' ({self.skipped[name]})")
        return False

    def _load_entry_points(self) -> None:
        seen: dict[str, str] = {}
        for ep, package, version in _entry_points():
            if ep.name in seen:
                if seen[ep.name] != package:
                    self.problems.append(
                        f"plugin name '{ep.name}' is declared by packages '{seen[ep.name]}' and "
                        f"'{package}'; the second ({ep.value}) is ignored; rename its entry point "
                        f"or uninstall one"
                    )
                continue
            seen[ep.name] = package
            builtin = package == DISTRIBUTION
            if not self._wanted(ep.name, builtin):
                continue
            self._trace(f"load plugin '{ep.name}' = {ep.value} (entry point of "
                        f"{package or '?'} {version})")
            try:
                module = ep.load()
            except (Exception, SystemExit) as exc:  # a broken plugin must not break the others
                self._broken(ep.name, ep.value, f"failed to import: {type(exc).__name__}: "
                             f"{_one_line(exc)}", version=version, package=package,
                             builtin=builtin)
                continue
            self.register(module, ep.name, version=version, package=package, builtin=builtin)

    def _load(self, name: str, module_name: str, builtin: bool) -> None:
        if not self._wanted(name, builtin):
            return
        self.plugins.pop(name, None)
        self._trace(f"load plugin '{name}' = {module_name} (built-in default)")
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit) as exc:
            self._broken(name, module_name, f"failed to import: {type(exc).__name__}: "
                         f"{_one_line(exc)}", builtin=builtin)
            return
        from . import __version__

        self.register(module, name, version=__version__, package=DISTRIBUTION, builtin=builtin)

    def _broken(self, name: str, module: str, why: str, **info: Any) -> None:
        self.plugins[name] = PluginInfo(name, module, error=why, **info)
        self.problems.append(
            f"plugin '{name}' ({module}) {why}; fix or uninstall it, or block it with -p no:{name}"
        )
        self._trace(f"plugin '{name}' is broken: {why}")

    def register(self, module: Any, name: str | None = None, *, version: str = "",
                 package: str = "", builtin: bool = False) -> None:
        """Register a plugin object (a module, class or instance with hookimpls) under ``name``
        (default: its ``__name__``).  A plugin that implements an unknown hook, or a hook with an
        argument the spec lacks, is recorded as broken (see :attr:`problems`), not registered."""
        modname = getattr(module, "__name__", type(module).__name__)
        name = name or modname
        info = {"version": version, "package": package, "builtin": builtin}
        if self.pm.has_plugin(name):
            self.problems.append(f"plugin name '{name}' is already registered; give the second "
                                 f"one ({modname}) another name")
            return
        unknown, undecorated = _unknown_hooks(module)
        if unknown:
            self._broken(name, modname, f"implements unknown hook(s) {', '.join(unknown)} "
                         f"(misspelled?); valid hooks: {', '.join(_hook_names())}", **info)
            return
        try:
            self.pm.register(module, name=name)
        except Exception as exc:
            self._broken(name, modname, f"is not a valid plugin: {_one_line(exc)}", **info)
            return
        for hook in undecorated:
            self.problems.append(f"plugin '{name}' ({modname}) defines {hook} without "
                                 f"@bench.hookimpl, so it is ignored; decorate it")
        hooks = sorted(i.name for i in self.pm.get_hookcallers(module) or [])
        self.plugins[name] = PluginInfo(name, modname, version, package, builtin, hooks)
        self._registries = None
        self._trace(f"registered plugin '{name}' ({modname}); hooks: {', '.join(hooks) or 'none'}")

    def unregister(self, name: str) -> None:
        """Remove plugin ``name`` (and everything it registered) if present."""
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.plugins.pop(name, None)
        self._registries = None

    def check_pending(self) -> list[str]:
        """pluggy's check for hook implementations that match no hook spec; each one found is
        added to :attr:`problems` (and returned) rather than raised."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            msg = f"{_one_line(exc)}; valid hooks: {', '.join(_hook_names())}"
            self.problems.append(msg)
            return [msg]
        return []

    # ------------------------------------------------------------------ registries
    def _call(self, plugin: str, hookname: str, fn: Callable[..., Any],
              kwargs: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        try:
            fn(**kwargs)
        finally:
            self._trace(f"{hookname} -> plugin '{plugin}' "
                        f"({(time.perf_counter() - t0) * 1e3:.1f} ms)")

    def _build(self) -> dict[str, Registry]:
        regs = {kind: Registry(kind, self.problems) for kind in KINDS}
        for kind, hookname in KINDS.items():
            caller = getattr(self.pm.hook, hookname)
            for impl in caller.get_hookimpls():  # registration order: the first name wins
                plugin = impl.plugin_name
                info = self.plugins.get(plugin)

                def register(name, factory, _p=plugin, _r=regs[kind], _i=info, **meta):
                    if "version" not in meta and _i is not None and _i.version:
                        meta["version"] = _i.version
                    if self.trace:
                        self._trace(f"  plugin '{_p}' registers {_r.kind} {name!r}")
                    _r.add(name, factory, _p, **meta)

                try:
                    self._call(plugin, hookname, impl.function,
                               {a: register for a in impl.argnames})
                except (Exception, SystemExit) as exc:
                    self.problems.append(
                        f"plugin '{plugin}': {hookname} raised {type(exc).__name__}: "
                        f"{_one_line(exc)}; its earlier registrations are kept; fix the plugin "
                        f"or block it with -p no:{plugin}"
                    )
        return regs

    @property
    def registries(self) -> dict[str, Registry]:
        if self._registries is None:
            self._registries = self._build()
        return self._registries

    def registry(self, kind: str) -> Registry:
        if kind not in KINDS:
            raise BenchError(f"unknown kind '{kind}'; one of {', '.join(KINDS)}")
        return self.registries[kind]

    def get(self, kind: str, name: str) -> Entry:
        return self.registry(kind).get(name)

    # ------------------------------------------------------------------ lifecycle hooks
    def notify(self, hookname: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; a reporter's exception is reported, never fatal."""
        hook = getattr(self.pm.hook, hookname)
        for impl in hook.get_hookimpls():  # registration order
            try:
                self._call(impl.plugin_name, hookname, impl.function,
                           {a: kwargs[a] for a in impl.argnames})
            except Exception as exc:
                print(f"bench: warning: plugin '{impl.plugin_name}' {hookname} raised "
                      f"{type(exc).__name__}: {_one_line(exc)}; the run goes on",
                      file=sys.stderr)


def _entry_points() -> list[tuple[md.EntryPoint, str, str]]:
    """``(entry point, package, version)`` of the ``bench`` group: bench's own first, then the
    others by name, so the first registration of a name (the one kept) never depends on the
    order of ``sys.path``."""
    out = []
    for ep in md.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else ""
        out.append((ep, package or "", dist.version if dist is not None else ""))
    return sorted(out, key=lambda t: (t[1] != DISTRIBUTION, t[0].name))


def _hook_names() -> list[str]:
    """Every hook of the contract, in the order :mod:`bench.hookspecs` defines them."""
    return [n for n, v in vars(hookspecs).items()
            if n.startswith("bench_") and inspect.isfunction(v)]


def _unknown_hooks(plugin: Any) -> tuple[list[str], list[str]]:
    """(hookimpls whose name is no hook, hook-named functions lacking ``@bench.hookimpl``)."""
    hooks = set(_hook_names())
    unknown, undecorated = [], []
    for attr in dir(plugin):
        try:
            value = getattr(plugin, attr)
        except Exception:
            continue
        if not callable(value) or inspect.isclass(value) or inspect.ismodule(value):
            continue
        marked = getattr(value, _IMPL_ATTR, None) is not None
        if marked and attr not in hooks:
            unknown.append(attr)
        elif not marked and attr in hooks:
            undecorated.append(attr)
    return sorted(unknown), sorted(undecorated)


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
    """Make ``manager`` the process-wide one (``None``: build a fresh one on next use)."""
    global _default
    _default = manager
