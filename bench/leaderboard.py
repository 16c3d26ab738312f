"""Leaderboard tables from a run record: one per dataset, and an overall table by mean rank."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from typing import Any

import numpy as np
from tabulate import tabulate, tabulate_formats

from .plugins import Manager, get_manager

EXTRA_FORMATS = ("csv", "json", "markdown")  # markdown = tabulate's "pipe"
#: metrics the overall table ranks by, when the run computed them
RANK_METRICS = ("roc_auc", "pr_auc", "f1")
FORMATS = tuple(sorted(set(tabulate_formats) | set(EXTRA_FORMATS)))


def detector_label(cell: dict[str, Any]) -> str:
    given = cell.get("given") or {}
    if not given:
        return cell["detector"]
    return cell["detector"] + "(" + ",".join(f"{k}={_short(v)}" for k, v in given.items()) + ")"


def _short(v: Any) -> str:
    if isinstance(v, list):
        return "-".join(map(str, v))
    return str(v)


def rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per (cell, threshold strategy); a failed cell is one row with its error."""
    out = []
    for cell in record["cells"]:
        base = {
            "dataset": cell["dataset"],
            "detector": cell["detector"],
            "label": detector_label(cell),
            "params": cell.get("params", cell.get("given", {})),
            "seed": cell.get("seed", 0),
            "status": cell["status"],
            "n_series": cell.get("n_series"),
            "fit_s": cell.get("fit_s"),
            "score_s": cell.get("score_s"),
            "peak_mem_mb": cell.get("peak_mem_mb"),
            "device": cell.get("device"),
            "compute": cell.get("compute", {}),
        }
        if cell["status"] != "ok":
            out.append({**base, "error": cell.get("error", ""), "threshold": None,
                        "oracle": False, "metrics": {}, "costs": {}})
            continue
        for ev in cell["evaluations"]:
            thr = [p["threshold"] for p in ev["per_series"]]
            out.append({
                **base,
                "threshold": ev["threshold"],
                "threshold_params": ev["threshold_params"],
                "chosen_with": ev["chosen_with"],
                "threshold_value": thr[0] if len(thr) == 1 else thr,
                "oracle": ev["oracle"],
                "metrics": ev["metrics"],
                "costs": ev["costs"],
                "confusion": ev["confusion"],
            })
    return out


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


