"""Leaderboard rows: the record read into one flat row per (cell, threshold strategy), and the
columns (metric or cost) a table can show.

Records are read through the accessors below (``_cells``, ``_evaluations``), so the typed
records (:class:`bench.records.CellResult`) and plain JSON dicts both work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate_formats

from ..plugins import Manager

EXTRA_FORMATS = ("csv", "json", "markdown")  # markdown = tabulate's "pipe"
#: metrics a table shows (when computed) besides the headline and thresholded one, in the
#: default (narrow) form
NARROW_EXTRA = ("roc_auc",)
#: headline when a cell records none (records older than dataset evaluation declarations)
DEFAULT_HEADLINE = "vus_pr"
FALLBACK_HEADLINES = ("vus_pr", "pr_auc", "roc_auc", "f1")
#: detectors treated as chance baselines when the registry does not say (records of old runs)
CHANCE_NAMES = ("random", "constant")
WIDTH = 100
FORMATS = tuple(sorted(set(tabulate_formats) | set(EXTRA_FORMATS)))


# ----------------------------------------------------------------------------- record accessors


def _cells(record: Any) -> list[Any]:
    return list(record["cells"])


def _cell_get(cell: Any, key: str, default: Any = None) -> Any:
    """A field of a cell (a :class:`~bench.records.CellResult` or its JSON dict)."""
    v = cell.get(key, default)
    return default if v is None else v


def _evaluations(cell: Any) -> list[dict[str, Any]]:
    return list(_cell_get(cell, "evaluations", []))


def _grid(record: Any) -> dict[str, Any]:
    return dict(record.get("grid", {}) or {})


def detector_label(cell: Any) -> str:
    given = _cell_get(cell, "given", {})
    if not given:
        return _cell_get(cell, "detector")
    return _cell_get(cell, "detector") + "(" + ",".join(
        f"{k}={_short(v)}" for k, v in given.items()) + ")"


def _short(v: Any) -> str:
    if isinstance(v, list):
        return "-".join(map(str, v))
    return str(v)


def dataset_label(cell: Any) -> str:
    """How tables name a cell's dataset: its declared title (``nab (sample, 4 of 58 series)``),
    else its name."""
    return str(_cell_get(cell, "dataset_title", "") or _cell_get(cell, "dataset"))


def rows(record: Any) -> list[dict[str, Any]]:
    """One flat row per (cell, threshold strategy); a failed cell is one row with its error."""
    out = []
    for cell in _cells(record):
        g = lambda key, default=None, c=cell: _cell_get(c, key, default)  # noqa: E731
        base = {
            "dataset": g("dataset"),
            "dataset_label": dataset_label(cell),
            "detector": g("detector"),
            "label": detector_label(cell),
            "params": g("params", g("given", {})),
            "seed": g("seed", 0),
            "status": g("status"),
            "n_series": g("n_series"),
            "headline": g("headline", ""),
            "thresholded": _declared(cell).get("thresholded", "f1"),
            "declared": _declared(cell),
            "cost_specs": _cost_specs(cell),
            "fit_s": g("fit_s"),
            "score_s": g("score_s"),
            "peak_mem_mb": g("peak_mem_mb"),
            "device": g("device"),
            "compute": g("compute", {}),
        }
        if g("status") != "ok":
            out.append({**base, "error": g("error", ""), "threshold": None, "oracle": False,
                        "metrics": {}, "costs": {}, "metric_series": {}})
            continue
        for ev in _evaluations(cell):
            thr = [p["threshold"] for p in ev.get("per_series", [])]
            out.append({
                **base,
                "threshold": ev["threshold"],
                "threshold_params": ev.get("threshold_params", {}),
                "chosen_with": ev.get("chosen_with", ""),
                "threshold_value": thr[0] if len(thr) == 1 else thr,
                "oracle": bool(ev.get("oracle")),
                "metrics": ev.get("metrics", {}),
                "metric_series": ev.get("n_series", {}) or {},
                "without_anomaly": ev.get("series_without_test_anomaly"),
                "costs": ev.get("costs", {}),
                "confusion": ev.get("confusion", {}),
                "chance_test": ev.get("chance_test"),
                "fallbacks": [p for p in ev.get("per_series", []) if p.get("fallback")],
            })
    return out


def _declared(cell: Any) -> dict[str, Any]:
    """The dataset's declared evaluation as the cell recorded it (its plan's, else
    ``declared``)."""
    plan = _cell_get(cell, "plan", {}) or {}
    return dict(_cell_get(plan, "evaluation", {}) or _cell_get(cell, "declared", {}) or {})


def _cost_specs(cell: Any) -> dict[str, str]:
    """``{cost name: spec text}`` of the cost models the cell's plan names (empty for records
    without a plan)."""
    plan = _cell_get(cell, "plan", {}) or {}
    return {str(c).split(":")[0]: str(c) for c in _cell_get(plan, "costs", []) or []}


#: cost models that count time steps (a tolerance in steps, NAB's windows): meaningless on rows
#: without time order and on test ranges shorter than their tolerance
TIME_COSTS = ("event", "nab")


def time_based(name: str, spec: str = "") -> bool:
    """Whether cost model ``name`` (given as ``spec``, ``event:tolerance=0`` is not) counts
    time steps."""
    if name not in TIME_COSTS:
        return False
    return not (name == "event" and "tolerance=0" in spec.replace(" ", "").split(":")[-1]
                .split(","))


# ----------------------------------------------------------------------------- metric metadata


@dataclass(frozen=True)
class Column:
    """A value a table can show: a metric (``key`` its recorded name) or ``cost:NAME``."""

    key: str
    label: str
    higher_is_better: bool = True
    inflating: bool = False
    oracle: bool = False

    @property
    def header(self) -> str:
        return self.label + (" (!)" if self.inflating else "")

    def value(self, r: dict[str, Any]) -> float:
        if self.key.startswith("cost:"):
            v = (r["costs"].get(self.key[5:]) or {}).get("test")
        else:
            v = r["metrics"].get(self.key)
        return float("nan") if v is None else float(v)


def column(manager: Manager, key: str) -> Column:
    """The :class:`Column` of a metric name as recorded (``vus_roc`` or ``vus_roc:window=50``) or
    of ``cost:NAME``; tolerant of names the registry does not know."""
    if key.startswith("cost:"):
        return Column(key, f"{key[5:]} cost", higher_is_better=False)
    from ..metrics import is_oracle
    from ..params import parse_spec

    try:
        spec = parse_spec(key)
    except Exception:
        return Column(key, key)
    reg = manager.registry("metric")
    if spec.name not in reg:
        return Column(key, _POOLED_LABELS.get(key, key))
    fn = reg.get(spec.name).factory
    label = getattr(fn, "label", spec.name) + (
        "(" + ",".join(f"{k}={v}" for k, v in spec.params.items()) + ")" if spec.params else "")
    return Column(key, label, bool(getattr(fn, "higher_is_better", True)),
                  bool(getattr(fn, "inflating", False)), is_oracle(fn, spec.params))


_POOLED_LABELS = {"pooled_precision": "pooled prec", "pooled_recall": "pooled rec",
                  "pooled_f1": "pooled F1"}


def _is_chance(manager: Manager, detector: str) -> bool:
    reg = manager.registry("detector")
    if detector in reg:
        return bool(reg.get(detector).meta.get("chance"))
    return detector in CHANCE_NAMES


def _headline_key(rs: list[dict[str, Any]]) -> str:
    """The headline of a group of rows: the one the cells recorded, else the first computed of
    :data:`FALLBACK_HEADLINES`."""
    for r in rs:
        if r.get("headline"):
            return r["headline"]
    computed = {m for r in rs for m in r["metrics"]}
    return next((m for m in FALLBACK_HEADLINES if m in computed), DEFAULT_HEADLINE)


# ----------------------------------------------------------------------------- formatting


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def _pm(mean: float, std: float) -> str:
    """``mean±std`` with the std at the mean's precision (``0.347±0.001``, ``275.0±15.6``)."""
    m = _fmt(mean)
    if "e" in m or abs(mean) >= 1e5:
        return f"{mean:.3g}±{std:.2g}"
    digits = len(m.split(".")[1]) if "." in m else 0
    return f"{m}±{std:.{digits}f}"

