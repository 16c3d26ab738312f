"""What a record knows about the metrics, costs, thresholds and detectors its cells used, so that
tables, compare, history and re-evaluation read the record and never the live plugin registry
(asv keeps ``benchmarks.json`` beside its results for the same reason).

A record's ``meta`` is ``{kind: {name: facts}}``:

* ``metric``: ``label``, ``higher_is_better``, ``version``, ``plugin``, ``input`` (``pred`` or
  ``scores``), ``inflating``, ``chance`` (how its chance level is found), ``oracle``, ``range``
  (``[low, high]``, ``null`` for an unbounded side: values outside it are impossible).
* ``cost``: ``label``, ``higher_is_better`` (false), ``version``, ``plugin``, ``kind``
  (``alarms`` or ``compute``), ``range`` (``[0, null]``: a count of money or events).
* ``threshold``: ``label``, ``version``, ``plugin``, ``uses`` (what chose it), ``oracle``.
* ``detector``: ``version``, ``plugin``, ``chance`` (a trivial baseline: random, constant).

:func:`describe` gathers these from the plugins when a cell runs; :func:`meta_of`,
:func:`higher_is_better`, :func:`value_range`, :func:`is_chance_detector` read them back.
"""

from __future__ import annotations

import math
from typing import Any

KINDS = ("metric", "cost", "threshold", "detector")
#: the pooled (micro) metrics the evaluation step adds to every cell: in [0, 1], higher is better
POOLED = {"pooled_precision": "pooled prec", "pooled_recall": "pooled rec",
          "pooled_f1": "pooled F1"}


def _range(r: Any, default: tuple[float, float] | None) -> list[float | None] | None:
    r = default if r is None else r
    if r is None:
        return None
    lo, hi = (float(x) for x in r)
    return [None if math.isinf(lo) else lo, None if math.isinf(hi) else hi]


def _chance(fn: Any) -> str:
    c = getattr(fn, "chance", "random")
    return c if isinstance(c, str) else getattr(c, "__name__", str(c))


def metric_facts(entry: Any) -> dict[str, Any]:
    """A metric entry's facts (see the module docstring); a metric that declares no ``range``
    is recorded without one (only non-finite values are then impossible)."""
    fn = entry.factory
    oracle = getattr(fn, "oracle", False)
    return {"label": getattr(fn, "label", entry.name),
            "higher_is_better": bool(getattr(fn, "higher_is_better", True)),
            "version": getattr(fn, "version", 1), "plugin": entry.plugin,
            "input": getattr(fn, "input", ""), "inflating": bool(getattr(fn, "inflating", False)),
            "chance": _chance(fn), "oracle": oracle if isinstance(oracle, bool) else "by params",
            "range": _range(getattr(fn, "range", None), None)}


def cost_facts(entry: Any) -> dict[str, Any]:
    fn = entry.factory
    return {"label": entry.meta.get("label", entry.name),
            "higher_is_better": bool(getattr(fn, "higher_is_better", False)),
            "version": getattr(fn, "version", 1), "plugin": entry.plugin,
            "kind": entry.meta.get("kind", "alarms"),
            "range": _range(getattr(fn, "range", None), (0.0, math.inf))}


def threshold_facts(entry: Any) -> dict[str, Any]:
    fn = entry.factory
    return {"label": entry.name, "version": getattr(fn, "version", 1), "plugin": entry.plugin,
            "uses": str(getattr(fn, "uses", "")),
            "oracle": bool(getattr(fn, "needs_test_labels", False))}


def detector_facts(entry: Any) -> dict[str, Any]:
    return {"version": getattr(entry, "version", ""), "plugin": entry.plugin,
            "chance": bool(entry.meta.get("chance", False))}


FACTS = {"metric": metric_facts, "cost": cost_facts, "threshold": threshold_facts,
         "detector": detector_facts}


def base_name(name: str) -> str:
    """``vus_roc:window=50`` -> ``vus_roc``; ``cost:event`` -> ``event``."""
    if name.startswith("cost:"):
        name = name[5:]
    return name.split(":", 1)[0]


