"""Typed pieces of a cell's record: its plan (:class:`CellPlan`), and what its evaluation step
produced (:class:`EvaluationResult`, one per threshold strategy, holding one
:class:`SeriesEvaluation` per series).

Each reads like the JSON object it is written as (``ev["metrics"]``, ``ev.get("per_series")``,
``dict(ev)``), so tables and scripts written against the JSON form keep working; keys this bench
does not know (added by another part of the evaluation, or a newer bench) are kept in ``more``
and written back unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import BenchError


class RecordError(BenchError):
    """A run record that cannot be read: the message names the file and the field."""


_NUM = (int, float)


def kind_of(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _tname(types: Any) -> str:
    ts = types if isinstance(types, tuple) else (types,)
    names = {"dict": "an object", "list": "a list", "str": "a string", "int": "an integer",
             "float": "a number", "bool": "true/false", "NoneType": "null"}
    return " or ".join(dict.fromkeys(names.get(t.__name__, t.__name__) for t in ts))


def need(d: dict[str, Any], key: str, types: Any, where: str, default: Any = ...) -> Any:
    """``d[key]`` checked against ``types``; a missing key takes ``default`` (required when
    ``default`` is ``...``)."""
    if key not in d:
        if default is ...:
            raise RecordError(f"{where}: field '{key}' is missing")
        return default
    v = d[key]
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise RecordError(f"{where}.{key}: expected {_tname(types)}, got bool")
    if not isinstance(v, types):
        raise RecordError(f"{where}.{key}: expected {_tname(types)}, got {kind_of(v)} {v!r:.40}")
    return v


def number(v: Any, where: str) -> float:
    """A metric or cost value: a number, or null for NaN (JSON has no NaN of its own)."""
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, _NUM):
        raise RecordError(f"{where}: expected a number or null, got {kind_of(v)} {v!r:.40}")
    return float(v)


def _numbers(d: Any, where: str) -> dict[str, float]:
    if not isinstance(d, dict):
        raise RecordError(f"{where}: expected an object, got {kind_of(d)}")
    return {k: number(v, f"{where}.{k}") for k, v in d.items()}


def _costs(d: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(d, dict):
        raise RecordError(f"{where}: expected an object, got {kind_of(d)}")
    out = {}
    for name, by_range in d.items():
        if not isinstance(by_range, dict):
            raise RecordError(f"{where}.{name}: expected an object of train/val/test, "
                              f"got {kind_of(by_range)}")
        out[name] = _numbers(by_range, f"{where}.{name}")
    return out


class JsonView(Mapping):
    """Read access by key to a typed object's JSON form: its fields, then ``more``."""

    more: dict[str, Any]

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if f.name != "more")  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        if key in self._names():
            return getattr(self, key)
        return self.more[key]

    def __setitem__(self, key: str, value: Any) -> None:
        """Scripts written against the JSON form may set a key: a field, else ``more``."""
        if key in self._names():
            setattr(self, key, value)
        else:
            self.more[key] = value

    def __iter__(self) -> Iterator[str]:
        yield from self._names()
        yield from self.more

    def __len__(self) -> int:
        return len(self._names()) + len(self.more)

    def to_json(self) -> dict[str, Any]:
        out = {n: _plain(getattr(self, n)) for n in self._names()}
        out.update(self.more)
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, JsonView):
        return v.to_json()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


# ----------------------------------------------------------------------------- per series


@dataclass(eq=False)
class SeriesEvaluation(JsonView):
    """One series under one threshold strategy: the threshold picked (score units), its test
    metrics (NaN where the test range has no anomaly), costs per range, confusion counts."""

    series: str
    threshold: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)
    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, int] = field(default_factory=dict)
    test_anomalies: int = 0
    more: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any, where: str) -> SeriesEvaluation:
        if isinstance(d, SeriesEvaluation):
            return d
        if not isinstance(d, dict):
            raise RecordError(f"{where}: expected an object, got {kind_of(d)}")
        known = {"series", "threshold", "metrics", "costs", "confusion", "test_anomalies"}
        return cls(series=str(need(d, "series", (str, int), where, "")),
                   threshold=number(need(d, "threshold", (*_NUM, type(None)), where, None),
                                    f"{where}.threshold"),
                   metrics=_numbers(need(d, "metrics", dict, where, {}), f"{where}.metrics"),
                   costs=_costs(need(d, "costs", dict, where, {}), f"{where}.costs"),
                   confusion=dict(need(d, "confusion", dict, where, {})),
                   test_anomalies=need(d, "test_anomalies", int, where, 0),
                   more={k: v for k, v in d.items() if k not in known})


