"""bench: cross-evaluate anomaly detectors against datasets and print leaderboards."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("bench")

from .data import Dataset, Evaluation, Series, Split  # noqa: E402
from .errors import BenchError  # noqa: E402
from .tags import DetectorTags  # noqa: E402

__all__ = ["BenchError", "Dataset", "DetectorTags", "Evaluation", "Series", "Split",
           "__version__", "hookimpl"]

from .notebook import run  # noqa: E402  (bench.run: one call from a notebook)
from .records import (  # noqa: E402  (bench.load: a record back, e.g. in a notebook)
    CellResult,
    EvaluationResult,
    RunRecord,
    SeriesEvaluation,
    load,
)

__all__ += ["CellResult", "EvaluationResult", "RunRecord", "SeriesEvaluation", "load", "run"]
