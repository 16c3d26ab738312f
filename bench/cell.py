"""A cell: the picklable description of one (dataset, detector, seed) evaluation, and how it
trains (its protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BenchError
from .params import Spec


@dataclass(frozen=True)
class Protocol:
    """How a cell trains.  ``train_on``: ``"normal"`` (training rows labelled 0, the default) or
    ``"all"`` training rows.  ``standardize``: scale each feature with the mean and standard
    deviation of the rows the detector trains on."""

    train_on: str = "normal"
    standardize: bool = True

    def __post_init__(self) -> None:
        if self.train_on not in ("normal", "all"):
            raise BenchError(f"train_on must be 'normal' or 'all', got {self.train_on!r}")


@dataclass
class Cell:
    """A picklable description of one (dataset, detector, seed) cell and how to evaluate it."""

    index: int
    dataset: Spec
    detector: Spec
    seed: int = 0
    thresholds: list[Spec] = field(default_factory=lambda: [Spec("min_cost")])
    costs: list[Spec] = field(default_factory=lambda: [Spec("event")])
    metrics: list[str] = field(default_factory=list)
    protocol: Protocol = field(default_factory=Protocol)
    store: str | None = None  # score store directory; None = neither reuse nor save scores
    explain: bool = True  # store explain() of the test range when the detector has it
    reuse: bool = True  # re-evaluate stored scores instead of refitting when they exist


class CellError(Exception):
    """A detector or loader broke its contract; the message says how."""
