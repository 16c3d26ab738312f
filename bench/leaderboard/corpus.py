"""Corpus-level tables: the values a protocol computes once per cell over all its series (NAB's
normalised board under ``--protocol nab``: ``nab_score:PROFILE``), as their own table per
dataset, titled with the rule that produced them (NAB's: one threshold per profile chosen with
the labels of the whole corpus)."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from typing import Any

import numpy as np

from ..plugins import Manager
from .rows import (
    WIDTH,
    _cell_get,
    _evaluations,
    _fmt,
    _is_chance,
    _pm,
    dataset_label,
    detector_label,
)

#: the prefix of the values shown (others, e.g. the chosen thresholds, stay in the record)
SHOWN = "nab_score:"


def _values(cell: Any) -> tuple[dict[str, float], str]:
    """The shown corpus values of a cell and their note (from its first evaluation)."""
    for ev in _evaluations(cell):
        dm = ev.get("dataset_metrics") or {}
        if dm:
            return ({k: float(v) for k, v in dm.items() if k.startswith(SHOWN)},
                    str(ev.get("dataset_metrics_note") or ""))
    return {}, ""


def corpus_tables(record: Any, manager: Manager) -> list[tuple[str, list[str], list[list[str]],
                                                             list[str]]]:
    """``[(title, headers, body, legend)]``: one table per dataset whose cells carry corpus
    values, rows sorted by the first value (higher is better: NAB's 100 = perfect, 0 = the
    detector that never alarms), mean±std over seeds, chance rows marked and last."""
    groups: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    notes: dict[str, str] = {}
    for cell in record["cells"]:
        if _cell_get(cell, "status") != "ok":
            continue
        vals, note = _values(cell)
        if vals:
            ds = dataset_label(cell)
            groups[ds][detector_label(cell)].append(vals)
            notes[ds] = note
    out = []
    for ds in sorted(groups):
        dets = groups[ds]
        keys = sorted({k for runs in dets.values() for r in runs for k in r},
                      key=lambda k: (k != f"{SHOWN}standard", k))
        rows = []
        for det, runs in dets.items():
            arr = np.array([[r.get(k, np.nan) for k in keys] for r in runs], dtype=float)
            mean = np.nanmean(arr, axis=0) if len(arr) else np.full(len(keys), np.nan)
            chance = _is_chance(manager, det.split("(")[0])
            cells = [_fmt(float(m)) if len(arr) == 1 else _pm(float(m), float(s))
                     for m, s in zip(mean, np.nanstd(arr, axis=0))]
            rows.append((chance, -mean[0] if np.isfinite(mean[0]) else np.inf,
                         [det + (" ~chance" if chance else ""), str(len(arr)), *cells]))
        rows.sort(key=lambda r: (r[0], r[1]))
        headers = ["detector", "seeds", *[k[len(SHOWN):] for k in keys]]
        title = f"{ds}: NAB's board ({notes[ds] or 'corpus-level values'})"
        legend = textwrap.wrap(
            "NAB score: 100 = every window detected at its start with no false alarm, 0 = a "
            "detector that never alarms (normalised over the corpus as NAB's runner does); "
            "higher is better; the thresholds are chosen with the corpus labels (NAB's rule for "
            "its published board), not a deployable threshold", WIDTH)
        out.append((title, headers, [r[2] for r in rows], legend))
    return out
