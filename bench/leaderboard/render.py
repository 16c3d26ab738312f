"""Leaderboard rendering: each table as text (title, headers, body, legend), the overall table,
and the whole output in any tabulate format, csv or json."""

from __future__ import annotations

import html
import textwrap
from typing import Any

import numpy as np
from tabulate import tabulate

from .. import escape
from ..plugins import Manager, get_manager
from .corpus import corpus_tables
from .export import csv_text, json_lines
from .rows import FORMATS, NARROW_EXTRA, WIDTH, Column, _fmt, column, time_based
from .tables import _PART, Entry, Overall, Table, ranking, tables

# ----------------------------------------------------------------------------- one table as text



def _row_keys(t: Table, field: str) -> list[str]:
    """The keys of ``field`` (a dict per row: metrics, costs, compute) over the table's rows, in
    record order, each once."""
    keys: dict[str, None] = {}
    for e in t.entries:
        for r in e.rows:
            keys.update(dict.fromkeys(r.get(field) or {}))
    return list(keys)


def _metric_keys(t: Table) -> list[str]:
    """Metric names recorded in the table's rows, in record order."""
    return _row_keys(t, "metrics")


def _compute_keys(t: Table) -> list[str]:
    """Compute cost models of the cells (priced per cell, shown apart from alarm costs)."""
    return _row_keys(t, "compute")


def _cost_keys(t: Table) -> list[str]:
    """Alarm cost models recorded in the table's rows, in record order."""
    return _row_keys(t, "costs")


def _columns(t: Table, manager: Manager, wide: bool) -> list[Column]:
    """The value columns after the headline: oracle metrics never (they have their own table),
    time-based costs never where the dataset declares them meaningless (:func:`_hidden_costs`);
    narrow: the thresholded metric, ROC-AUC, every metric that is not a default one (asked for
    with ``--metric``, or declared) and every alarm cost; all of them when the run asked for its
    own metric list; wide: every metric and cost."""
    cols = [column(manager, m) for m in _metric_keys(t)]
    cols = [c for c in cols if not c.oracle and c.key != t.headline.key]
    hidden = _hidden_costs(t)
    costs = [column(manager, f"cost:{c}") for c in _cost_keys(t) if c not in hidden]
    costs = [c for c in costs if c.key != t.headline.key]
    if wide:
        return cols + costs
    defaults = _default_metrics(manager)
    asked_own = _asked_own(t, manager)
    keep = [c for c in cols if c.key in (t.thresholded, *NARROW_EXTRA)
            or (c.key not in POOLED and (asked_own or c.key.split(":")[0] not in defaults))]
    keep.sort(key=lambda c: (c.key != t.thresholded))
    return keep + costs


POOLED = ("pooled_precision", "pooled_recall", "pooled_f1")


def _asked_own(t: Table, manager: Manager) -> bool:
    """The run named its own metrics (``--metric`` replaces the default list): every one of them
    is then shown."""
    defaults = _default_metrics(manager)
    return bool(defaults) and not defaults <= set(_metric_keys(t))


def _default_metrics(manager: Manager) -> set[str]:
    """The metrics a run computes when it names none (their ``default`` attribute)."""
    return {e.name for e in manager.registry("metric") if getattr(e.factory, "default", False)}


def _hidden_costs(t: Table) -> list[str]:
    """Time-based costs (an event cost's tolerance in steps) of a table whose dataset declares
    them meaningless (``time_costs: false``: rows without time order, test ranges shorter than
    the tolerance)."""
    if t.declared.get("time_costs", True):
        return []
    specs = {k: v for e in t.entries for r in e.rows for k, v in r.get("cost_specs", {}).items()}
    return [c for c in _cost_keys(t) if time_based(c, specs.get(c, ""))]


