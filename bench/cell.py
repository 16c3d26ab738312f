"""A cell: the picklable description of one (dataset, detector, seed) evaluation, and how it
trains (its protocol)."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field, replace

from . import protocols
from .errors import BenchError
from .params import Spec

#: the built-in protocols of bench's own split (every registered name is accepted:
#: :func:`bench.protocols.names`); ``--train-on`` is an alias (``normal`` = semi-supervised,
#: ``all`` = unsupervised)
PROTOCOLS = ("unsupervised", "semi-supervised")
TRAIN_ON = {"normal": "semi-supervised", "all": "unsupervised"}
#: ``--window period``: each univariate series' dominant period (bench.period.dominant_period)
PERIOD_WINDOW = "period"


@dataclass(frozen=True)
class Protocol:
    """How a cell trains, recorded in every cell.

    name:        a registered protocol (:mod:`bench.protocols`, ``bench list protocols``):
                 ``"unsupervised"``: fit on every training row, labels unused;
                 ``"semi-supervised"``: fit on the normal training rows only (labels used to drop
                 the anomalous ones; windows never cross a dropped row); ``"tsb-ad"``: TSB-AD's
                 procedure (fit and evaluate the whole series, VUS window = the series' period);
                 ``"nab"`` when registered.  ``""`` (the default): the dataset's declared
                 protocol (:class:`bench.Evaluation`), resolved when the cell loads its dataset.
    standardize: scale each feature with the mean and standard deviation of the fitted rows.
    window:      sliding windows for row detectors, run by the harness (bench.windows.Windowed):
                 ``None`` = the detector's declared ``default_window`` on univariate series
                 (32 for iforest and kde, as the autoencoders), else no window; ``1`` = never;
                 ``w > 1`` = windows of ``w`` rows for every row detector; ``"period"`` =
                 windows of each univariate series' dominant period (:mod:`bench.period`, as
                 TSB-AD sizes its ``Sub-*`` detectors; harness windows stay causal).
    train_on:    alias of ``name`` kept for scripts: ``"normal"`` or ``"all"``.
    """

    name: str = ""
    standardize: bool = True
    window: int | str | None = None
    train_on: InitVar[str | None] = None

    def __post_init__(self, train_on: str | None) -> None:
        if train_on is not None:
            if train_on not in TRAIN_ON:
                raise BenchError(f"train_on must be 'normal' or 'all', got {train_on!r}")
            if self.name and self.name != TRAIN_ON[train_on]:
                raise BenchError(f"protocol {self.name!r} contradicts train_on={train_on!r}")
            object.__setattr__(self, "name", TRAIN_ON[train_on])
        if self.name:
            protocols.get(self.name)  # an unknown name: one line listing the registered ones
        if self.window is not None and self.window != PERIOD_WINDOW and not (
                isinstance(self.window, int) and self.window >= 1):
            raise BenchError(f"window must be an int >= 1 (1 = no window) or "
                             f"'{PERIOD_WINDOW}', got {self.window!r}")

    @property
    def uses_labels(self) -> bool:
        """True when training rows are chosen with the labels (semi-supervised)."""
        return self.profile.uses_labels

    @property
    def profile(self) -> protocols.Profile:
        """The registered :class:`bench.protocols.Profile` of this protocol's name."""
        return protocols.get(self.name)

    def resolve(self, declared: str) -> Protocol:
        """This protocol with its name filled from the dataset's declared one when unset."""
        return self if self.name else replace(self, name=declared or "unsupervised")


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
    #: evaluate the scores in this stored file (any fit key) instead of fitting: how a compare
    #: re-evaluates a base run's scores with this bench's evaluation code
    scores_from: str | None = None


class CellError(Exception):
    """A detector or loader broke its contract; the message says how."""
