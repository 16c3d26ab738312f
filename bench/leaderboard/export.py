"""Leaderboard rows as data: csv (one row per cell and threshold) and JSON lines."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .. import escape
from .rows import rows


def json_lines(record: Any) -> str:
    """One JSON object per cell and threshold strategy."""
    return "\n".join(json.dumps(_json_row(r), allow_nan=True) for r in rows(record)) + "\n"


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("dataset", "detector", "params", "seed", "status", "n_series", "threshold",
            "threshold_params", "chosen_with", "threshold_value", "oracle", "metrics",
            "metric_series", "costs", "confusion", "compute", "fit_s", "score_s", "peak_mem_mb",
            "device", "error", "chance_test")
    return {k: r[k] for k in keys if k in r}


class _SafeWriter:
    """A csv writer whose cells cannot start a spreadsheet formula (bench.escape.csv_cell)."""

    def __init__(self, w: Any):
        self.w = w

    def writerow(self, row: list[Any]) -> None:
        self.w.writerow([escape.csv_cell(v) for v in row])


def csv_text(record: Any) -> str:
    """One csv row per cell and threshold strategy: every metric, each cost per range."""
    rs = rows(record)
    metric_names = sorted({m for r in rs for m in r["metrics"]})
    cost_names = sorted({c for r in rs for c in r["costs"]})
    buf = io.StringIO()
    w = _SafeWriter(csv.writer(buf))
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
