"""Compare two run records cell by cell and metric by metric, direction-aware, reading every
metric's direction and declared range from the records themselves (:mod:`bench.recordmeta`).

Marks (as asv's): ``+`` improved, ``-`` worse, ``=`` unchanged, ``x`` not comparable (a key part
that changes what a number means differs: a declared evaluation version, dataset content, the
protocol; the note says exactly what, e.g. ``protocol window 32 -> 8``), ``?`` missing on one
side.  A change counts only when it exceeds the metric's tolerance plus the spread of its values
across seeds (max - min, the larger of the two sides).

The gate (:meth:`Comparison.gate`) fails, one line each, when a *gated* metric got worse (each
dataset's headline and the metrics its :class:`bench.Evaluation` declares ``gated``; every metric
with ``strict``), when a cell failed in the head only, when a recorded value is impossible (not
finite, or outside the metric's declared range, in either record), when a cell appears twice in
one record, when the head is incomplete, a base cell is missing from it, cells are not
comparable, or nothing at all was compared.  Each of the last four can be allowed deliberately.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .recordmeta import higher_is_better, impossible
from .records import CellResult, RunRecord

#: default absolute tolerance for metrics, and relative tolerance for costs
METRIC_ATOL = 0.005
COST_RTOL = 0.02

MARKS = {"improved": "+", "worse": "-", "unchanged": "=", "not comparable": "x", "missing": "?"}


@dataclass
class Change:
    cell: str
    metric: str
    status: str
    base: float | None = None
    head: float | None = None
    note: str = ""
    #: whether the gate fails when this got worse (a dataset's headline or gated metric)
    gated: bool = True

    @property
    def mark(self) -> str:
        return MARKS[self.status]


@dataclass
class Comparison:
    changes: list[Change] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    #: why the head record is not complete ('' when it is)
    head_incomplete: str = ""
    #: impossible values and duplicated cells, one line each (always fail the gate)
    invalid: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.changes)

    @property
    def regressed(self) -> bool:
        return self.count("worse") > 0

    @property
    def compared(self) -> int:
        """Metric values actually compared (improved, worse or unchanged)."""
        return sum(c.status in ("improved", "worse", "unchanged") for c in self.changes)

    def gate(self, *, allow_incomplete: bool = False, allow_missing: bool = False,
             allow_not_comparable: bool = False, strict: bool = False) -> list[str]:
        """Why a CI gate on this comparison fails, one line each; empty when it passes."""
        out = list(self.invalid)
        out += [f"{c.cell}: {c.metric} worse ({c.base:.4g} -> {c.head:.4g})"
                if c.base is not None and c.head is not None else f"{c.cell}: {c.note}"
                for c in self.changes if c.status == "worse" and (c.gated or strict)]
        if self.head_incomplete and not allow_incomplete:
            out.append(f"head incomplete: {self.head_incomplete} (--allow-incomplete to accept)")
        if not allow_missing:
            out += [f"{c.cell}: {c.metric if c.metric != '-' else 'cell'} missing: {c.note} "
                    f"(--allow-missing to accept)"
                    for c in self.changes if c.status == "missing" and "head" in c.note]
        if not allow_not_comparable:
            out += [f"{c.cell}: not comparable: {c.note} (--allow-not-comparable to accept)"
                    for c in self.changes if c.status == "not comparable"]
        if self.compared == 0:
            hint = ("; to put the two side by side anyway: bench compare --a DETECTOR --b "
                    "DETECTOR BASE HEAD") if self.count("not comparable") else ""
            out.append(f"nothing was compared: no metric value exists on both sides{hint}")
        return out

    def ungated_worse(self) -> list[Change]:
        """Worse values the default gate does not fail on (not a headline or gated metric)."""
        return [c for c in self.changes if c.status == "worse" and not c.gated]


def _params(d: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((d or {}).items()) if v is not None)


def _eval_id(ev: Any) -> str:
    given = _params(ev.get("threshold_params"))
    thr = ev["threshold"] + (f"({given})" if given else "")
    return thr + (" ORACLE" if ev.get("oracle") else "")


def _index(record: RunRecord) -> dict[str, list[CellResult]]:
    """Cells grouped by identity (dataset and detector as given); one entry per seed."""
    out: dict[str, list[CellResult]] = defaultdict(list)
    for cell in record.cells:
        out[cell.identity].append(cell)
    return out


def duplicates(record: RunRecord, side: str) -> list[str]:
    """One line per cell (identity and seed) that the record holds more than once."""
    seen: dict[tuple[str, int], int] = defaultdict(int)
    for c in record.cells:
        seen[(c.identity, c.seed)] += 1
    return [f"{cid} seed {seed}: recorded {n} times in the {side} record (run "
            f"{record.run_id}); a record holds each cell once: rerun it"
            for (cid, seed), n in sorted(seen.items()) if n > 1]


def impossible_values(record: RunRecord, side: str = "") -> list[str]:
    """One line per recorded metric value that cannot be a result (not finite, or outside the
    metric's declared range), naming the cell, the threshold, the metric and (``side``) which
    record of a comparison holds it."""
    where = f" in the {side} record" if side else ""
    out = []
    for c in record.cells:
        for ev in c.evaluations if c.ok else []:
            vals = {**ev.metrics, **{f"cost:{k}": v.get("test", math.nan)
                                     for k, v in ev.costs.items()}}
            for m, v in vals.items():
                why = impossible(record, m, v)
                if why:
                    out.append(f"{c.identity} @ {_eval_id(ev)}: {m}{where} is impossible: "
                               f"{why}")
    return out


def _values(cells: list[CellResult]) -> dict[str, dict[str, list[float]]]:
    """values[threshold identity][metric] over the cells' seeds (ok cells only)."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for cell in cells:
        for ev in cell.evaluations if cell.ok else []:
            v = values[_eval_id(ev)]
            for m, x in ev["metrics"].items():
                v[m].append(x)
            for c, by_range in ev["costs"].items():
                v[f"cost:{c}"].append(by_range.get("test", math.nan))  # as ev.value reads it
    return values


def _version_changes(b: dict[str, Any], h: dict[str, Any], used: set[str]) -> list[str]:
    """Declared evaluation versions that differ between two cells, for the names both use."""
    return [f"{k.replace(':', ' ')} version {b.get(k)} -> {h.get(k)}"
            for k in sorted(set(b) | set(h))
            if b.get(k) != h.get(k) and (k == "evaluation" or k.split(":", 1)[1] in used)]


def dict_changes(what: str, b: Any, h: Any) -> str:
    """``protocol window 32 -> 8; protocol standardize True -> False``: each key of two dicts
    whose values differ ('' when none)."""
    b, h = b or {}, h or {}
    if not isinstance(b, dict) or not isinstance(h, dict):
        return "" if b == h else f"{what} {b} -> {h}"
    return "; ".join(f"{what} {k} {b.get(k)} -> {h.get(k)}" for k in sorted(set(b) | set(h))
                     if b.get(k) != h.get(k))


def not_comparable(b: CellResult, h: CellResult) -> str:
    """Why two cells' numbers do not measure the same thing ('' when they do), exactly."""
    pb, ph = b.key_parts, h.key_parts
    if "evaluation" not in pb or "evaluation" not in ph:
        if pb.get("metric_code") != ph.get("metric_code"):
            return "evaluation code changed (a record without declared versions)"
    else:
        used = {m for ev in b.evaluations + h.evaluations for m in ev.get("metrics", {})}
        used |= {c for ev in b.evaluations + h.evaluations for c in ev.get("costs", {})}
        used |= {ev.get("threshold", "") for ev in b.evaluations + h.evaluations}
        changed = _version_changes(pb["evaluation"], ph["evaluation"], used)
        if changed:
            return "; ".join(changed)
    if b.dataset_fingerprint != h.dataset_fingerprint:
        return (f"dataset changed (fingerprint {b.dataset_fingerprint} -> "
                f"{h.dataset_fingerprint})")
    bp, hp = _versioned(pb.get("protocol", b.protocol)), _versioned(ph.get("protocol", h.protocol))
    if bp == hp:
        return ""
    return dict_changes("protocol", _effective(bp, b), _effective(hp, h)) or \
        dict_changes("protocol", bp, hp)


def _versioned(protocol: Any) -> Any:
    """A recorded protocol with its declared ``version`` (1 in records written before protocols
    declared one)."""
    return {"version": 1, **protocol} if isinstance(protocol, dict) else protocol


def _effective(protocol: Any, cell: CellResult) -> Any:
    """A recorded protocol with ``window: None`` (the detector's default) replaced by the rows
    per window the cell used, so a note says ``protocol window 32 -> 8``."""
    if isinstance(protocol, dict) and protocol.get("window") is None and cell.harness_window:
        return {**protocol, "window": cell.harness_window}
    return protocol


def _key_notes(b: CellResult, h: CellResult) -> str:
    notes = []
    bp, hp = b.params, h.params
    if bp != hp:
        diff = [f"{k}: {bp.get(k)} -> {hp.get(k)}" for k in sorted(set(bp) | set(hp))
                if bp.get(k) != hp.get(k)]
        notes.append("detector params changed (" + "; ".join(diff) + ")")
    if b.detector_version != h.detector_version:
        notes.append(f"detector version {b.detector_version} -> {h.detector_version}")
    if b.key_parts.get("detector_code") != h.key_parts.get("detector_code"):
        notes.append("detector code changed")
    if b.key_parts.get("bench") != h.key_parts.get("bench"):
        notes.append("bench version changed")
    return "; ".join(notes)


def _judge(bv: list[float], hv: list[float], hib: bool, atol: float, rtol: float) -> str:
    b, h = np.array(bv, dtype=float), np.array(hv, dtype=float)
    bnan, hnan = np.isnan(b).all(), np.isnan(h).all()
    if bnan or hnan:  # no value in the base is not an improvement: nothing to compare against
        return "unchanged" if bnan and hnan else ("worse" if hnan else "not comparable")
    mb, mh = float(np.nanmean(b)), float(np.nanmean(h))
    fb, fh = b[np.isfinite(b)], h[np.isfinite(h)]  # an impossible inf is reported apart
    spread = max(float(np.ptp(fb)) if fb.size else 0.0, float(np.ptp(fh)) if fh.size else 0.0)
    if abs(mh - mb) <= atol + rtol * abs(mb) + spread:
        return "unchanged"
    return "improved" if (mh > mb) == hib else "worse"


def compare(base: RunRecord, head: RunRecord, *,
            tolerances: dict[str, float] | None = None, manager: Any = None) -> Comparison:
    """Compare ``head`` against ``base``.  ``tolerances``: absolute tolerance per metric name
    (``cost:NAME`` for a cost model's test value) overriding the defaults (metrics: absolute
    0.005; costs: relative 2 %).  Directions and ranges come from the records (``manager`` is
    not read; accepted for callers written before records described themselves)."""
    tolerances = tolerances or {}
    bidx, hidx = _index(base), _index(head)
    out = Comparison(head_incomplete=head.incomplete_reason())
    out.invalid = (duplicates(base, "base") + duplicates(head, "head")
                   + impossible_values(base, "base") + impossible_values(head, "head"))
    for cid in sorted(set(bidx) | set(hidx)):
        if cid not in bidx or cid not in hidx:
            side = "base" if cid not in bidx else "head"
            out.changes.append(Change(cid, "-", "missing", note=f"not in {side}"))
            continue
        _compare_cells(out, cid, bidx[cid], hidx[cid], (base, head), tolerances)
    return out


def _compare_cells(out: Comparison, cid: str, bcells: list[CellResult],
                   hcells: list[CellResult], records: tuple[RunRecord, RunRecord],
                   tolerances: dict[str, float]) -> None:
    bok, hok = [c for c in bcells if c.ok], [c for c in hcells if c.ok]
    if len(hok) < len(hcells) and len(bok) == len(bcells):
        err = next(c for c in hcells if not c.ok)
        out.changes.append(Change(cid, "status", "worse",
                                  note=f"{err.status} in head: {err.error}"))
    elif len(bok) < len(bcells) and len(hok) == len(hcells):
        out.changes.append(Change(cid, "status", "improved", note="failed in base"))
    if not bok or not hok:
        return
    why = not_comparable(bok[0], hok[0])
    if why:
        out.changes.append(Change(cid, "*", "not comparable", note=why))
        return
    note = _key_notes(bok[0], hok[0])
    if note:
        out.notes[cid] = note
    gated = set(hok[0].plan.gated or bok[0].plan.gated)
    bvals, hvals = _values(bok), _values(hok)
    for eid in sorted(set(bvals) | set(hvals)):
        name = f"{cid} @ {eid}"
        bv_, hv_ = bvals.get(eid, {}), hvals.get(eid, {})
        for metric in sorted(set(bv_) | set(hv_)):
            is_gated = not gated or metric in gated
            if metric not in bv_ or metric not in hv_:
                side = "base" if metric not in bv_ else "head"
                out.changes.append(Change(name, metric, "missing", note=f"not in {side}",
                                          gated=is_gated))
                continue
            hib = higher_is_better(records[1], metric)
            hib = higher_is_better(records[0], metric) if hib is None else hib
            if hib is None:
                out.changes.append(Change(name, metric, "not comparable",
                                          _mean(bv_[metric]), _mean(hv_[metric]),
                                          "direction unknown: neither record describes "
                                          "this metric", gated=is_gated))
                continue
            is_cost = metric.startswith("cost:")
            atol = tolerances.get(metric, 0.0 if is_cost else METRIC_ATOL)
            rtol = COST_RTOL if is_cost and metric not in tolerances else 0.0
            status = _judge(bv_[metric], hv_[metric], hib, atol, rtol)
            why = "no value in base" if status == "not comparable" else note
            out.changes.append(Change(name, metric, status, _mean(bv_[metric]),
                                      _mean(hv_[metric]), why, gated=is_gated))


def _mean(v: list[float]) -> float:
    a = np.array(v, dtype=float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


def render(cmp: Comparison, *, show_all: bool = False, fmt: str = "github") -> str:
    from tabulate import tabulate

    rows = []
    for c in cmp.changes:
        if c.status == "unchanged" and not show_all:
            continue
        delta = "" if c.base is None or c.head is None else f"{c.head - c.base:+.4g}"
        rows.append([c.mark, c.cell, c.metric.replace("cost:", "cost ") + (
            " (test)" if c.metric.startswith("cost:") else "") + ("" if c.gated else " *"),
            "" if c.base is None else f"{c.base:.4g}", "" if c.head is None else f"{c.head:.4g}",
            delta, c.note])
    summary = ", ".join(f"{cmp.count(s)} {s}" for s in MARKS)
    if not rows:
        return f"no changes beyond tolerance ({summary})\n"
    table = tabulate(rows, headers=["", "cell", "metric", "base", "head", "change", "note"],
                     tablefmt=fmt, disable_numparse=True)
    legend = ("\n* not gated: neither the dataset's headline nor a metric it declares gated "
              "(--strict gates every metric)") if any(not c.gated for c in cmp.changes
                                                      if c.status != "unchanged" or show_all) \
        else ""
    return f"{table}\n\n{summary}{legend}\n"
