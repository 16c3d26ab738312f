"""What the conformance checks run on (a :class:`Subject`), how they fail, and tiny test data."""

from __future__ import annotations

import inspect
import unittest
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import Dataset, Series, Split

KIND_DETECTOR = "detector"
KIND_DATASET = "dataset"


class ConformanceError(AssertionError):
    """A plugin broke a rule of the contract.  The message names the plugin, the rule and the fix.

    ``rule`` is the check's one-line rule; ``failures`` lists every message when
    :func:`bench.testing.check_detector` / ``check_dataset`` found more than one."""

    def __init__(self, message: str, rule: str = "", failures: list[str] | None = None):
        super().__init__(message)
        self.rule = rule
        self.failures = failures or [message]


class DataUnavailable(unittest.SkipTest):
    """A dataset's files are not on this machine (its loader raised :class:`bench.BenchError`
    saying how to get them).  Not a broken rule: pytest reports the check as skipped."""


@dataclass(eq=False)
class Subject:
    """A detector or dataset factory under test.

    kind:    ``"detector"`` or ``"dataset"``.
    name:    its registry name (what users type after ``-m`` / ``-d``).
    factory: the registered class or function.
    params:  keyword parameters to build it with (e.g. small sizes so the checks run fast).
    plugin:  the plugin that registered it, named in every failure message.
    version: the version recorded in the cell key.
    options: sizes the checks use: ``n_train`` (400), ``n_test`` (240), ``n_features`` (3),
             ``short`` (rows of the very short series, 8), ``min_auc`` (0.75).
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    params: dict[str, Any] = field(default_factory=dict)
    plugin: str = ""
    version: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    guessed_name: bool = False  # name taken from the factory, not the registry
    #: the registration's meta (``evaluation=`` ...) when the subject came from a registry;
    #: None for a bare factory
    meta: dict[str, Any] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in (KIND_DETECTOR, KIND_DATASET):
            raise ValueError(f"kind must be 'detector' or 'dataset', got {self.kind!r}")

    def __str__(self) -> str:
        by = f" (plugin '{self.plugin}')" if self.plugin else ""
        return f"{self.kind} '{self.name}'{by}"

    def build(self) -> Any:
        """A fresh, unfitted detector, or the dataset, from ``factory(**params)``."""
        return self.factory(**self.params)

    def opt(self, key: str) -> Any:
        return self.options.get(key, DEFAULT_OPTIONS[key])

    def fail(self, rule: str, detail: str, fix: str = "") -> ConformanceError:
        """The error to raise when this subject breaks ``rule``."""
        msg = f"{self}: rule '{rule}' broken: {detail}"
        if fix:
            msg += f"; fix: {fix}"
        return ConformanceError(msg, rule)


DEFAULT_OPTIONS: dict[str, Any] = {
    "n_train": 400,
    "n_test": 240,
    "n_features": 3,
    "short": 8,
    "min_auc": 0.75,
}


def _name_of(factory: Any) -> str:
    return getattr(factory, "__name__", type(factory).__name__).lower()


def _looks_like_detector(factory: Any) -> bool:
    if inspect.isclass(factory):
        return callable(getattr(factory, "fit", None)) and callable(getattr(factory, "score", None))
    return False


def _returns_dataset(factory: Any) -> bool:
    try:
        ann = inspect.signature(factory).return_annotation
    except (TypeError, ValueError):
        return False
    return ann is Dataset or (isinstance(ann, str) and ann.rsplit(".", 1)[-1] == "Dataset")


def detector(factory: Callable[..., Any], *, name: str | None = None,
             params: dict[str, Any] | None = None, plugin: str = "", version: str = "",
             **options: Any) -> Subject:
    """A detector factory to check (``options``: see :class:`Subject`)."""
    return Subject(KIND_DETECTOR, name or _name_of(factory), factory, dict(params or {}),
                   plugin, version, options, guessed_name=name is None)


def dataset(factory: Callable[..., Any], *, name: str | None = None,
            params: dict[str, Any] | None = None, plugin: str = "", version: str = "",
            **options: Any) -> Subject:
    """A dataset factory to check."""
    return Subject(KIND_DATASET, name or _name_of(factory), factory, dict(params or {}),
                   plugin, version, options, guessed_name=name is None)


def as_subject(item: Any, kind: str | None = None) -> Subject:
    """A :class:`Subject` from a Subject, a registry ``Entry``, or a factory: a class with ``fit``
    and ``score`` is a detector, a function annotated ``-> bench.Dataset`` a dataset; anything
    else is built once with its defaults to see which it is."""
    if isinstance(item, Subject):
        return item
    if hasattr(item, "factory") and hasattr(item, "kind") and hasattr(item, "plugin"):
        return Subject(item.kind, item.name, item.factory, {}, item.plugin,
                       getattr(item, "version", ""), meta=dict(getattr(item, "meta", {}) or {}))
    if not callable(item):
        raise TypeError(f"expected a detector or dataset factory, got {type(item).__name__}")
    if kind is None:
        if _looks_like_detector(item):
            kind = KIND_DETECTOR
        elif _returns_dataset(item):
            kind = KIND_DATASET
        else:
            built = item()
            kind = KIND_DATASET if isinstance(built, Dataset) else KIND_DETECTOR
    return (detector if kind == KIND_DETECTOR else dataset)(item)


# ----------------------------------------------------------------------------- tiny data


def signal(n: int, n_features: int = 3, seed: int = 0) -> np.ndarray:
    """Normal behaviour: ``n`` rows of ``n_features`` noisy sinusoids (period 24 steps),
    standardised (mean 0, sd 1 per feature), float32 ``[n, n_features]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, n_features))
    x = np.sin(2 * np.pi * t / 24 + phase) + 0.3 * rng.normal(size=(n, n_features))
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


def plant(x: np.ndarray, starts: list[int], width: int = 5,
          offset: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Add ``offset`` (standard deviations) to every feature on ``width``-step segments at
    ``starts``; return ``(values, labels)`` with labels int8 1 on those steps."""
    x = x.copy()
    labels = np.zeros(len(x), dtype=np.int8)
    for s in starts:
        x[s:s + width] += offset
        labels[s:s + width] = 1
    return x, labels


def tiny_series(n: int = 200, n_features: int = 3, seed: int = 0, name: str = "tiny") -> Series:
    """A small labelled series: :func:`signal` with planted anomalies in its validation and test
    ranges (split 50 / 25 / 25 %), none in training."""
    q = n // 4
    starts = [2 * q + q // 3, 3 * q + q // 4, 3 * q + (2 * q) // 3]
    values, labels = plant(signal(n, n_features, seed), starts, width=max(1, n // 40))
    return Series(values, labels, name=name, split=Split(2 * q, 3 * q))


def tiny_dataset(n_series: int = 2, n: int = 200, n_features: int = 3,
                 name: str = "tiny") -> Dataset:
    """:func:`tiny_series` ``n_series`` times (seeds 0, 1, ...) as a dataset with full metadata."""
    series = [tiny_series(n, n_features, seed=i, name=f"{name}-{i}") for i in range(n_series)]
    return Dataset(name, series, description="Noisy sinusoids with planted level offsets.",
                   license="CC0-1.0 (generated)", family="time-series",
                   provenance="bench.testing.tiny_dataset")
