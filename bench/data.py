"""The data model: a labelled `Series`, its chronological `Split`, and a `Dataset` of series."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BenchError

#: the largest magnitude a value may have: the square of a larger float32 overflows (3.4e38),
#: so distances and variances computed in float32 would be infinite
MAX_ABS = 1e19


class DataError(BenchError):
    """A dataset's values or split are unusable (non-finite values, an empty range); the message
    names the dataset, the series, the row and the feature."""


@dataclass(frozen=True)
class Split:
    """Chronological index ranges: train ``[0, train_end)``, validation ``[train_end, val_end)``,
    test ``[val_end, T)``.

    Either bound may be given as a fraction of the series length (a float in ``(0, 1)``) and is
    resolved with :meth:`resolve`.  The default is 50 % train, 25 % validation, 25 % test.
    """

    train_end: int | float = 0.5
    val_end: int | float = 0.75

    def resolve(self, length: int) -> Split:
        """Return a split with integer bounds for a series of ``length`` steps."""
        tr = _bound(self.train_end, length)
        va = _bound(self.val_end, length)
        if not 0 < tr <= va <= length:
            raise BenchError(
                f"split train_end={self.train_end}, val_end={self.val_end} does not fit a series "
                f"of {length} steps; need 0 < train_end <= val_end <= {length}"
            )
        return Split(tr, va)

    def ranges(self, length: int) -> dict[str, slice]:
        """``{"train": slice, "val": slice, "test": slice}`` for a series of ``length`` steps."""
        s = self.resolve(length)
        return {
            "train": slice(0, s.train_end),
            "val": slice(s.train_end, s.val_end),
            "test": slice(s.val_end, length),
        }


def _bound(b: int | float, length: int) -> int:
    if isinstance(b, float) and 0.0 < b < 1.0:
        return int(round(b * length))
    return int(b)


@dataclass
class Series:
    """One labelled signal.

    values:     float32 ``[T, F]`` (a 1-D array is read as ``[T, 1]``).
    labels:     int8 ``[T]``, 1 = anomalous step, 0 = normal.
    name:       unique within its dataset.
    split:      the chronological train / validation / test ranges.
    timestamps: optional ``[T]`` array (any dtype numpy can hold).
    meta:       free-form metadata (feature names, units, source file...).
    """

    values: np.ndarray
    labels: np.ndarray
    name: str = "series"
    split: Split = field(default_factory=Split)
    timestamps: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=np.float32)
        if v.ndim == 1:
            v = v[:, None]
        if v.ndim != 2:
            raise BenchError(f"series '{self.name}': values must be [T, F], got shape {v.shape}")
        lab = np.asarray(self.labels)
        if lab.shape != (v.shape[0],):
            raise BenchError(
                f"series '{self.name}': {v.shape[0]} rows of values but labels of shape "
                f"{lab.shape}; give one label per row"
            )
        if lab.size and not np.isin(lab, (0, 1)).all():
            raise BenchError(f"series '{self.name}': labels must be 0 or 1")
        if self.timestamps is not None and len(self.timestamps) != v.shape[0]:
            raise BenchError(
                f"series '{self.name}': {len(self.timestamps)} timestamps for {v.shape[0]} rows"
            )
        self.values = v
        self.labels = lab.astype(np.int8)
        self.split.resolve(len(self))  # validate early

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.values.shape[1])

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(values, labels)`` of the ``"train"``, ``"val"`` or ``"test"`` range."""
        sl = self.split.ranges(len(self))[which]
        return self.values[sl], self.labels[sl]

    def validate(self) -> None:
        """Raise :class:`DataError` (one line naming the series, the row and the feature) when a
        value is NaN, infinite or beyond :data:`MAX_ABS`, or when the train, validation or test
        range is empty.  :class:`Dataset` calls it for every series it is built with."""
        bad = ~np.isfinite(self.values) | (np.abs(self.values) > MAX_ABS)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            names = self.meta.get("features") if isinstance(self.meta, dict) else None
            feature = f"{col} ('{names[col]}')" if isinstance(names, (list, tuple)) \
                and len(names) == self.n_features else str(col)
            raise DataError(
                f"series '{self.name}': {int(bad.sum())} value(s) NaN, infinite or beyond "
                f"+-{MAX_ABS:g} (first at row {row}), the first in feature {feature}: "
                f"{self.values[row, col]}; clean or impute them where the data is loaded")
        r = self.split.ranges(len(self))
        for which in ("train", "val", "test"):
            if r[which].stop <= r[which].start:
                bounds = {k: (v.start, v.stop) for k, v in r.items()}
                raise DataError(
                    f"series '{self.name}' ({len(self)} rows): empty {which} range "
                    f"(train, val, test = {bounds['train']}, {bounds['val']}, {bounds['test']}); "
                    f"give it more rows or move its Split so that every range holds some")

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(str(self.values.shape).encode())
        h.update(np.ascontiguousarray(self.values).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        s = self.split.resolve(len(self))
        h.update(f"{s.train_end},{s.val_end}".encode())
        return h.hexdigest()


#: the built-in protocols of bench's own split: fit on every training row (labels unused), or on
#: the normal ones (labels used to drop the anomalous rows).  Every name registered in
#: :mod:`bench.protocols` is accepted (``tsb-ad``, ``nab``...).
PROTOCOLS = ("unsupervised", "semi-supervised")


@dataclass(frozen=True)
class Evaluation:
    """How a dataset is evaluated, declared by its plugin and recorded in every cell.

    headline:    what its tables sort by: a metric name (``"vus_pr"``, the default for time
                 series: threshold-free, what TSB-AD recommends) or ``"cost:NAME"``, that cost
                 model's total on the test range (lower is better).
    thresholded: the deployable thresholded metric shown beside it (``"f1"``).
    threshold:   the threshold strategy a run uses when none is given (``"best_f1"``: chosen on
                 validation labels; the HPC course uses ``min_cost`` on its cost model).
    cost:        the dataset's own cost model as ``NAME:k=v,...`` text, ``""`` when it defines
                 none (then no cost is its headline, and a run's cost column is informative only).
    protocol:    the intended protocol, a name registered in :mod:`bench.protocols`
                 (``bench list protocols``); a run uses it unless ``--protocol`` /
                 ``--train-on`` says otherwise.
    split:       one line describing the train / validation / test split.
    time_costs:  whether costs that count time steps (an event cost's tolerance, NAB's windows)
                 mean anything here: False for rows without time order (HDFS block sessions) or
                 test ranges shorter than the tolerance (telemetry probes); tables then hide them.
    gated:       metrics (besides the headline) whose getting worse fails ``bench compare``'s
                 gate by default (``--strict`` gates every metric); always computed.
    """

    headline: str = "vus_pr"
    thresholded: str = "f1"
    threshold: str = "best_f1"
    cost: str = ""
    protocol: str = "unsupervised"
    split: str = ""
    time_costs: bool = True
    gated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from . import protocols

        try:  # a registered name (bench.protocols); only an unknown one loads the lazy ones
            known = bool(self.protocol) and protocols.get(self.protocol).name == self.protocol
        except BenchError:
            known = False
        if not known:
            raise BenchError(f"Evaluation protocol {self.protocol!r}: use one of "
                             f"{', '.join(protocols.names())}")
        if not self.headline:
            raise BenchError("Evaluation headline is empty: name a metric (e.g. vus_pr) or "
                             "cost:NAME")

    @property
    def headline_is_cost(self) -> bool:
        """True when the headline is a cost model's test total (lower is better)."""
        return self.headline.startswith("cost:")

    def to_dict(self) -> dict[str, Any]:
        return {"headline": self.headline, "thresholded": self.thresholded,
                "threshold": self.threshold, "cost": self.cost, "protocol": self.protocol,
                "split": self.split, "time_costs": self.time_costs, "gated": list(self.gated)}


@dataclass
class Dataset:
    """A named collection of series with its provenance.

    name:        registry name, e.g. ``"hpc"``.
    series:      one or many :class:`Series` (names unique).
    description: one paragraph for ``bench list datasets``.
    license:     the data's licence (SPDX id or a short phrase).
    family:      e.g. ``"telemetry"``, ``"logs"``, ``"time-series"``.
    provenance:  where the data came from (URL, repository @ commit, paper).
    evaluation:  how it is evaluated (:class:`Evaluation`: headline metric, cost model, protocol,
                 split); the default is VUS-PR with F1 beside it, unsupervised.
    title:       how tables name it, e.g. ``"nab (sample, 4 of 58 series)"``; defaults to
                 ``name``.  A sample must say so here.
    """

    name: str
    series: Sequence[Series]
    description: str = ""
    license: str = ""
    family: str = ""
    provenance: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    evaluation: Evaluation = field(default_factory=Evaluation)
    title: str = ""

    def __post_init__(self) -> None:
        self.series = list(self.series)
        if not self.series:
            raise BenchError(f"dataset '{self.name}' has no series")
        names = [s.name for s in self.series]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise BenchError(f"dataset '{self.name}': duplicate series names {sorted(dup)}")
        for series in self.series:
            try:
                series.validate()
            except DataError as exc:
                raise DataError(f"dataset '{self.name}': {exc}") from None
        if not isinstance(self.evaluation, Evaluation):
            raise BenchError(f"dataset '{self.name}': evaluation must be a bench.Evaluation, "
                             f"got {type(self.evaluation).__name__}")
        self.title = self.title or self.name
        self._fingerprint: str | None = None

    def __iter__(self) -> Iterator[Series]:
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    def fingerprint(self) -> str:
        """Content hash of every series (values, labels, split): 16 hex digits."""
        if self._fingerprint is None:
            h = hashlib.sha256(self.name.encode())
            for s in self.series:
                h.update(s.fingerprint().encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint
