"""What a plugin passes to ``register(name, factory, **meta)``, typed once per kind.

Each registration hook of :mod:`bench.hookspecs` receives a ``register`` callback; the classes
here name every ``meta`` key that callback accepts for its kind, with its type and meaning, so a
plugin author (and a type checker) reads them in one place.  The registry rejects a key that is
not listed here with a plugin problem naming the plugin, the key and the known keys (a typo such
as ``defualt_run=True`` used to be ignored silently).

Keys every kind accepts: ``description`` (one paragraph for ``bench list``; defaults to the
factory's docstring) and ``version`` (the meaning's version; defaults to the plugin package's
version, filled in by bench).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:  # typing only: importing these at run time would import the data model
    from typing import Unpack

    from .data import Dataset, Evaluation


class _Common(TypedDict, total=False):
    description: str
    version: str | int


class DatasetMeta(_Common, total=False):
    """``default_run``: ``True`` to include the dataset in a bare ``bench run`` (only for data
    that ships with the plugin), or a dict of the parameters that run uses (``{"sample": True}``).
    ``evaluation``: its :class:`bench.Evaluation` (headline, threshold, cost, protocol, split), so
    that a run plans its threshold and metrics without loading the data; it must equal the
    ``Dataset.evaluation`` the factory returns."""

    default_run: bool | dict[str, Any]
    evaluation: Evaluation


class DetectorMeta(_Common, total=False):
    """``default_run``: ``False`` to leave the detector out of a bare ``bench run`` (default
    ``True``).  ``chance``: ``True`` for a chance baseline (``random``, ``constant``): its rows are
    marked ``~chance``, never ranked, and every other detector is tested against them.
    ``group``: the heading ``bench list detectors`` lists it under (``"built-in"``,
    ``"classical"``, ``"pyod"``, ...).  ``looks_ahead``: ``True`` when a row's score uses rows
    after it (centred windows, whole-series transforms), so it is not deployable as it stands;
    tables and listings mark it."""

    default_run: bool
    chance: bool
    group: str
    looks_ahead: bool


class MetricMeta(_Common, total=False):
    """Override what the :func:`bench.metrics.metric` decorator declares on the function:
    ``higher_is_better``, ``input`` (``"pred"`` or ``"scores"``), ``default`` (computed when no
    ``--metric`` is given), ``inflating`` (known to overstate quality; tables mark it),
    ``metric_version`` (an int, bumped when the meaning changes), ``label`` (the column title),
    ``oracle`` (the value is chosen with test labels: an upper bound printed ORACLE), ``range``
    (``(low, high)``: the values it can take; a record outside it is rejected)."""

    higher_is_better: bool
    input: str
    default: bool
    inflating: bool
    metric_version: int
    label: str
    oracle: bool
    range: tuple[float, float]


class CostMeta(_Common, total=False):
    """``kind``: ``"compute"`` for a model that prices a cell's timings (``model(cell) ->
    dict``) instead of costing its alarms."""

    kind: str


class ThresholdMeta(_Common, total=False):
    """No keys beyond ``description`` and ``version``."""


class ExecutorMeta(_Common, total=False):
    """``isolates``: ``True`` when each cell runs in a process of its own, so a crash, hang or
    memory blow-up costs only that cell (``--timeout`` / ``--memory-limit`` need it)."""

    isolates: bool


class SuiteMeta(_Common, total=False):
    """No keys beyond ``description`` and ``version`` (a suite's factory returns a
    :class:`bench.suites.Suite`, which declares the rest)."""


#: the TypedDict of each registry kind
META: dict[str, type] = {
    "dataset": DatasetMeta,
    "detector": DetectorMeta,
    "metric": MetricMeta,
    "cost": CostMeta,
    "threshold": ThresholdMeta,
    "executor": ExecutorMeta,
    "suite": SuiteMeta,
}


def meta_keys(kind: str) -> frozenset[str]:
    """Every ``meta`` key that ``register`` accepts for ``kind``; empty for a kind that declares
    no TypedDict here (then no key is checked)."""
    td = META.get(kind)
    if td is None:
        return frozenset()
    return frozenset(td.__required_keys__) | frozenset(td.__optional_keys__)


def unknown_keys(kind: str, meta: Mapping[str, Any]) -> list[str]:
    """The keys of ``meta`` that ``kind`` does not accept, sorted (empty when all are known or
    the kind declares no keys here)."""
    keys = meta_keys(kind)
    return sorted(k for k in meta if keys and k not in keys)


class RegisterDataset(Protocol):
    def __call__(self, name: str, factory: Callable[..., Dataset], /,
                 **meta: Unpack[DatasetMeta]) -> None: ...


class RegisterDetector(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], /,
                 **meta: Unpack[DetectorMeta]) -> None: ...


class RegisterMetric(Protocol):
    def __call__(self, name: str, fn: Callable[..., float], /,
                 **meta: Unpack[MetricMeta]) -> None: ...


class RegisterCostModel(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], /,
                 **meta: Unpack[CostMeta]) -> None: ...


class RegisterThreshold(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], /,
                 **meta: Unpack[ThresholdMeta]) -> None: ...


class RegisterExecutor(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], /,
                 **meta: Unpack[ExecutorMeta]) -> None: ...


class RegisterSuite(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], /,
                 **meta: Unpack[SuiteMeta]) -> None: ...
