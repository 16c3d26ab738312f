"""bench: cross-evaluate anomaly detectors against datasets and print leaderboards.

The public names below are imported on first use (PEP 562), so ``import bench._entry`` (the
``bench`` command's entry point) installs its signal handlers before numpy, pluggy or any other
module of bench is imported."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the submodule that defines it
_LAZY = {
    "BenchError": "errors",
    "Dataset": "data", "Evaluation": "data", "Series": "data", "Split": "data",
    "DetectorTags": "tags",
    "run": "notebook",  # bench.run: one call from a notebook
    "CellResult": "records", "EvaluationResult": "records", "RunRecord": "records",
    "SeriesEvaluation": "records", "load": "records",  # bench.load: a record back
}

__all__ = ["BenchError", "CellResult", "Dataset", "DetectorTags", "Evaluation",
           "EvaluationResult", "RunRecord", "Series", "SeriesEvaluation", "Split",
           "__version__", "hookimpl", "load", "run"]

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    from .data import Dataset, Evaluation, Series, Split
    from .errors import BenchError
    from .notebook import run
    from .records import CellResult, EvaluationResult, RunRecord, SeriesEvaluation, load
    from .tags import DetectorTags

    hookimpl: pluggy.HookimplMarker


def __getattr__(name: str) -> Any:
    """A public name, imported (and cached in the module) on first use."""
    if name == "hookimpl":
        import pluggy

        value: Any = pluggy.HookimplMarker("bench")
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
