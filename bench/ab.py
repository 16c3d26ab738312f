"""A/B: did a change help?  ``bench compare --a SPEC --b SPEC [RECORDS...]`` puts each dataset's
headline for A beside B's, with a paired test over its series.

A SPEC selects cells: ``DETECTOR[:k=v,...]`` (parameters exactly as given to the run: ``kde``
is kde with no parameter given, ``kde:bandwidth=2`` the one given bandwidth 2), optionally
followed by ``@key=value,...`` matching the cell's protocol (``iforest@window=8``; ``window``
also matches the harness window a cell used, so ``@window=32`` selects the default windows of a
univariate series).  When A and B are the same text and two records are given, A's cells come
from the first record and B's from the second (the same detector under two ``--window`` values,
or before and after a code change).  Otherwise the cells come from every record given (all the
records of a directory), a rerun's cell replacing the older one.

Pairs: cells of one dataset (as given) and seed; per pair, series by name.  The headline is the
dataset's declared one (recorded in each cell's plan), read under the first threshold strategy
that is not ORACLE.  The test is Wilcoxon's signed-rank test (scipy, two-sided) over the
per-series headline values of every pair (seeds together); a headline with no per-series value
(a pooled metric) or fewer than two differing pairs has no test.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compare import not_comparable
from .errors import BenchError
from .params import parse_spec
from .recordmeta import higher_is_better, label
from .records import CellResult, RunRecord


@dataclass
class Selector:
    """Which cells one side of an A/B comparison takes (see the module docstring)."""

    text: str
    detector: str
    params: dict[str, str]
    protocol: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Selector:
        spec_text, _, proto = text.partition("@")
        spec = parse_spec(spec_text)
        pairs = {}
        for item in filter(None, (p.strip() for p in proto.split(","))):
            k, eq, v = item.partition("=")
            if not eq or not k.strip():
                raise BenchError(f"--a/--b {text!r}: after @ write protocol key=value, e.g. "
                                 f"{spec.name}@window=8")
            pairs[k.strip()] = v.strip()
        return cls(text, spec.name, {k: str(v) for k, v in spec.params.items()}, pairs)

    def matches(self, cell: CellResult) -> bool:
        if cell.detector != self.detector or set(cell.given) != set(self.params):
            return False
        if not all(_same(cell.given.get(k), v) or _same(cell.params.get(k), v)
                   for k, v in self.params.items()):
            return False
        return all(_same(cell.protocol.get(k), v)
                   or (k == "window" and _same(cell.harness_window, v))
                   for k, v in self.protocol.items())


def _same(value: Any, text: str) -> bool:
    if value is None:
        return text.lower() in ("none", "null", "")
    if str(value) == text or str(value).lower() == text.lower():
        return True
    try:
        return math.isclose(float(value), float(text))
    except (TypeError, ValueError):
        return False


@dataclass
class DatasetAB:
    """One dataset's answer: its headline for A and B (mean over paired seeds), the paired
    per-series test, and what else differs between the two sides."""

    dataset: str
    headline: str
    header: str
    a: float
    b: float
    higher_is_better: bool | None
    pairs: int = 0
    series: int = 0
    p_value: float = math.nan
    test_note: str = ""
    note: str = ""

    @property
    def better(self) -> str:
        """``A``, ``B`` or ``=`` (equal), by the headline's direction; ``?`` when unknown."""
        if math.isnan(self.a) or math.isnan(self.b) or self.higher_is_better is None:
            return "?"
        if self.a == self.b:
            return "="
        return "B" if (self.b > self.a) == self.higher_is_better else "A"


@dataclass
class ABResult:
    a: Selector
    b: Selector
    rows: list[DatasetAB] = field(default_factory=list)
    #: datasets where only one side has finished cells
    unpaired: list[str] = field(default_factory=list)


def _side(records: list[RunRecord], sel: Selector, other: Selector) -> list[CellResult]:
    """Cells ``sel`` matches, ok ones only; a cell both sides match goes to the more specific
    selector (more protocol or parameter keys)."""
    mine = len(sel.protocol) + len(sel.params)
    theirs = len(other.protocol) + len(other.params)
    newest: dict[tuple[Any, ...], CellResult] = {}
    for r in sorted(records, key=lambda r: r.created):  # a rerun's cell replaces the older one
        for c in r.cells:
            if c.ok and sel.matches(c) and not (other.matches(c) and theirs > mine):
                newest[(c.identity, c.seed, c.harness_window, repr(c.protocol))] = c
    return list(newest.values())


