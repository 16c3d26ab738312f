"""Leaderboard tables from a run record: one per dataset, and an overall table by mean rank.

Per dataset (and threshold strategy): rows sorted by the dataset's headline metric (declared by
its plugin, ``bench.Evaluation``; VUS-PR for time series when none is recorded), named in the
title; seeds aggregated to mean +- std with a seed count; the chance baselines (``random``,
``constant``) as reference rows at the bottom, never ranked; the lift of each detector over the
best chance row; a legend line under each table with the short headers, each metric's series
count and the marks.  A table where no detector beats chance on the headline is flagged and left
out of the overall ranking.  Anything chosen on test labels (the ``oracle`` threshold, a metric
declared ``oracle``) is printed apart, as ORACLE.  Default tables fit in 100 columns; ``wide``
shows every metric, cost and timing.  The overall table ranks detectors on each dataset's
headline, with a Friedman test and, only when it rejects, Nemenyi's critical difference
(:mod:`bench.stats`).

Records are read through the accessors below (``_cells``, ``_evaluations``), so the typed
records (:class:`bench.records.CellResult`) and plain JSON dicts both work.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tabulate import tabulate, tabulate_formats

from .plugins import Manager, get_manager

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
            "thresholded": (g("declared", {}) or {}).get("thresholded", "f1"),
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
            })
    return out


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
    from .metrics import is_oracle
    from .params import parse_spec

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


# ----------------------------------------------------------------------------- aggregation


@dataclass
class Entry:
    """One detector (as given) in one table: its seeds' rows aggregated."""

    label: str
    detector: str
    chance: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seeds(self) -> int:
        return len({r["seed"] for r in self.rows} | {r["seed"] for r in self.failed})

    def values(self, col: Column) -> np.ndarray:
        return np.array([col.value(r) for r in self.rows], dtype=np.float64)

    def mean(self, col: Column) -> float:
        v = self.values(col)
        return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")

    def cell(self, col: Column) -> str:
        """``mean`` or ``mean±std`` over seeds (``n/a`` when undefined)."""
        v = self.values(col)
        v = v[np.isfinite(v)]
        if not v.size:
            return "n/a" if self.rows else ""
        if v.size == 1:
            return _fmt(float(v[0]))
        return _pm(float(v.mean()), float(v.std(ddof=1)))

    def compute(self, name: str) -> str:
        """Mean dollars per million points of compute cost model ``name`` over seeds."""
        v = [(r.get("compute") or {}).get(name, {}).get("usd_per_million_points")
             for r in self.rows]
        v = [x for x in v if x is not None]
        return _fmt(float(np.mean(v))) if v else ""

    def timing(self, key: str, digits: int) -> str:
        v = [r[key] for r in self.rows if r.get(key) is not None]
        return f"{np.mean(v):.{digits}f}" if v else ""


@dataclass
class Table:
    """One dataset's table for one threshold strategy (or its ORACLE counterpart)."""

    dataset: str
    threshold: str | None
    oracle: bool
    headline: Column
    entries: list[Entry]
    chosen_with: str = ""
    thresholded: str = "f1"

    @property
    def ranked(self) -> list[Entry]:
        """Detectors that are not chance baselines and have a finished seed, best first."""
        sign = 1.0 if self.headline.higher_is_better else -1.0
        ok = [e for e in self.entries if not e.chance and e.rows]
        return sorted(ok, key=lambda e: (math.isnan(e.mean(self.headline)),
                                         -sign * np.nan_to_num(e.mean(self.headline))))

    @property
    def chance_best(self) -> float | None:
        """The best chance row's headline mean (None without chance rows)."""
        vals = [e.mean(self.headline) for e in self.entries if e.chance and e.rows]
        vals = [v for v in vals if np.isfinite(v)]
        if not vals:
            return None
        return max(vals) if self.headline.higher_is_better else min(vals)

    @property
    def beats_chance(self) -> bool:
        """Some detector's headline is better than every chance row's (True without any)."""
        c = self.chance_best
        if c is None:
            return True
        sign = 1.0 if self.headline.higher_is_better else -1.0
        return any(sign * (e.mean(self.headline) - c) > 0 for e in self.ranked
                   if np.isfinite(e.mean(self.headline)))

    def lift(self, e: Entry) -> str:
        c = self.chance_best
        v = e.mean(self.headline)
        if c is None or not np.isfinite(v):
            return ""
        d = (v - c) if self.headline.higher_is_better else (c - v)
        return f"{d:+.3f}" if abs(d) < 10 else f"{d:+.1f}"