def _secs(v: Any, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _metric_meta(manager: Manager, name: str) -> tuple[str, bool, bool]:
    """(column label, higher_is_better, inflating) of a metric, tolerant of unknown ones."""
    reg = manager.registry("metric")
    if name in reg:
        fn = reg.get(name).factory
        label = getattr(fn, "label", name)
        infl = getattr(fn, "inflating", False)
        return (label + (" (!)" if infl else ""), getattr(fn, "higher_is_better", True), infl)
    return name, True, False


def _columns(record: dict[str, Any], manager: Manager) -> tuple[list[str], list[str]]:
    """(metrics, alarm cost models) of the run; compute cost models are shown apart."""
    grid = record.get("grid", {})
    metrics = list(grid.get("metrics", []))
    costs = [c.split(":")[0] for c in grid.get("costs", [])]
    return metrics, [c for c in costs if c not in _compute_names(record)]


def _compute_names(record: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for cell in record["cells"]:
        for name in cell.get("compute", {}):
            if name not in names:
                names.append(name)
    return names


def dataset_tables(record: dict[str, Any], manager: Manager | None = None) -> list[
        tuple[str, list[str], list[list[str]]]]:
    """``[(title, headers, rows)]``: per dataset and threshold strategy; ORACLE tables last."""
    manager = manager or get_manager()
    metrics, costs = _columns(record, manager)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    failed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(record):
        if r["status"] != "ok":
            failed[r["dataset"]].append(r)
        else:
            groups[(r["oracle"], r["dataset"], r["threshold"])].append(r)
    for ds in failed:  # a dataset whose every cell failed still gets its table
        if not any(k[1] == ds for k in groups):
            groups[(False, ds, None)] = []
    computes = _compute_names(record)
    headers = ["detector"] + [_metric_meta(manager, m)[0] for m in metrics] \
        + [f"{c} cost (test)" for c in costs] + [f"$/M points ({c})" for c in computes] \
        + ["fit s", "score s", "mem MB", "status"]
    out = []
    for (oracle, ds, thr) in sorted(groups, key=lambda k: (k[0], k[1], str(k[2]))):
        body = []
        members = groups[(oracle, ds, thr)]
        rank_metric = costs[0] if costs else None
        members.sort(key=lambda r: r["costs"][rank_metric]["test"] if rank_metric else 0)
        for r in members:
            body.append([r["label"]] + [_fmt(r["metrics"].get(m)) for m in metrics]
                        + [_fmt(r["costs"].get(c, {}).get("test")) for c in costs]
                        + [_fmt(r["compute"].get(c, {}).get("usd_per_million_points"))
                           for c in computes]
                        + [_secs(r["fit_s"]), _secs(r["score_s"]), _secs(r["peak_mem_mb"], 1),
                           "ok"])
        if not oracle:
            for r in failed.get(ds, []):
                body.append([r["label"]] + [""] * (len(headers) - 2)
                            + [f"{_status_word(r['status'])}: {_one_line(r['error'])}"])
        chosen = members[0]["chosen_with"] if members else ""
        if oracle:
            title = f"ORACLE {ds} (threshold '{thr}' chosen on TEST labels: an upper bound, " \
                    f"not a result)"
        else:
            title = f"{ds} (threshold: {thr}, chosen with {chosen})" if thr else f"{ds}"
        out.append((title, headers, body))
    return out


def _status_word(status: str) -> str:
    """How a cell that did not finish is shown: FAILED (error), TIMEOUT, OOM, CRASH, ..."""
    return "FAILED" if status == "error" else status.upper()


def _one_line(text: str, n: int = 90) -> str:
    line = (text or "").strip().splitlines()[0] if text else ""
    return line if len(line) <= n else line[: n - 3] + "..."


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


def overall_table(record: dict[str, Any], manager: Manager | None = None) -> tuple[
        str, list[str], list[list[str]]]:
    """Mean rank of each detector across datasets (main threshold, first seed mean), for each key
    metric and the first cost model; failed cells rank last."""
    manager = manager or get_manager()
    metrics, costs = _columns(record, manager)
    ranked = [m for m in metrics if m in RANK_METRICS] or [
        m for m in metrics if not _metric_meta(manager, m)[2]]
    criteria = [(m, *_metric_meta(manager, m)[:2]) for m in ranked]
    criteria += [(f"cost:{c}", f"{c} cost", False) for c in costs[:1]]
    per_ds: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(
        lambda: defaultdict(list)))
    thresholds = record.get("grid", {}).get("thresholds", [])
    main_thr = next((t.split(":")[0] for t in thresholds if not t.startswith("oracle")), None)
    labels = []
    for r in rows(record):
        if r["oracle"] or (r["threshold"] not in (None, main_thr)):
            continue
        if r["label"] not in labels:
            labels.append(r["label"])
        for key, _, _ in criteria:
            if r["status"] != "ok":
                v = float("nan")
            elif key.startswith("cost:"):
                v = r["costs"][key[5:]]["test"]
            else:
                v = r["metrics"].get(key, float("nan"))
            per_ds[r["dataset"]][r["label"]][key].append(v)
    ranks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    failed: dict[str, int] = defaultdict(int)
    for by_label in per_ds.values():
        present = [lab for lab in labels if lab in by_label]
        for key, _, hib in criteria:
            vals = [float(np.nanmean(by_label[lab][key])) if np.isfinite(by_label[lab][key]).any()
                    else float("nan") for lab in present]
            for lab, rk in zip(present, _rank(vals, hib)):
                ranks[lab][key].append(rk)
    for r in rows(record):
        if r["status"] != "ok":
            failed[r["label"]] += 1
    headers = ["detector", "mean rank"] + [f"rank {lab}" for _, lab, _ in criteria] \
        + ["datasets", "failed cells"]
    body = []
    for lab in labels:
        per = [float(np.mean(ranks[lab][k])) for k, _, _ in criteria]
        body.append([lab, float(np.mean(per))] + per
                    + [len(ranks[lab][criteria[0][0]]) if criteria else 0, failed[lab]])
    body.sort(key=lambda row: row[1])
    body = [[row[0]] + [_fmt(x) for x in row[1:-2]] + row[-2:] for row in body]
    return "overall (mean rank across datasets; 1 = best)", headers, body


def render(record: dict[str, Any], fmt: str = "github", manager: Manager | None = None) -> str:
    """All leaderboards of a record as text in ``fmt``: any tabulate format, ``csv`` (one row
    per cell and threshold) or ``json`` (one JSON object per line)."""
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
    for title, headers, body in [*dataset_tables(record, manager), overall_table(record, manager)]:
        parts.append(_title(title, fmt))
        parts.append(tabulate(body, headers=headers, tablefmt=table_fmt, disable_numparse=True))
        parts.append("")
    return "\n".join(parts)


def _title(title: str, fmt: str) -> str:
    if fmt in ("github", "pipe", "markdown") or fmt.startswith("pipe"):
        return f"\n### {title}\n"
    if fmt.startswith("html") or fmt == "unsafehtml":
        return f"<h3>{title}</h3>"
    if fmt.startswith("latex"):
        return f"% {title}"
    return f"\n{title}"


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("dataset", "detector", "params", "seed", "status", "n_series", "threshold",
            "threshold_params", "chosen_with", "threshold_value", "oracle", "metrics", "costs",
            "confusion", "compute", "fit_s", "score_s", "peak_mem_mb", "device", "error")
    return {k: r[k] for k in keys if k in r}


def _csv(record: dict[str, Any]) -> str:
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