def _chance_cell(e: Entry) -> str:
    """The ``p vs chance`` cell: ``ref`` for random, the p-value, ``no`` after it when the test
    ran and did not find the detector better than random, ``no test`` when none could run."""
    v = e.vs_chance
    if v is None:
        return "ref" if e.detector == "random" and e.rows else ""
    if v.get("method") == "none" or v.get("p") is None:
        return "no test"
    p = float(v["p"])
    text = f"{p:.2g}" if p >= 0.001 else f"{p:.0e}"
    return text if v.get("better") else f"{text} no"


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
    """``(title, headers, body, legend lines)`` of one table.  Narrow: when the table would be
    wider than :data:`WIDTH`, the optional columns (ROC-AUC, unless asked for) go to ``--wide``
    first."""
    cols = _columns(t, manager, wide)
    headers, body, notes = _grid(t, cols, wide)
    optional = [] if wide or _asked_own(t, manager) else [
        c for c in cols if c.key in NARROW_EXTRA and c.key != t.thresholded]
    dropped = []
    while optional and _width(headers, body) > WIDTH:
        dropped.append(optional.pop())
        cols = [c for c in cols if c not in dropped]
        headers, body, notes = _grid(t, cols, wide)
    more = [f"{', '.join(c.label for c in dropped)}: --wide"] if dropped else []
    return _table_title(t), headers, body, _legend(t, cols, t.chance_best is not None, more) \
        + notes


def _width(headers: list[str], body: list[list[str]]) -> int:
    """Characters of the widest line of a github table of ``headers`` and ``body``."""
    w = [max([len(str(h))] + [len(str(r[i])) for r in body]) for i, h in enumerate(headers)]
    return sum(w) + 3 * len(w) + 1


def _grid(t: Table, cols: list[Column], wide: bool) -> tuple[list[str], list[list[str]],
                                                             list[str]]:
    """Headers, rows and status notes of one table with value columns ``cols``."""
    lift = t.chance_best is not None
    vs = not t.oracle
    headers = ["detector", "seeds", t.headline.header, "lift"] \
        + (["p vs chance"] if vs else []) + [c.header for c in cols]
    computes = _compute_keys(t)  # only present when asked for (--cost compute)
    headers += [f"$/M points ({c})" for c in computes]
    if wide:
        headers += ["fit s", "score s", "mem MB"]
    status = wide or any(e.failed for e in t.entries)  # narrow: only when something failed
    headers += ["status"] if status else []
    body, notes = [], []
    for e in _order(t):
        row = [_name(e), str(e.seeds), e.cell(t.headline)] \
            + [t.lift(e) if lift and not e.chance else ""] \
            + ([_chance_cell(e)] if vs else []) + [e.cell(c) for c in cols]
        row += [e.compute(c) for c in computes]
        if wide:
            row += [e.timing("fit_s", 3), e.timing("score_s", 3), e.timing("peak_mem_mb", 1)]
        if status:
            row.append(_status(e, notes, wide))
        body.append(row)
    return headers, body, notes


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
    if t.headline_series == 0:
        flag += " -- HEADLINE COVERS 0 SERIES (no test anomaly)"
    return f"{t.dataset}: {sort}{flag}"


def _direction(c: Column) -> str:
    return "higher is better" if c.higher_is_better else "lower is better"


def _legend(t: Table, cols: list[Column], lift: bool, more: list[str] = ()) -> list[str]:
    """Legend lines: threshold, series counts per metric, lift, chance rows, marks."""
    parts = list(more)
    if t.oracle:
        parts.append("an upper bound, not a result")
    elif t.threshold:
        how = t.chosen_with if t.chosen_with.startswith("ORACLE") else \
            f"chosen with {t.chosen_with}"
        parts.append(f"threshold {t.threshold} ({how})")
    if not t.oracle and not t.beats_chance:
        parts.append("no detector beats the chance rows: left out of the overall rank")
    counts = _series_counts(t, [t.headline, *cols])
    if counts:
        parts.append("series averaged: " + ", ".join(counts))
    if t.headline_series == 0:
        parts.append("no series has an anomaly in its test range: every headline is n/a; "
                     "change the split or the protocol")
    parts += _fallback_notes(t)
    if lift:
        parts.append(f"lift = {t.headline.label} minus the best chance row's"
                     f" ({'higher' if t.headline.higher_is_better else 'lower'} is better)")
    elif not t.oracle:
        parts.append("no chance rows in this run: no lift and no chance test (run random, "
                     "10 seeds, and constant beside the detectors)")
    parts += _chance_legend(t)
    hidden = _hidden_costs(t)
    if hidden:
        parts.append(f"{', '.join(hidden)} cost not shown: it counts time steps, which this "
                     f"dataset declares meaningless (rows without time order, or test ranges "
                     f"shorter than its tolerance)")
    if any(e.chance for e in t.entries):
        parts.append("~chance: a baseline that learned nothing, shown for reference, not ranked")
    if any(e.seeds > 1 for e in t.entries):
        parts.append("mean±std over seeds")
    if any(c.inflating for c in [t.headline, *cols]):
        parts.append("(!) inflating: label-blind detectors score above chance on it")
    text = "; ".join(parts)
    return _wrap(text) if text else []