def ab(records: list[RunRecord], a: str, b: str) -> ABResult:
    """A/B comparison of the cells ``a`` and ``b`` select in ``records`` (see the module)."""
    sa, sb = Selector.parse(a), Selector.parse(b)
    if a == b:
        if len(records) != 2:
            raise BenchError(f"--a and --b are both {a!r}: give two records (A's, then B's), "
                             f"or tell them apart with @protocol keys, e.g. {a}@window=8")
        cells_a, cells_b = _side(records[:1], sa, sa), _side(records[1:], sb, sb)
    else:
        cells_a, cells_b = _side(records, sa, sb), _side(records, sb, sa)
    for sel, cells in ((sa, cells_a), (sb, cells_b)):
        if not cells:
            have = sorted({c.detector_label + _proto(c) for r in records for c in r.cells})
            raise BenchError(f"no finished cell matches {sel.text!r} in the records given; "
                             f"they hold: {', '.join(have) or 'no cells'}")
    meta = records[-1]
    out = ABResult(sa, sb)
    by_a = _group(cells_a)
    by_b = _group(cells_b)
    for ds in sorted(set(by_a) | set(by_b)):
        pairs = [(by_a[ds][s], by_b[ds][s]) for s in sorted(set(by_a.get(ds, {}))
                                                           & set(by_b.get(ds, {})))]
        if not pairs:
            out.unpaired.append(ds)
            continue
        out.rows.append(_dataset(ds, pairs, meta))
    return out


def _proto(c: CellResult) -> str:
    return f"@window={c.harness_window}" if c.harness_window > 1 else ""


def _group(cells: list[CellResult]) -> dict[str, dict[int, CellResult]]:
    out: dict[str, dict[int, CellResult]] = {}
    for c in cells:
        out.setdefault(c.dataset_label, {})[c.seed] = c
    return out


def _evaluation(c: CellResult, threshold: str | None = None) -> Any:
    return (c.evaluation(threshold) if threshold else None) or c.evaluation()


def _dataset(ds: str, pairs: list[tuple[CellResult, CellResult]], meta: RunRecord) -> DatasetAB:
    headline = pairs[0][0].headline or pairs[0][1].headline
    va, vb, sa, sb = [], [], [], []
    notes = set()
    for ca, cb in pairs:
        ea = _evaluation(ca)
        eb = _evaluation(cb, ea.label if ea is not None else None)
        if ea is None or eb is None:
            continue
        va.append(ea.value(headline))
        vb.append(eb.value(headline))
        why = not_comparable(ca, cb)
        if why and not why.startswith("protocol"):
            notes.add(why)
        xa, xb = _per_series(ea, headline), _per_series(eb, headline)
        for name in sorted(set(xa) & set(xb)):
            sa.append(xa[name])
            sb.append(xb[name])
    p, test_note, n = _wilcoxon(sa, sb)
    return DatasetAB(ds, headline, label(meta, headline), _nanmean(va), _nanmean(vb),
                     higher_is_better(meta, headline), len(pairs), n, p, test_note,
                     "; ".join(sorted(notes)))


def _per_series(ev: Any, key: str) -> dict[str, float]:
    out = {}
    for s in ev.per_series:
        v = ((s.costs.get(key[5:]) or {}).get("test", math.nan) if key.startswith("cost:")
             else s.metrics.get(key, math.nan))
        out[s.series] = float(v)
    return out


def _wilcoxon(a: list[float], b: list[float]) -> tuple[float, str, int]:
    """(two-sided p, a note when there is no test, finite pairs)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    if n == 0:
        return math.nan, "no per-series values", 0
    if np.count_nonzero(x - y) < 2:
        return math.nan, ("identical on every series" if not np.any(x - y)
                          else "fewer than 2 series differ"), n
    from scipy.stats import wilcoxon

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(wilcoxon(x, y).pvalue), "", n


def _nanmean(v: list[float]) -> float:
    a = np.asarray(v, float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


def render(res: ABResult, fmt: str = "github") -> str:
    from tabulate import tabulate

    rows = [[r.dataset, r.header + ("" if r.higher_is_better is None else
                                    " (higher better)" if r.higher_is_better
                                    else " (lower better)"),
             f"{r.a:.4g}", f"{r.b:.4g}", f"{r.b - r.a:+.4g}", r.better, r.pairs, r.series,
             (f"{r.p_value:.3g}" if not math.isnan(r.p_value) else f"n/a ({r.test_note})"),
             r.note] for r in res.rows]
    table = tabulate(rows, headers=["dataset", "headline", "A", "B", "B - A", "better",
                                    "seeds", "series", "Wilcoxon p", "note"],
                     tablefmt=fmt, disable_numparse=True)
    legend = (f"A = {res.a.text}, B = {res.b.text}; values: each dataset's headline, mean over "
              f"paired seeds; Wilcoxon signed-rank test (two-sided) over paired series")
    extra = (f"\nonly one side ran: {', '.join(res.unpaired)}" if res.unpaired else "")
    return f"{table}\n\n{legend}{extra}\n"
