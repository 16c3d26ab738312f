"""pytest fixtures for testing ``bench`` plugins (loaded through the ``pytest11`` entry point, or
with ``pytest_plugins = ["bench.testing.pytest_plugin"]``).

* ``bench_manager``: a fresh plugin manager (installed plugins and built-ins), made the
  process-wide one for the test and dropped afterwards.
* ``register_plugin``: ``register_plugin(obj, name=None)`` registers a throwaway plugin (a module,
  class or instance of ``@bench.hookimpl`` functions) into ``bench_manager`` for this test only;
  it is unregistered when the test ends, pass or fail.
* ``tiny_series`` / ``tiny_dataset``: small labelled data with planted anomalies
  (:func:`bench.testing.tiny_series`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..data import Dataset, Series
from ..plugins import Manager, set_manager
from ._core import tiny_dataset as _tiny_dataset
from ._core import tiny_series as _tiny_series


@pytest.fixture
def bench_manager() -> Iterator[Manager]:
    """A fresh :class:`bench.plugins.Manager`, process-wide for the duration of the test."""
    from .. import plugins

    previous = plugins._default
    manager = Manager()
    set_manager(manager)
    try:
        yield manager
    finally:
        set_manager(previous)


@pytest.fixture
def register_plugin(bench_manager: Manager) -> Iterator[Callable[..., str]]:
    """``register_plugin(plugin, name=None) -> name``: register ``plugin`` for this test."""
    names: list[str] = []

    def register(plugin: Any, name: str | None = None, **info: Any) -> str:
        name = name or getattr(plugin, "__name__", None) or f"test-plugin-{len(names)}"
        bench_manager.register(plugin, name, **info)
        names.append(name)
        return name

    try:
        yield register
    finally:
        for name in reversed(names):
            bench_manager.unregister(name)


@pytest.fixture
def tiny_series() -> Series:
    """200 rows x 3 features, split 100 / 50 / 50, planted anomalies in validation and test."""
    return _tiny_series()


@pytest.fixture
def tiny_dataset() -> Dataset:
    """Two :func:`tiny_series` as a dataset named ``tiny`` with full metadata."""
    return _tiny_dataset()