# ----------------------------------------------------------------------------- per strategy


@dataclass(eq=False)
class EvaluationResult(JsonView):
    """A cell's scores evaluated under one threshold strategy: ``metrics`` (macro mean over the
    series where each is defined, then the pooled ones), ``n_series`` (series behind each value),
    ``costs`` (sums per range), ``confusion`` (summed counts) and ``per_series``."""

    threshold: str
    threshold_params: dict[str, Any] = field(default_factory=dict)
    chosen_with: str = ""
    oracle: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    n_series: dict[str, int] = field(default_factory=dict)
    series_without_test_anomaly: int = 0
    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, int] = field(default_factory=dict)
    per_series: list[SeriesEvaluation] = field(default_factory=list)
    more: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``best_f1``, ``percentile(q=99)``, with `` ORACLE`` when chosen on test labels."""
        given = ",".join(f"{k}={v}" for k, v in sorted(self.threshold_params.items())
                         if v is not None)
        return self.threshold + (f"({given})" if given else "") + (" ORACLE" if self.oracle
                                                                    else "")

    def value(self, key: str) -> float:
        """A metric's value, or ``cost:NAME``'s test total; NaN when not computed."""
        if key.startswith("cost:"):
            return float((self.costs.get(key[5:]) or {}).get("test", math.nan))
        return float(self.metrics.get(key, math.nan))

    @classmethod
    def from_json(cls, d: Any, where: str) -> EvaluationResult:
        if isinstance(d, EvaluationResult):
            return d
        if not isinstance(d, dict):
            raise RecordError(f"{where}: expected an object, got {kind_of(d)}")
        known = {f.name for f in fields(cls)} - {"more"}
        per = need(d, "per_series", list, where, [])
        return cls(
            threshold=need(d, "threshold", str, where),
            threshold_params=dict(need(d, "threshold_params", (dict, type(None)), where, {})
                                  or {}),
            chosen_with=need(d, "chosen_with", (str, type(None)), where, "") or "",
            oracle=need(d, "oracle", bool, where, False),
            metrics=_numbers(need(d, "metrics", dict, where), f"{where}.metrics"),
            n_series=dict(need(d, "n_series", (dict, type(None)), where, {}) or {}),
            series_without_test_anomaly=need(d, "series_without_test_anomaly",
                                             (int, type(None)), where, 0) or 0,
            costs=_costs(need(d, "costs", dict, where, {}), f"{where}.costs"),
            confusion=dict(need(d, "confusion", (dict, type(None)), where, {}) or {}),
            per_series=[SeriesEvaluation.from_json(p, f"{where}.per_series[{i}]")
                        for i, p in enumerate(per)],
            more={k: v for k, v in d.items() if k not in known})


# ----------------------------------------------------------------------------- the plan


@dataclass(eq=False)
class CellPlan(JsonView):
    """What a cell was asked to compute, as resolved when it ran: threshold strategies, cost
    models (spec text, ``event:c_alarm=1``), metric names as computed, the protocol it trained
    under, and its dataset's declared :class:`bench.Evaluation` (``to_dict()``).  A re-evaluation
    rebuilds the cell from this, never from the run's grid."""

    thresholds: list[str] = field(default_factory=list)
    costs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    dataset_title: str = ""
    more: dict[str, Any] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        """What the dataset's tables sort by (a metric or ``cost:NAME``); '' when unknown."""
        return str(self.evaluation.get("headline") or "")

    @property
    def gated(self) -> list[str]:
        """Metrics a compare gates on by default: the headline and the dataset's ``gated``."""
        extra = [m for m in self.evaluation.get("gated") or () if m != self.headline]
        return ([self.headline] if self.headline else []) + extra

    @classmethod
    def from_json(cls, d: Any, where: str) -> CellPlan:
        if isinstance(d, CellPlan):
            return d
        if not isinstance(d, dict):
            raise RecordError(f"{where}: expected an object, got {kind_of(d)}")
        known = {f.name for f in fields(cls)} - {"more"}
        lists = {}
        for name in ("thresholds", "costs", "metrics"):
            v = need(d, name, list, where, [])
            if not all(isinstance(x, str) for x in v):
                raise RecordError(f"{where}.{name}: expected a list of strings")
            lists[name] = list(v)
        return cls(**lists, protocol=dict(need(d, "protocol", dict, where, {})),
                   evaluation=dict(need(d, "evaluation", dict, where, {})),
                   dataset_title=need(d, "dataset_title", str, where, ""),
                   more={k: v for k, v in d.items() if k not in known})
