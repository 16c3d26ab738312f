"""Bring a run record written by an older bench up to :data:`SCHEMA_VERSION`, one step at a time.

* 1 -> 2: cells gained ``fit_key`` (the score-store key), ``key_parts.metric_code`` and
  ``dataset_given``.  Upgraded cells get ``metric_code: "unknown (schema 1)"``, so a compare
  against them says the metric code cannot be matched rather than inventing a match.
* 2 -> 3: the record gained ``n_cells`` (cells planned), run ids sortable to the microsecond,
  ``key_parts.detector_code`` and ``key_parts.evaluation`` (declared versions of the metrics,
  costs and thresholds used).  Upgraded records get ``n_cells = len(cells)``.
* 3 -> 4: every cell carries its own ``plan`` (thresholds, costs, metrics, protocol, the
  dataset's declared evaluation) and the record the ``meta`` of everything its cells used
  (:mod:`bench.recordmeta`).  A schema-3 cell's plan is read from what it holds: its
  evaluations' thresholds and metrics, the grid's cost models of the names it computed, its
  ``declared`` evaluation and ``dataset_title``; the record's meta is taken once from the
  installed plugins (``meta_source`` says so), as schema 3 did not store it.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 4


def _upgrade_1(rec: dict[str, Any]) -> dict[str, Any]:
    cells = []
    for cell in rec["cells"]:
        if isinstance(cell, dict):
            cell = dict(cell)
            parts = cell.get("key_parts")
            if isinstance(parts, dict):
                cell["key_parts"] = {**parts, "metric_code": parts.get(
                    "metric_code", "unknown (schema 1)")}
                cell.setdefault("fit_key", "")
            cell.setdefault("dataset_given", {})
        cells.append(cell)
    return {**rec, "cells": cells, "schema": 2}


def _upgrade_2(rec: dict[str, Any]) -> dict[str, Any]:
    n = len(rec["cells"])
    status = rec.get("status", "finished")
    return {**rec, "n_cells": rec.get("n_cells", n), "status": status, "schema": 3}


def _spec_text(name: str, params: Any) -> str:
    given = {k: v for k, v in (params or {}).items() if v is not None}
    if not given:
        return name
    from .params import Spec

    return str(Spec(name, given))


def _obj(v: Any) -> dict[str, Any]:
    """``v`` when it is an object, else {} (a malformed field is reported when the cell is
    read, naming it)."""
    return v if isinstance(v, dict) else {}


def _seq(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def plan_of_schema3(cell: dict[str, Any], grid: dict[str, Any]) -> dict[str, Any]:
    """The plan a schema-3 cell ran, read from what the cell holds."""
    from .recordmeta import POOLED

    evs = [ev for ev in _seq(cell.get("evaluations")) if isinstance(ev, dict)]
    thresholds = list(dict.fromkeys(_spec_text(ev.get("threshold", ""),
                                               ev.get("threshold_params"))
                                    for ev in evs if ev.get("threshold")))
    metrics = list(dict.fromkeys(m for ev in evs for m in _obj(ev.get("metrics"))
                                 if m not in POOLED))
    used_costs = {c for ev in evs for c in _obj(ev.get("costs"))}
    used_costs |= set(_obj(cell.get("compute")))
    used_costs |= {k[5:] for k in _obj(_obj(cell.get("key_parts")).get("evaluation"))
                   if k.startswith("cost:")}
    costs = [str(c) for c in _seq(grid.get("costs")) if str(c).split(":", 1)[0] in used_costs]
    costs += sorted(used_costs - {str(c).split(":", 1)[0] for c in costs})
    if not thresholds:  # a failed cell: what the run asked
        thresholds = [str(t) for t in _seq(grid.get("thresholds"))]
        metrics = [str(m) for m in _seq(grid.get("metrics"))]
        costs = [str(c) for c in _seq(grid.get("costs"))]
    declared = cell.get("declared") if isinstance(cell.get("declared"), dict) else {}
    return {"thresholds": thresholds, "costs": costs, "metrics": metrics,
            "protocol": dict(_obj(cell.get("protocol"))), "evaluation": dict(declared),
            "dataset_title": str(cell.get("dataset_title") or "")}


def _upgrade_3(rec: dict[str, Any]) -> dict[str, Any]:
    grid = rec.get("grid") if isinstance(rec.get("grid"), dict) else {}
    cells = []
    for cell in rec["cells"]:
        if isinstance(cell, dict) and "plan" not in cell:
            cell = {k: v for k, v in cell.items()
                    if k not in ("declared", "headline", "dataset_title")} | {
                "plan": plan_of_schema3(cell, grid)}
        cells.append(cell)
    out = {**rec, "cells": cells, "schema": 4}
    if "meta" not in out:
        out["meta"], out["meta_source"] = _installed_meta(cells)
    return out


def _installed_meta(cells: list[Any]) -> tuple[dict[str, Any], str]:
    """Facts about the names the cells used, from the installed plugins."""
    from .recordmeta import describe

    names: dict[str, set[str]] = {"metrics": set(), "costs": set(), "thresholds": set(),
                                  "detectors": set()}
    for c in cells:
        if not isinstance(c, dict):
            continue
        plan = c.get("plan") or {}
        names["metrics"].update(plan.get("metrics") or [])
        names["metrics"].update(m for ev in _seq(c.get("evaluations")) if isinstance(ev, dict)
                                for m in _obj(ev.get("metrics")))
        names["costs"].update(plan.get("costs") or [])
        names["thresholds"].update(plan.get("thresholds") or [])
        names["detectors"].add(str(c.get("detector", "")))
    try:
        from .plugins import get_manager

        meta = describe(get_manager(), **{k: sorted(v) for k, v in names.items()})
    except Exception as exc:  # noqa: BLE001 - a broken plugin set: the record stays readable
        return {}, f"none: the installed plugins could not describe it ({exc})"
    return meta, "installed plugins, when upgraded from schema 3"


UPGRADES = {1: _upgrade_1, 2: _upgrade_2, 3: _upgrade_3}


def upgrade(rec: dict[str, Any], where: str = "record") -> dict[str, Any]:
    """Bring an older record (its JSON form) up to :data:`SCHEMA_VERSION`, one step at a time."""
    while rec["schema"] < SCHEMA_VERSION:
        rec = UPGRADES[rec["schema"]](rec)
    return rec
