"""The typed plugin contract: what the harness calls on the things plugins register.

:mod:`bench.hookspecs` says *how* a plugin registers things (``register(name, factory,
**meta)``); this module says *what* those things are, as :class:`typing.Protocol` classes a type
checker (and :func:`isinstance`, they are runtime-checkable) can verify:

* :class:`Detector`: ``fit`` / ``score``; optional ``explain``, ``device_``, ``compiles_``;
  :class:`FleetDetector` for the ``fleet`` capability.
* :class:`Metric`: ``fn(labels, x, **params) -> float`` with its :class:`MetricInfo`.
* :class:`CostModel` (alarms -> cost) and :class:`ComputeCostModel` (``kind="compute"``: a cell
  record's timings -> cost).
* :class:`ThresholdStrategy`: ``uses``, ``needs_test_labels``, ``select(ctx)``.
* :class:`Executor`: ``map``, ``cancel``, ``close``.

Metric metadata is normalised once, when the metric is registered: :func:`metric_info` reads
it from ``meta`` or the function's attributes (the :func:`bench.metrics.metric` decorator sets
them) and the registry stores a :class:`RegisteredMetric`, so the rest of the harness reads one
shape whichever way a plugin declared it.  A metric named with parameters
(``vus_roc:window=50``) is the same metric with those parameters bound
(:meth:`RegisteredMetric.bind`).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .errors import BenchError

# ----------------------------------------------------------------------------- detectors


@runtime_checkable
class Detector(Protocol):
    """An unfitted detector, as its factory returns it (``factory(**params)``).

    ``fit(X, *, X_val=None, seed=0)``: ``X`` float32 ``[n, F]`` (standardised training rows,
    labels never given), ``X_val`` the validation rows or None (both keywords optional in the
    signature: bench passes those ``fit`` accepts); returns ``self``.
    ``score(X)``: float ``[T]`` for ``X`` ``[T, F]``, **higher = more anomalous**, finite.

    Optional, read with ``getattr`` after ``fit``: ``explain(X) -> [T, F]`` per-feature
    contributions (same direction as ``score``); ``device_`` (str, e.g. ``"cpu"``,
    ``"cuda:0"``), recorded per cell; ``compiles_`` (int), how many programs a JIT compiled.
    """

    def fit(self, X: np.ndarray, *, X_val: np.ndarray | None = None,
            seed: int = 0) -> Detector: ...

    def score(self, X: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class ExplainingDetector(Detector, Protocol):
    """A :class:`Detector` with ``explain(x) -> float [T, F]`` (higher = more anomalous)."""

    def explain(self, X: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class FleetDetector(Protocol):
    """The ``fleet`` capability: a factory declaring ``bench.DetectorTags(fleet=True)`` whose
    detectors fit every series of a cell at once.  ``fit_fleet(trains, *, X_vals, seeds)`` takes
    one training array per series and returns the fitted fleet; ``score_fleet(xs)`` one score
    array per series (same rules as :meth:`Detector.score`)."""

    def fit_fleet(self, trains: list[np.ndarray], *, X_vals: list[np.ndarray | None],
                  seeds: list[int]) -> Any: ...

    def score_fleet(self, xs: list[np.ndarray]) -> list[np.ndarray]: ...


# ----------------------------------------------------------------------------- metrics

#: what a metric scores: ``"scores"`` (threshold-free, float, higher = more anomalous) or
#: ``"pred"`` (the 0/1 alarms at the chosen threshold; ``"alarms"`` is accepted as a synonym)
InputKind = Literal["scores", "pred"]


@dataclass(frozen=True)
class MetricInfo:
    """A metric's declared metadata, normalised at registration.

    name:             registry name (with bound parameters: ``vus_roc:window=50``).
    higher_is_better: direction, used by rankings and ``bench compare`` (required).
    input:            ``"scores"`` or ``"pred"`` (0/1 alarms).
    parameters:       keyword parameters and their values (defaults, or the bound ones).
    version:          declared version of its meaning (``getattr(fn, "version", 1)``); values
                      of different versions are never compared.
    inflating:        trivial detectors score high on it; tables mark it ``(!)``.
    default:          computed in every run unless ``--metric`` names others.
    label:            short column header.
    """

    name: str
    higher_is_better: bool
    input: InputKind
    parameters: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    inflating: bool = False
    default: bool = False
    label: str = ""


@runtime_checkable
class Metric(Protocol):
    """``metric(labels, x) -> float``: ``labels`` int8 ``[T]`` (the test range), ``x`` the
    scores or the 0/1 alarms of the same rows (``info.input``); direction in ``info``."""

    info: MetricInfo

    def __call__(self, labels: np.ndarray, x: np.ndarray) -> float: ...


_ATTRS = ("higher_is_better", "input", "inflating", "default", "label")


def _declared(fn: Any, meta: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``meta[key]`` if given, else the function's attribute, else ``default``."""
    if key in meta:
        return meta[key]
    return getattr(fn, key, default)


