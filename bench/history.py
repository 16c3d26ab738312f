"""A metric's value over many run records: when did a number move, and at which commit."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from .compare import METRIC_ATOL, _eval_id


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


def _row(rec: dict[str, Any], cell: Any, eid: str, v: float, status: str):
    return {"created": rec.get("created", ""), "commit": (rec.get("git_commit") or "")[:10],
            "run_id": rec.get("run_id", ""), "cell": f"{_cell_id(cell)} @ {eid}" if eid else
            _cell_id(cell) + f" seed={cell.get('seed', 0)}", "seed": cell.get("seed", 0),
            "dataset": _label(cell, "dataset"), "detector": _label(cell, "detector"),
            "threshold": eid, "value": float(v), "status": status}


def _cell_id(cell: Any) -> str:
    """What rows of one cell share across records: dataset and detector as given."""
    ident = getattr(cell, "identity", None)
    return ident if isinstance(ident, str) else f"{cell['dataset']} x {cell['detector']}"


def _label(cell: Any, what: str) -> str:
    """A cell's dataset or detector as tables name it (typed records and plain dicts alike)."""
    v = getattr(cell, f"{what}_label", None)
    return str(v if isinstance(v, str) and v else cell.get(what, ""))


#: line colours (Okabe-Ito, readable by colour-blind readers; then tab20's) and dash patterns;
#: a line's style is (colour, dash, marker) of its detector, the same in every panel
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#8c564b", "#7f7f7f", "#bcbd22", "#17becf")
DASHES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
MAX_XLABELS = 8  # per 6.2-inch panel: slanted labels 0.75 inch apart


def _styles(keys: list[str]) -> dict[str, dict[str, Any]]:
    """A distinct (colour, dash, marker) per key: colours first, then dashes, then markers."""
    out = {}
    for i, k in enumerate(keys):
        out[k] = {"color": COLOURS[i % len(COLOURS)],
                  "linestyle": DASHES[(i // len(COLOURS)) % len(DASHES)],
                  "marker": MARKERS[(i // (len(COLOURS) * len(DASHES)) + i) % len(MARKERS)]}
    return out


def _natural(text: str) -> list[Any]:
    """Sort key that puts detector_2 before detector_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _line_name(r: dict[str, Any], several_thr: bool, several_seeds: bool) -> str:
    name = r["detector"]
    if several_thr and r["threshold"]:
        name += f" @ {r['threshold']}"
    if several_seeds:
        name += f" seed {r['seed']}"
    return name


def _xlabels(runs: list[tuple[str, str, str]]) -> list[tuple[int, str]]:
    """At most :data:`MAX_XLABELS` evenly spaced (position, "commit\ndate") tick labels."""
    step = max(1, -(-len(runs) // MAX_XLABELS))
    return [(i, f"{c or '?'}\n{t[:10]}") for i, (t, _, c) in enumerate(runs) if i % step == 0]


def plot(rows: list[dict[str, Any]], metric: str, path: str | Path) -> Path:
    """Write :func:`figure` as a PNG at ``path`` (the image grows to hold the legend)."""
    import matplotlib.pyplot as plt

    fig = figure(rows, metric)
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


def figure(rows: list[dict[str, Any]], metric: str):
    """The metric over the records' creation order: one panel per dataset, one line per detector
    (and threshold or seed when there are several), the same style for a detector in every panel
    and one legend outside the panels, on the right; values that moved since the previous run
    are circled.  At most MAX_XLABELS x labels (commit and date), slanted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted({(r["created"], r["run_id"], r["commit"]) for r in rows})
    x_of = {run[1]: i for i, run in enumerate(runs)}
    several_thr = len({r["threshold"] for r in rows if r["threshold"]}) > 1
    several_seeds = len({r["seed"] for r in rows}) > 1
    panels: dict[str, dict[str, list[tuple[int, float, bool]]]] = defaultdict(
        lambda: defaultdict(list))
    for r in rows:
        name = _line_name(r, several_thr, several_seeds)
        panels[r["dataset"]][name].append((x_of[r["run_id"]], r["value"], r["moved"]))
    names = sorted({n for lines in panels.values() for n in lines}, key=_natural)
    style = _styles(names)
    n_panels = len(panels)
    ncols = 1 if n_panels <= 3 else 2
    nrows = -(-n_panels // ncols)
    legend_rows = (len(names) + 1) / (1 if len(names) < 22 else 2)
    panel_h = min(2.3 + 0.07 * max(len(lines) for lines in panels.values()), 6.0)
    height = max(panel_h * nrows + 1.2, 0.15 * legend_rows + 0.8)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, height),
                             sharex=True, squeeze=False)
    for ax, (dataset, lines) in zip(axes.flat, sorted(panels.items())):
        for name, pts in sorted(lines.items(), key=lambda kv: _natural(kv[0])):
            pts.sort()
            xs, ys, moved = zip(*pts)
            ax.plot(xs, ys, label=name, linewidth=1.4, markersize=4, **style[name])
            mx = [x for x, m in zip(xs, moved) if m]
            my = [y for y, m in zip(ys, moved) if m]
            ax.scatter(mx, my, s=110, facecolors="none", edgecolors="red", linewidths=1.3,
                       zorder=3)
        ax.set_title(dataset, fontsize=9, loc="left")
        ax.set_ylabel(metric, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n_panels:]:
        ax.set_visible(False)
    ticks = _xlabels(runs)
    for ax in axes[-1]:
        ax.set_xticks([i for i, _ in ticks])
        ax.set_xticklabels([t for _, t in ticks], fontsize=7, rotation=30, ha="right")
    if ncols == 2 and n_panels % 2:  # the right column ends above an empty slot: own x labels
        axes[-2][1].tick_params(labelbottom=True)
        axes[-2][1].set_xticks([i for i, _ in ticks])
        axes[-2][1].set_xticklabels([t for _, t in ticks], fontsize=7, rotation=30, ha="right")
    handles = [plt.Line2D([], [], label=n, linewidth=1.4, markersize=4, **style[n]) for n in names]
    handles.append(plt.Line2D([], [], linestyle="none", marker="o", markersize=9,
                              markerfacecolor="none", markeredgecolor="red",
                              label="moved since the previous run"))
    fig.suptitle(f"{metric} across {len(runs)} runs ({len(names)} lines, {n_panels} "
                 f"dataset{'s' if n_panels != 1 else ''})", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    # outside the panels, on the right; savefig's tight box grows the image to hold it
    fig.legend(handles=handles, loc="upper left", fontsize=7, frameon=False,
               bbox_to_anchor=(1.0, 0.95), ncols=1 if len(handles) <= 22 else 2)
    return fig
