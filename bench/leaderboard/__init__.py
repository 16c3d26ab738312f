"""Leaderboard tables from a run record: one per dataset, and an overall table by mean rank.

Per dataset (and threshold strategy): rows sorted by the dataset's headline metric (declared by
its plugin, ``bench.Evaluation``; VUS-PR for time series when none is recorded), named in the
title; seeds aggregated to mean +- std with a seed count; the chance baselines (``random``,
``constant``) as reference rows at the bottom, never ranked; the lift of each detector over the
best chance row; the paired test against ``random`` (:mod:`bench.chance_test`) as a ``vs chance``
column, a row that is not better than chance flagged; a legend line under each table with the
short headers, each metric's series count and the marks.  A table where no detector beats chance
on the headline is flagged and left out of the overall ranking.  Anything chosen on test labels
(the ``oracle`` threshold, a metric declared ``oracle``) is printed apart, as ORACLE.  Default
tables fit in 100 columns; ``wide`` shows every metric, cost and timing.  The overall table ranks
detectors on each dataset's headline, with a Friedman test and, only when it rejects, Nemenyi's
critical difference (:mod:`bench.stats`).

Three modules: :mod:`.rows` (the record as flat rows, columns), :mod:`.tables` (tables of
entries, the overall ranking) and :mod:`.render` (text in any format).
"""

from __future__ import annotations

from .render import dataset_tables, overall_table, render, render_table
from .rows import (
                   CHANCE_NAMES,
                   DEFAULT_HEADLINE,
                   FALLBACK_HEADLINES,
                   FORMATS,
                   NARROW_EXTRA,
                   WIDTH,
                   Column,
                   column,
                   dataset_label,
                   detector_label,
                   rows,
)
from .tables import Entry, Overall, Table, ranking, tables

__all__ = ["CHANCE_NAMES", "DEFAULT_HEADLINE", "FALLBACK_HEADLINES", "FORMATS", "NARROW_EXTRA",
           "WIDTH", "Column", "Entry", "Overall", "Table", "column", "dataset_label",
           "dataset_tables", "detector_label", "overall_table", "ranking", "render",
           "render_table", "rows", "tables"]