def describe(manager: Any, *, metrics: Any = (), costs: Any = (), thresholds: Any = (),
             detectors: Any = ()) -> dict[str, dict[str, Any]]:
    """Facts about the named plugins (names as given, parameters dropped: ``vus_roc:window=50``
    is described under ``vus_roc``), for a record's ``meta``.  A name the manager does not know
    is left out."""
    out: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
    for kind, names in (("metric", metrics), ("cost", costs), ("threshold", thresholds),
                        ("detector", detectors)):
        reg = manager.registry(kind)
        for name in names:
            base = base_name(str(name))
            if base in POOLED and kind == "metric":
                out[kind][base] = pooled_facts(base)
            elif base in reg:
                out[kind][base] = FACTS[kind](reg.get(base))
    return {k: v for k, v in out.items() if v}


def pooled_facts(name: str) -> dict[str, Any]:
    from .evaluation import EVALUATION_VERSION

    return {"label": POOLED[name], "higher_is_better": True, "version": EVALUATION_VERSION,
            "plugin": "bench", "input": "pred", "inflating": False, "chance": "random",
            "oracle": False, "range": [0.0, 1.0]}


def merge(into: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> None:
    """Add ``new`` facts to a record's meta (a name already there keeps its facts)."""
    for kind, entries in new.items():
        have = into.setdefault(kind, {})
        for name, facts in entries.items():
            have.setdefault(name, facts)


# ----------------------------------------------------------------------------- reading


def _meta(record: Any) -> dict[str, Any]:
    return getattr(record, "meta", None) or (record.get("meta") if isinstance(record, dict)
                                             else None) or {}


def meta_of(record: Any, kind: str, name: str) -> dict[str, Any]:
    """The recorded facts of a metric (``vus_roc:window=50`` or ``vus_roc``), ``cost:NAME``,
    threshold or detector; ``{}`` when the record does not describe it (callers then say
    "unknown" rather than assume)."""
    if name.startswith("cost:"):
        kind = "cost"
    facts = (_meta(record).get(kind) or {}).get(base_name(name))
    if facts is None and kind == "metric" and name in POOLED:
        return pooled_facts(name)
    return dict(facts or {})


def higher_is_better(record: Any, name: str) -> bool | None:
    """Direction of a metric or ``cost:NAME`` as recorded; ``None`` when unknown (costs are
    lower-is-better by definition)."""
    if name.startswith("cost:"):
        return bool(meta_of(record, "cost", name).get("higher_is_better", False))
    v = meta_of(record, "metric", name).get("higher_is_better")
    return None if v is None else bool(v)


def label(record: Any, name: str) -> str:
    """A column header for a metric or ``cost:NAME``: its recorded label (with the metric's
    parameters), else the name."""
    facts = meta_of(record, "metric", name)
    if name.startswith("cost:"):
        return f"{name[5:]} cost"
    if not facts:
        return name
    params = name.split(":", 1)[1] if ":" in name else ""
    return facts.get("label", name) + (f"({params})" if params else "")


def value_range(record: Any, name: str) -> tuple[float, float]:
    """The declared range of a metric or ``cost:NAME`` (``-inf``/``inf`` for an open side or an
    undeclared range)."""
    r = meta_of(record, "metric", name).get("range")
    if not r:
        return (-math.inf, math.inf)
    lo, hi = r
    return (-math.inf if lo is None else float(lo), math.inf if hi is None else float(hi))


def impossible(record: Any, name: str, value: float) -> str:
    """Why ``value`` of metric ``name`` cannot be a real result ('' when it can): infinite, or
    outside the metric's declared range.  NaN (undefined: no anomaly in a test range) is
    possible."""
    if value is None or math.isnan(value):
        return ""
    lo, hi = value_range(record, name)
    if math.isinf(value) and not (name.startswith("cost:") and value > 0):
        return f"{value} is not a finite number"
    if not lo <= value <= hi:
        return f"{value:.6g} is outside its declared range [{lo:g}, {hi:g}]"
    return ""


def is_chance_detector(record: Any, detector: str) -> bool:
    """Whether the record says ``detector`` is a chance baseline (random, constant)."""
    return bool(meta_of(record, "detector", detector).get("chance", False))