def _entries(rs: list[dict[str, Any]], failed: list[dict[str, Any]],
             manager: Manager) -> list[Entry]:
    by: dict[str, Entry] = {}
    for r in [*rs, *failed]:
        e = by.setdefault(r["label"], Entry(r["label"], r["detector"],
                                            _is_chance(manager, r["detector"])))
        (e.rows if r["status"] == "ok" else e.failed).append(r)
    return list(by.values())


def tables(record: Any, manager: Manager | None = None) -> list[Table]:
    """Every table of a record: per dataset and threshold strategy, ORACLE ones last."""
    manager = manager or get_manager()
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    failed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(record):
        if r["status"] != "ok":
            failed[r["dataset_label"]].append(r)
        else:
            groups[(r["oracle"], r["dataset_label"], r["threshold"])].append(r)
    for ds in failed:  # a dataset whose every cell failed still gets its table
        if not any(k[1] == ds for k in groups):
            groups[(False, ds, None)] = []
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], str(k[2]))):
        oracle, ds, thr = key
        rs = groups[key]
        head = column(manager, _headline_key(rs or failed[ds]))
        out.append(Table(ds, thr, oracle, head, _entries(rs, [] if oracle else failed[ds],
                                                           manager),
                         rs[0].get("chosen_with", "") if rs else "",
                         (rs or failed[ds] or [{}])[0].get("thresholded", "f1") or "f1"))
    return out


# ----------------------------------------------------------------------------- one table as text


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


def _metric_keys(t: Table) -> list[str]:
    """Metric names recorded in the table's rows, in record order."""
    keys: list[str] = []
    for e in t.entries:
        for r in e.rows:
            for m in r["metrics"]:
                if m not in keys:
                    keys.append(m)
    return keys


def _compute_keys(t: Table) -> list[str]:
    """Compute cost models of the cells (priced per cell, shown apart from alarm costs)."""
    keys: list[str] = []
    for e in t.entries:
        for r in e.rows:
            for c in r.get("compute") or {}:
                if c not in keys:
                    keys.append(c)
    return keys


def _cost_keys(t: Table) -> list[str]:
    keys: list[str] = []
    for e in t.entries:
        for r in e.rows:
            for c in r["costs"]:
                if c not in keys:
                    keys.append(c)
    return keys


def _columns(t: Table, manager: Manager, wide: bool) -> list[Column]:
    """The value columns after the headline: oracle metrics never (they have their own table);
    narrow: the thresholded metric, ROC-AUC and the first cost; wide: every metric and cost."""
    cols = [column(manager, m) for m in _metric_keys(t)]
    cols = [c for c in cols if not c.oracle and c.key != t.headline.key]
    costs = [column(manager, f"cost:{c}") for c in _cost_keys(t)]
    costs = [c for c in costs if c.key != t.headline.key]
    if wide:
        return cols + costs
    keep = [c for c in cols if c.key in (t.thresholded, *NARROW_EXTRA)]
    keep.sort(key=lambda c: (c.key != t.thresholded))
    return keep + costs[:1]


def _oracle_columns(t: Table, manager: Manager) -> list[Column]:
    return [c for c in (column(manager, m) for m in _metric_keys(t)) if c.oracle]


