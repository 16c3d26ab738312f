"""What the executors share (:mod:`bench.executors` re-exports it): the ``run_one`` and ``emit``
types, ``--memory-limit`` sizes, option checks, ``started`` events and the picklable setup from
which an isolated worker rebuilds the run's plugin manager."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from . import checks, progress
from .errors import BenchError
from .records import CellResult

RunOne = Callable[[Any, Any], CellResult]
Emit = Callable[[dict[str, Any]], None]

# ----------------------------------------------------------------------------- options

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6,
          "mib": 2**20, "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12,
          "tib": 2**40}


def parse_size(text: str | int | float | None) -> int | None:
    """Bytes in a size such as ``2GB`` (10^9), ``1.5GiB`` or ``2G`` (2^30), ``512MB`` or a plain
    number of bytes; ``None`` stays ``None``."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else int(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise BenchError(f"--memory-limit '{text}': write a size such as 2GB, 512MB or 1.5GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _mb(n: float) -> str:
    return f"{n / 10**6:.0f} MB"


def _positive(name: str, value: float | None) -> float | None:
    return checks.positive_seconds(f"--{name}", value)


def _no_emit(event: dict[str, Any]) -> None:
    """Where events go when the caller wants none."""


def _started(emit: Emit, cell: Any) -> None:
    emit({"kind": "started", **progress.started_event(cell)})


def worker_setup(manager: Any, plugins: Iterable[str] = (), *,
                 timeout: float | None = None, memory_limit: int | None = None) -> dict[str, Any]:
    """What a worker needs to rebuild the parent's plugin manager: blocked and allowed plugin
    names, and the plugins registered in-process (not from entry points), by module name, plus
    any ``plugins`` given as ``module`` or ``name=module``.  Small and picklable."""
    if manager is None:
        raise BenchError("an isolating executor needs the run's plugin manager (manager=)")
    extra = {info.name: info.module for info in manager.plugins.values()
             if not info.error and not info.package and not info.builtin
             and info.module not in ("__main__", "__mp_main__")}
    for p in plugins:
        name, _, module = p.rpartition("=")
        extra[name or module] = module
    return {"blocked": sorted(manager.blocked),
            "only": sorted(manager.only) if manager.only is not None else None,
            "plugins": sorted(extra.items()), "timeout": timeout, "memory_limit": memory_limit}
