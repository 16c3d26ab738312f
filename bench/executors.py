"""Executors run cells.  Inline (in this process) is built in; others register the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import bench


class InlineExecutor:
    """Runs each cell in this process, one after another, in grid order."""

    def __init__(self, **_: Any):
        pass

    def map(self, fn: Callable[[Any], Any], cells: Iterable[Any]) -> Iterator[Any]:
        for cell in cells:
            yield fn(cell)

    def close(self) -> None:
        pass


@bench.hookimpl
def bench_register_executors(register):
    register("inline", InlineExecutor)