def _order(t: Table) -> list[Entry]:
    """Ranked detectors, then chance rows, then detectors with no finished seed."""
    chance = [e for e in t.entries if e.chance and e.rows]
    rest = [e for e in t.entries if not e.rows]
    return [*t.ranked, *chance, *rest]


def _name(e: Entry) -> str:
    return e.label + (" ~chance" if e.chance else "")


def render_table(t: Table, manager: Manager, wide: bool = False) -> tuple[
        str, list[str], list[list[str]], list[str]]:
    """``(title, headers, body, legend lines)`` of one table."""
    cols = _columns(t, manager, wide)
    lift = t.chance_best is not None
    headers = ["detector", "seeds", t.headline.header] + (["lift"] if lift else []) \
        + [c.header for c in cols]
    computes = _compute_keys(t) if wide else []
    if wide:
        headers += [f"$/M points ({c})" for c in computes] + ["fit s", "score s", "mem MB"]
    status = wide or any(e.failed for e in t.entries)  # narrow: only when something failed
    headers += ["status"] if status else []
    body, notes = [], []
    for e in _order(t):
        row = [_name(e), str(e.seeds), e.cell(t.headline)] \
            + ([t.lift(e) if not e.chance else ""] if lift else []) \
            + [e.cell(c) for c in cols]
        if wide:
            row += [e.compute(c) for c in computes]
            row += [e.timing("fit_s", 3), e.timing("score_s", 3), e.timing("peak_mem_mb", 1)]
        if status:
            row.append(_status(e, notes, wide))
        body.append(row)
    return _table_title(t), headers, body, _legend(t, cols, lift) + notes


def _status(e: Entry, notes: list[str], wide: bool) -> str:
    if not e.failed:
        return "ok"
    words = sorted({_status_word(r["status"]) for r in e.failed})
    text = "/".join(words) + (f" {len(e.failed)}/{e.seeds}" if e.rows else "")
    first = e.failed[0]
    msg = f"{_status_word(first['status'])}: {_one_line(first.get('error', ''))}"
    if wide:
        return msg if not e.rows else f"{text}: {_one_line(first.get('error', ''), 60)}"
    notes.append(f"[{e.label}] {msg}")
    return text


def _table_title(t: Table) -> str:
    """Dataset, sort key and direction (the threshold and the rest go to the legend)."""
    sort = f"sorted by {t.headline.header}, {_direction(t.headline)}"
    if t.oracle:
        return f"ORACLE {t.dataset}: threshold '{t.threshold}' chosen on TEST labels; {sort}"
    flag = "" if t.beats_chance else " -- NO DETECTOR BEATS CHANCE"
    return f"{t.dataset}: {sort}{flag}"


def _direction(c: Column) -> str:
    return "higher is better" if c.higher_is_better else "lower is better"


def _legend(t: Table, cols: list[Column], lift: bool) -> list[str]:
    """Legend lines: threshold, series counts per metric, lift, chance rows, marks."""
    parts = []
    if t.oracle:
        parts.append("an upper bound, not a result")
    elif t.threshold:
        parts.append(f"threshold {t.threshold} (chosen with {t.chosen_with})")
    if not t.oracle and not t.beats_chance:
        parts.append("no detector beats the chance rows: left out of the overall rank")
    counts = _series_counts(t, [t.headline, *cols])
    if counts:
        parts.append("series averaged: " + ", ".join(counts))
    if lift:
        parts.append(f"lift = {t.headline.label} minus the best chance row's"
                     f" ({'higher' if t.headline.higher_is_better else 'lower'} is better)")
    if any(e.chance for e in t.entries):
        parts.append("~chance: a baseline that learned nothing, shown for reference, not ranked")
    if any(e.seeds > 1 for e in t.entries):
        parts.append("mean±std over seeds")
    if any(c.inflating for c in [t.headline, *cols]):
        parts.append("(!) inflating: label-blind detectors score above chance on it")
    text = "; ".join(parts)
    return _wrap(text) if text else []


