"""The data model: a labelled `Series`, its chronological `Split`, and a `Dataset` of series."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BenchError


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

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(str(self.values.shape).encode())
        h.update(np.ascontiguousarray(self.values).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        s = self.split.resolve(len(self))
        h.update(f"{s.train_end},{s.val_end}".encode())
        return h.hexdigest()


@dataclass
class Dataset:
    """A named collection of series with its provenance.

    name:        registry name, e.g. ``"hpc"``.
    series:      one or many :class:`Series` (names unique).
    description: one paragraph for ``bench list datasets``.
    license:     the data's licence (SPDX id or a short phrase).
    family:      e.g. ``"telemetry"``, ``"logs"``, ``"time-series"``.
    provenance:  where the data came from (URL, repository @ commit, paper).
    """

    name: str
    series: Sequence[Series]
    description: str = ""
    license: str = ""
    family: str = ""
    provenance: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.series = list(self.series)
        if not self.series:
            raise BenchError(f"dataset '{self.name}' has no series")
        names = [s.name for s in self.series]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise BenchError(f"dataset '{self.name}': duplicate series names {sorted(dup)}")
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