def _inputs_and_params(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """The keyword parameters of ``fn(labels, x, **params)``: every parameter after the two
    inputs (``**kwargs`` included)."""
    try:
        ps = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return ps[2:]


def metric_info(name: str, fn: Callable[..., Any], meta: Mapping[str, Any] | None = None
                ) -> MetricInfo:
    """Normalise a metric's metadata: ``meta`` (``register(name, fn, **meta)``) wins over the
    function's attributes.  Raises ``ValueError`` naming what is missing or wrong."""
    meta = dict(meta or {})
    hib = _declared(fn, meta, "higher_is_better")
    if not isinstance(hib, (bool, np.bool_)):
        raise ValueError(f"declare higher_is_better=True or False (got {hib!r}): "
                         f"register({name!r}, fn, higher_is_better=True, input=\"scores\") or "
                         f"decorate fn with @bench.metrics.metric(...)")
    kind = _declared(fn, meta, "input")
    kind = "pred" if kind == "alarms" else kind
    if kind not in ("scores", "pred"):
        raise ValueError(f"declare input=\"scores\" or input=\"pred\" (0/1 alarms), got "
                         f"{kind!r}")
    version = getattr(fn, "version", None)
    if not isinstance(version, int) or isinstance(version, bool):
        declared = meta.get("metric_version", meta.get("version"))
        # meta["version"] may be the plugin's package version ("1.2.0"): only an int counts
        version = declared if isinstance(declared, int) and not isinstance(declared, bool) else 1
    params = {p.name: p.default for p in _inputs_and_params(fn)
              if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
              and p.default is not p.empty}
    return MetricInfo(name=name, higher_is_better=bool(hib), input=kind, parameters=params,
                      version=version, inflating=bool(_declared(fn, meta, "inflating", False)),
                      default=bool(_declared(fn, meta, "default", False)),
                      label=str(_declared(fn, meta, "label", None) or name))


class RegisteredMetric:
    """A metric as the registry holds it: the plugin's function, its :class:`MetricInfo`, and
    the parameters bound to it.  Calling it calls ``fn(labels, x, **params)``.

    The normalised metadata is also available as attributes (``input``, ``higher_is_better``,
    ``default``, ``inflating``, ``label``, ``version``); any other attribute is the function's
    own (e.g. ``chance``, ``oracle``).  ``__wrapped__`` is the function, so ``inspect`` shows
    its signature and docstring."""

    def __init__(self, info: MetricInfo, fn: Callable[..., Any],
                 params: Mapping[str, Any] | None = None):
        self.info = info
        self.fn = fn
        self.params = dict(params or {})
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", info.name)
        self.__module__ = getattr(fn, "__module__", __name__)
        self.__annotations__ = dict(getattr(fn, "__annotations__", {}))

    def __call__(self, labels: np.ndarray, x: np.ndarray, **params: Any) -> float:
        """``fn(labels, x, **bound)``; ``params`` given here override the bound ones."""
        return self.fn(labels, x, **{**self.params, **params})

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        if key in _ATTRS or key == "version":
            return getattr(self.info, key)
        return getattr(self.fn, key)

    def __repr__(self) -> str:
        return f"<metric {self.info.name}>"

    def bind(self, given: Mapping[str, Any], name: str | None = None) -> RegisteredMetric:
        """This metric with parameters ``given`` (text from the command line, or values)
        converted to their annotated types; unknown or bad ones raise a one-line
        :class:`BenchError` naming the parameter."""
        from .params import check_constraints, convert

        base = self.info.name.split(":")[0]
        ps = {p.name: p for p in _inputs_and_params(self.fn)
              if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in _inputs_and_params(self.fn))
        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:
            hints = {}
        bound = dict(self.params)
        for key, raw in given.items():
            if key not in ps and not takes_kwargs:
                names = ", ".join(ps) or "none"
                raise BenchError(f"metric '{base}' has no parameter '{key}'; its parameters: "
                                 f"{names}")
            p = ps.get(key)
            bound[key] = convert(raw, hints.get(key, inspect.Parameter.empty),
                                 p.default if p is not None else inspect.Parameter.empty,
                                 where=f"metric '{base}': parameter '{key}'")
        check_constraints("metric", base, self.fn, bound, keys=given)
        missing = [n for n, p in ps.items() if p.default is p.empty and n not in bound]
        if missing:
            raise BenchError(f"metric '{base}' needs parameter(s) {', '.join(missing)}; write "
                             f"--metric {base}:{missing[0]}=VALUE")
        shown = ",".join(f"{k}={v}" for k, v in given.items())
        label = self.info.label + (f"({shown})" if shown else "")
        info = MetricInfo(name or self.info.name, self.info.higher_is_better, self.info.input,
                          {**self.info.parameters, **bound}, self.info.version,
                          self.info.inflating, self.info.default, label)
        return RegisteredMetric(info, self.fn, bound)


def as_metric(name: str, fn: Callable[..., Any],
              meta: Mapping[str, Any] | None = None) -> RegisteredMetric:
    """What the registry stores for ``register(name, fn, **meta)`` (``ValueError`` if the
    declaration is incomplete)."""
    if isinstance(fn, RegisteredMetric):
        fn = fn.fn
    return RegisteredMetric(metric_info(name, fn, meta), fn)


# ----------------------------------------------------------------------------- costs, thresholds


@runtime_checkable
class CostModel(Protocol):
    """``model(labels, pred) -> float``: the cost of 0/1 alarms ``pred`` against ``labels``
    (both ``[T]``), **lower is better**, in the model's own unit.  Optional
    ``sweep(labels, scores, thresholds) -> float [K]``: the cost of ``scores >= t`` for each
    threshold (used by ``min_cost``).  Optional ``version: int``."""

    def __call__(self, labels: np.ndarray, pred: np.ndarray) -> float: ...


@runtime_checkable
class ComputeCostModel(Protocol):
    """A cost model registered with ``kind="compute"``: ``model(cell) -> dict`` prices a cell
    record's timings (``fit_s``, ``score_s``, ``peak_mem_mb``, ``device``, ``n_points``);
    lower is better."""

    kind: str

    def __call__(self, cell: Any) -> dict[str, Any]: ...


@runtime_checkable
class ThresholdStrategy(Protocol):
    """``select(ctx) -> float``: alarms are ``scores >= threshold``.  ``ctx`` is a
    :class:`bench.thresholds.ThresholdContext`.  ``uses``: which data chose it (recorded);
    ``needs_test_labels``: True only for an oracle (reported as ORACLE).  Optional
    ``version: int``."""

    uses: str
    needs_test_labels: bool

    def select(self, ctx: Any) -> float: ...


# ----------------------------------------------------------------------------- executors


@runtime_checkable
class Executor(Protocol):
    """Runs cells.  ``map(run_one, cells, ...)`` yields ``run_one(cell, ...)`` results (a
    :class:`bench.records.CellResult` per cell, any order, as they finish; the further
    arguments are described in :func:`bench.hookspecs.bench_register_executors`);
    ``cancel()`` (after Ctrl-C) returns an ``interrupted`` result for each cell still in
    flight; ``close()`` releases workers."""

    def map(self, fn: Callable[..., Any], cells: Iterable[Any], *args: Any) -> Iterator[Any]: ...

    def cancel(self) -> list[Any]: ...

    def close(self) -> None: ...


def _members(protocol: type) -> set[str]:
    """The attributes and methods a protocol class (and its protocol bases) declares."""
    out: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object or klass.__module__ == "typing":
            continue
        out |= set(vars(klass).get("__annotations__", {}))
        out |= {k for k, v in vars(klass).items()
                if callable(v) and (not k.startswith("_") or k == "__call__")}
    return out


def conforms(obj: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (``[]`` when it conforms): a message more
    useful than ``isinstance``'s True/False."""
    return sorted(n for n in _members(protocol) if not hasattr(obj, n))