def _fallback_notes(t: Table) -> list[str]:
    """A label-chosen threshold on series whose validation range held no anomaly: how many, and
    the fallback it used (recorded per series by the threshold strategy)."""
    worst: dict[str, set[str]] = {}
    for e in t.entries:
        for r in e.rows:
            for p in r.get("fallbacks", []):
                worst.setdefault(str(p.get("fallback")), set()).add(str(p.get("series")))
    if not worst:
        return []
    n = max((r.get("n_series") or 0) for e in t.entries for r in e.rows)
    return [f"{t.threshold}: {len(series)} of {n} series had no validation anomaly, threshold "
            f"by fallback '{fb}'" for fb, series in sorted(worst.items())]


def _chance_legend(t: Table) -> list[str]:
    """How the ``p vs random`` column was computed (each rule once)."""
    if t.oracle:
        return []
    rules = []
    for e in t.entries:
        v = e.vs_chance
        if v and v.get("rule") and v["rule"] not in rules:
            rules.append(v["rule"])
    flagged = [e.label for e in t.entries if e.not_better and not e.chance]
    out = [f"p vs chance: {r}" for r in rules]
    if flagged:
        out.append("'no': NOT BETTER THAN CHANCE: " + ", ".join(flagged))
    return out


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
    main += corpus_tables(record, manager)
    oracle = [render_table(t, manager, wide) for t in ts if t.oracle]
    oracle += [x for x in (_oracle_metric_table(t, manager) for t in ts) if x]
    return main + oracle


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
    if o.samples:
        parts.append("left out (samples, not full corpora): " + ", ".join(o.samples))
    elif o.datasets and all(_PART.search(d) for d in o.datasets):
        parts.append("every dataset ranked is a sample, not a full corpus")
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
        from ..errors import BenchError

        raise BenchError(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if fmt == "json":
        return json_lines(record)
    if fmt == "csv":
        return csv_text(record)
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
        else:  # bench.escape: no value can break a line, a cell or the format's markup
            headers = [escape.cell(h, table_fmt) for h in headers]
            body = [[escape.cell(v, table_fmt) for v in row] for row in body]
        parts.append(_tabulate(body, headers, table_fmt))
        parts.extend(_note(line, fmt) for line in legend)
        parts.append("")
    return "\n".join(parts)


def _tabulate(body: list[list[str]], headers: list[str], fmt: str) -> str:
    """tabulate without its 2 spaces of header padding (a column is as wide as its widest cell),
    so that a default table with the chance-test column fits 100 columns."""
    import tabulate as _t

    before = _t.MIN_PADDING
    _t.MIN_PADDING = 0
    try:
        return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)
    finally:
        _t.MIN_PADDING = before


def _html(fmt: str) -> bool:
    return fmt.startswith("html") or fmt == "unsafehtml"


def _title(title: str, fmt: str) -> str:
    title = escape.title(title, fmt)
    if fmt in ("github", "pipe", "markdown") or fmt.startswith("pipe"):
        return f"\n### {title}\n"
    if _html(fmt):
        return f"<h3>{title}</h3>"
    if fmt.startswith("latex"):
        return f"% {title}"
    return f"\n{title}"


def _note(line: str, fmt: str) -> str:
    line = escape.title(line, fmt)
    if _html(fmt):
        return f"<p>{line}</p>"
    if fmt.startswith("latex"):
        return f"% {line}"
    return line