def _series_counts(t: Table, cols: list[Column]) -> list[str]:
    """``VUS-PR 3 of 4`` per column whose series count the record holds."""
    out = []
    for c in cols:
        ns = {(r["metric_series"].get(c.key), r.get("n_series")) for e in t.entries
              for r in e.rows if r["metric_series"].get(c.key) is not None}
        if not ns:
            continue
        n = sorted(ns, key=lambda x: (x[0] or 0))
        got = "/".join(str(a) for a in sorted({a for a, _ in n}))
        total = max((b or 0) for _, b in n)
        out.append(f"{c.label} {got} of {total}" if total else f"{c.label} {got}")
    return out


def _oracle_metric_table(t: Table, manager: Manager) -> tuple[str, list[str], list[list[str]],
                                                               list[str]] | None:
    cols = _oracle_columns(t, manager)
    if not cols or t.oracle:
        return None
    title = f"ORACLE {t.dataset}: {', '.join(c.label for c in cols)} (threshold on TEST labels)"
    body = [[_name(e), str(e.seeds)] + [e.cell(c) for c in cols] for e in _order(t) if e.rows]
    legend = _wrap(f"{', '.join(c.key for c in cols)} without a threshold picks the best one on "
                   f"the scored labels: an upper bound, not a result")
    return title, ["detector", "seeds"] + [c.header for c in cols], body, legend


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_on_hyphens=False)


def _status_word(status: str) -> str:
    """How a cell that did not finish is shown: FAILED (error), TIMEOUT, OOM, CRASH, ..."""
    return "FAILED" if status == "error" else str(status).upper()


def _one_line(text: str, n: int = 90) -> str:
    line = (text or "").strip().splitlines()[0] if text else ""
    return line if len(line) <= n else line[: n - 3] + "..."


def dataset_tables(record: Any, manager: Manager | None = None, wide: bool = False) -> list[
        tuple[str, list[str], list[list[str]]]]:
    """``[(title, headers, rows)]``: per dataset and threshold strategy; ORACLE tables last."""
    return [(title, headers, body) for title, headers, body, _ in
            _all_tables(record, manager or get_manager(), wide)]


def _all_tables(record: Any, manager: Manager, wide: bool) -> list[
        tuple[str, list[str], list[list[str]], list[str]]]:
    ts = tables(record, manager)
    main = [render_table(t, manager, wide) for t in ts if not t.oracle]
    oracle = [render_table(t, manager, wide) for t in ts if t.oracle]
    oracle += [x for x in (_oracle_metric_table(t, manager) for t in ts) if x]
    return main + oracle


# ----------------------------------------------------------------------------- overall ranking


