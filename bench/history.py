"""A metric's value over many run records: when did a number move, and at which commit."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from .compare import METRIC_ATOL, _cell_id, _eval_id


def collect(records: list[dict[str, Any]], metric: str, *, dataset: str | None = None,
            detector: str | None = None) -> list[dict[str, Any]]:
    """One row per (record, cell, main threshold) with the metric's value, oldest record first.
    ``metric`` is a metric name or ``cost:NAME`` (the cost model's test value)."""
    rows = []
    for rec in sorted(records, key=lambda r: r.get("created", "")):
        for cell in rec["cells"]:
            if dataset and cell["dataset"] != dataset or detector and cell["detector"] != detector:
                continue
            if cell["status"] != "ok":
                rows.append(_row(rec, cell, "", float("nan"), cell["status"]))
                continue
            for ev in cell["evaluations"]:
                if ev.get("oracle"):
                    continue
                if metric.startswith("cost:"):
                    v = ev["costs"].get(metric[5:], {}).get("test", float("nan"))
                else:
                    v = ev["metrics"].get(metric, float("nan"))
                rows.append(_row(rec, cell, _eval_id(ev), v, "ok"))
    last: dict[str, float] = {}
    for r in rows:  # mark where a series' value moved since its previous record
        k = r["cell"]
        prev = last.get(k)
        r["moved"] = prev is not None and not (
            (np.isnan(prev) and np.isnan(r["value"])) or abs(r["value"] - prev) <= METRIC_ATOL)
        last[k] = r["value"]
    return rows


def _row(rec: dict[str, Any], cell: dict[str, Any], eid: str, v: float, status: str):
    return {"created": rec.get("created", ""), "commit": (rec.get("git_commit") or "")[:10],
            "run_id": rec.get("run_id", ""), "cell": f"{_cell_id(cell)} @ {eid}" if eid else
            _cell_id(cell) + f" seed={cell.get('seed', 0)}", "seed": cell.get("seed", 0),
            "value": float(v), "status": status}


def plot(rows: list[dict[str, Any]], metric: str, path: str | Path) -> Path:
    """A line per cell over the records' creation order; moves are circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted({(r["created"], r["run_id"], r["commit"]) for r in rows})
    x_of = {run[1]: i for i, run in enumerate(runs)}
    series: dict[str, list[tuple[int, float, bool]]] = defaultdict(list)
    for r in rows:
        series[r["cell"]].append((x_of[r["run_id"]], r["value"], r["moved"]))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, pts in series.items():
        xs, ys, moved = zip(*pts)
        ax.plot(xs, ys, marker="o", label=name, linewidth=1.2)
        mx = [x for x, m in zip(xs, moved) if m]
        my = [y for y, m in zip(ys, moved) if m]
        ax.scatter(mx, my, s=160, facecolors="none", edgecolors="red", linewidths=1.5)
    ax.set_xticks(range(len(runs)))
    ax.set_xticklabels([f"{c or '?'}\n{t[:16]}" for t, _, c in runs], fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} across runs (red circles: moved since the previous run)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
