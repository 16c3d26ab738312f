"""Leaderboard tables: rows grouped per dataset and threshold strategy into :class:`Table` s of
:class:`Entry` s (seeds aggregated), and the overall ranking across datasets (:class:`Overall`)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..plugins import Manager, get_manager
from .rows import Column, _fmt, _grid, _headline_key, _is_chance, _pm, column, rows

# ----------------------------------------------------------------------------- aggregation


@dataclass
class Entry:
    """One detector (as given) in one table: its seeds' rows aggregated."""

    label: str
    detector: str
    chance: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    #: the paired test against ``random`` (:mod:`bench.chance_test`), None for random itself
    vs_chance: dict[str, Any] | None = None

    @property
    def not_better(self) -> bool:
        """A test ran and did not find the detector better than chance."""
        v = self.vs_chance
        return bool(v) and v.get("method") != "none" and not v.get("better")

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
    #: the dataset's declared evaluation as recorded (``time_costs``, ``split``, ...)
    declared: dict[str, Any] = field(default_factory=dict)

    @property
    def headline_series(self) -> int | None:
        """Most series the headline covers in any row (None when the record does not say)."""
        ns = [r["metric_series"].get(self.headline.key) for e in self.entries for r in e.rows]
        ns = [n for n in ns if n is not None]
        return max(ns) if ns else None

    @property
    def sample(self) -> bool:
        """The dataset is a sample or a selection, not the full corpus (its title says
        ``(sample, ...)`` or ``(N of M ...)``)."""
        return bool(_PART.search(self.dataset))

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


_PART = re.compile(r"\((sample\b|\d+ of \d+ )")


def _attach_chance(record: Any, ts: list[Table], manager: Manager) -> None:
    """Each entry's chance test: the one its cells stored, else computed from the record (an
    older record without it)."""
    from .. import chance_test

    computed: dict | None = None
    for t in ts:
        if t.oracle:
            continue
        for e in t.entries:
            if e.detector == chance_test.REFERENCE or not e.rows:
                continue
            e.vs_chance = next((r["chance_test"] for r in e.rows if r.get("chance_test")
                                and r["chance_test"].get("headline", t.headline.key)
                                == t.headline.key), None)
            if e.vs_chance is None:
                if computed is None:
                    computed = chance_test.results(record, manager)
                e.vs_chance = computed.get((t.dataset, str(t.threshold), e.label))


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
                         (rs or failed[ds] or [{}])[0].get("thresholded", "f1") or "f1",
                         dict((rs or failed[ds] or [{}])[0].get("declared") or {})))
    _attach_chance(record, out, manager)
    return out


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
    samples: list[str] = field(default_factory=list)  # left out: not the full corpus

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
    from .. import stats

    manager = manager or get_manager()
    ts = _main_tables(record, tables(record, manager))
    # samples are left out when the run has a full corpus to rank; a run of samples only ranks
    # them (and says so under the table)
    full = [t for t in ts if not t.sample and t.beats_chance]
    samples = [t.dataset for t in ts if t.sample and t.beats_chance] if full else []
    used = [t for t in ts if t.beats_chance and t.dataset not in samples]
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
                  ranks, [t.dataset for t in ts if not t.beats_chance], failed,
                  samples=samples)
    common = [lab for lab in labels if all(lab in ranks[d] for d in out.datasets)]
    full = [d for d in out.datasets if all(lab in ranks[d] for lab in common)]
    if common and full:
        mat = np.array([_rank([-ranks[d][lab] for lab in common], True) for d in full])
        out.test = stats.friedman(mat, common)
    else:
        out.test = stats.friedman(np.zeros((0, len(common))), common)
    return out