def _rank(values: list[float], higher_is_better: bool) -> np.ndarray:
    """Average ranks (1 = best); NaN values rank last."""
    v = np.array(values, dtype=np.float64)
    key = np.where(np.isnan(v), np.inf, -v if higher_is_better else v)
    order = np.argsort(key, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for val in np.unique(key):
        tie = key == val
        ranks[tie] = ranks[tie].mean()
    return ranks


@dataclass
class Overall:
    """Ranks of the (non-chance) detectors on each dataset's headline."""

    labels: list[str]
    datasets: list[str]
    headlines: dict[str, str]
    ranks: dict[str, dict[str, float]]  # dataset -> label -> rank
    left_out: list[str]
    failed: dict[str, int]
    test: Any = None  # bench.stats.Ranking

    def mean_rank(self, label: str) -> float:
        v = [self.ranks[d][label] for d in self.datasets if label in self.ranks[d]]
        return float(np.mean(v)) if v else float("nan")


def _main_tables(record: Any, ts: list[Table]) -> list[Table]:
    """One table per dataset: the first non-oracle threshold strategy of the run's grid."""
    order = [str(s).split(":")[0] for s in _grid(record).get("thresholds", [])]
    by: dict[str, Table] = {}
    for t in ts:
        if t.oracle:
            continue
        cur = by.get(t.dataset)
        pos = order.index(t.threshold) if t.threshold in order else len(order)
        if cur is None or pos < (order.index(cur.threshold) if cur.threshold in order
                                 else len(order)):
            by[t.dataset] = t
    return [by[d] for d in sorted(by)]


def ranking(record: Any, manager: Manager | None = None) -> Overall:
    """Rank detectors on each dataset's headline (chance rows and tables where no detector beats
    chance left out), then test the ranks (Friedman, Nemenyi when it rejects)."""
    from . import stats

    manager = manager or get_manager()
    ts = _main_tables(record, tables(record, manager))
    used = [t for t in ts if t.beats_chance]
    labels: list[str] = []
    for t in used:
        for e in t.entries:
            if not e.chance and e.label not in labels:
                labels.append(e.label)
    ranks: dict[str, dict[str, float]] = {}
    for t in used:
        # a detector without a headline value here (its cells failed) is not ranked on this
        # dataset, rather than ranked first; its failures are counted below
        present = [e for e in t.entries if not e.chance and np.isfinite(e.mean(t.headline))]
        vals = [e.mean(t.headline) for e in present]
        ranks[t.dataset] = {e.label: float(r) for e, r in
                            zip(present, _rank(vals, t.headline.higher_is_better))}
    failed: dict[str, int] = defaultdict(int)
    for r in rows(record):
        if r["status"] != "ok":
            failed[r["label"]] += 1
    out = Overall(labels, [t.dataset for t in used], {t.dataset: t.headline.label for t in used},
                  ranks, [t.dataset for t in ts if not t.beats_chance], failed)
    common = [lab for lab in labels if all(lab in ranks[d] for d in out.datasets)]
    full = [d for d in out.datasets if all(lab in ranks[d] for lab in common)]
    if common and full:
        mat = np.array([_rank([-ranks[d][lab] for lab in common], True) for d in full])
        out.test = stats.friedman(mat, common)
    else:
        out.test = stats.friedman(np.zeros((0, len(common))), common)
    return out


def overall_table(record: Any, manager: Manager | None = None, wide: bool = False) -> tuple[
        str, list[str], list[list[str]]]:
    """Mean rank of each detector across datasets on each dataset's headline (1 = best)."""
    title, headers, body, _ = _overall(record, manager or get_manager(), wide)
    return title, headers, body


def _overall(record: Any, manager: Manager, wide: bool) -> tuple[
        str, list[str], list[list[str]], list[str]]:
    o = ranking(record, manager)
    short = {d: f"d{i + 1}" for i, d in enumerate(o.datasets)}
    headers = ["detector", "mean rank", "datasets", "failed cells"] + (
        [short[d] for d in o.datasets] if wide else [])
    body = []
    for lab in sorted(o.labels, key=lambda lab: (np.nan_to_num(o.mean_rank(lab), nan=1e9), lab)):
        n = sum(lab in o.ranks[d] for d in o.datasets)
        row = [lab, _fmt(o.mean_rank(lab)), str(n), str(o.failed.get(lab, 0))]
        if wide:
            row += [_fmt(o.ranks[d].get(lab)) if lab in o.ranks[d] else "" for d in o.datasets]
        body.append(row)
    title = "overall: mean rank across datasets on each dataset's headline (1 = best)"
    parts = ["ranked on: " + ", ".join(f"{d} by {o.headlines[d]}" + (
        f" ({short[d]})" if wide else "") for d in o.datasets)]
    if o.left_out:
        parts.append("left out (no detector beats chance): " + ", ".join(o.left_out))
    parts.append("chance baselines not ranked")
    legend = _wrap("; ".join(parts)) + _wrap(o.test.summary())
    if o.test.rejected:
        legend += _cd_lines(o)
    return title, headers, body, legend


def _cd_lines(o: Overall) -> list[str]:
    """The critical difference as text: detectors joined when their mean ranks differ by less."""
    t = o.test
    order = sorted(range(len(t.labels)), key=lambda i: t.mean_ranks[i])
    lines = [f"critical difference {t.cd:.2f}: not significantly different (Nemenyi):"]
    seen = set()
    for i in order:
        grp = tuple(t.labels[j] for j in order
                    if abs(t.mean_ranks[j] - t.mean_ranks[i]) < t.cd and
                    t.mean_ranks[j] >= t.mean_ranks[i])
        if len(grp) > 1 and not any(set(grp) <= set(s) for s in seen):
            seen.add(grp)
            lines += _wrap("  " + " ~ ".join(grp))
    return lines if len(lines) > 1 else lines + ["  every pair differs significantly"]


# ----------------------------------------------------------------------------- whole output


def render(record: Any, fmt: str = "github", manager: Manager | None = None,
           wide: bool = False) -> str:
    """All leaderboards of a record as text in ``fmt``: any tabulate format, ``csv`` (one row
    per cell and threshold) or ``json`` (one JSON object per line).  ``wide``: every metric,
    cost and timing (the default fits 100 columns)."""
    if fmt not in FORMATS:
        from .errors import BenchError

        raise BenchError(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if fmt == "json":
        return "\n".join(json.dumps(_json_row(r), allow_nan=True) for r in rows(record)) + "\n"
    if fmt == "csv":
        return _csv(record)
    manager = manager or get_manager()
    parts = []
    table_fmt = "pipe" if fmt == "markdown" else fmt
    for title, headers, body, legend in [*_all_tables(record, manager, wide),
                                         _overall(record, manager, wide)]:
        parts.append(_title(title, fmt))
        if _html(fmt):  # every value escaped here, once, whichever html flavour was asked for
            headers = [html.escape(str(h)) for h in headers]
            body = [[html.escape(str(v)) for v in row] for row in body]
            table_fmt = "unsafehtml"
        parts.append(tabulate(body, headers=headers, tablefmt=table_fmt, disable_numparse=True))
        parts.extend(_note(line, fmt) for line in legend)
        parts.append("")
    return "\n".join(parts)


def _html(fmt: str) -> bool:
    return fmt.startswith("html") or fmt == "unsafehtml"


def _title(title: str, fmt: str) -> str:
    if fmt in ("github", "pipe", "markdown") or fmt.startswith("pipe"):
        return f"\n### {title}\n"
    if _html(fmt):
        return f"<h3>{html.escape(title)}</h3>"
    if fmt.startswith("latex"):
        return f"% {title}"
    return f"\n{title}"


def _note(line: str, fmt: str) -> str:
    if _html(fmt):
        return f"<p>{html.escape(line)}</p>"
    if fmt.startswith("latex"):
        return f"% {line}"
    return line


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("dataset", "detector", "params", "seed", "status", "n_series", "threshold",
            "threshold_params", "chosen_with", "threshold_value", "oracle", "metrics",
            "metric_series", "costs", "confusion", "compute", "fit_s", "score_s", "peak_mem_mb",
            "device", "error")
    return {k: r[k] for k in keys if k in r}


def _csv(record: Any) -> str:
    rs = rows(record)
    metric_names = sorted({m for r in rs for m in r["metrics"]})
    cost_names = sorted({c for r in rs for c in r["costs"]})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["dataset", "detector", "params", "seed", "status", "threshold", "oracle",
                *metric_names, *[f"{c}_{rng}" for c in cost_names for rng in
                                 ("train", "val", "test")],
                "fit_s", "score_s", "peak_mem_mb", "error"])
    for r in rs:
        w.writerow([r["dataset"], r["detector"], json.dumps(r["params"]), r["seed"], r["status"],
                    r["threshold"] or "", r["oracle"],
                    *[r["metrics"].get(m, "") for m in metric_names],
                    *[r["costs"].get(c, {}).get(rng, "") for c in cost_names
                      for rng in ("train", "val", "test")],
                    r["fit_s"], r["score_s"], r["peak_mem_mb"], r.get("error", "")])
    return buf.getvalue()
