"""`bench report`: one self-contained HTML page (leaderboards, per-cell plots, ranking plot)."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from . import records, store
from .leaderboard import dataset_tables, detector_label, overall_table
from .params import Spec
from .plugins import Manager, get_manager

#: Nemenyi critical values q_0.05 / sqrt(2) for k = 2..10 classifiers (Demsar, JMLR 2006, Table 5)
NEMENYI_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102,
               10: 3.164}

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}h2{border-bottom:2px solid #444}
.cell{border:1px solid #ddd;padding:8px 12px;margin:12px 0;border-radius:6px}
.plots img{max-width:49%;vertical-align:top}.note{color:#a33}.meta{color:#666;font-size:12px}"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _img(src: str, alt: str) -> str:
    return f'<img src="{src}" alt="{html.escape(alt)}">'


def _scale(values: np.ndarray) -> str:
    """log for positive values spanning over two decades, linear otherwise."""
    lo, hi = float(np.min(values)), float(np.max(values))
    return "log" if lo > 0 and hi / lo > 100 else "linear"


def _trace(s, scores, thr, name):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8))
    t = np.arange(len(scores))
    ax.plot(t, scores, lw=0.7, color="#1f77b4", label="score")
    lab = s.labels.astype(bool)
    if lab.any():
        ax.fill_between(t, 0, 1, where=lab, transform=ax.get_xaxis_transform(), color="red",
                        alpha=0.15, label="labelled anomaly")
    alarms = scores >= thr
    ax.scatter(t[alarms], scores[alarms], s=4, color="black", label="alarm", zorder=3)
    ax.axhline(thr, color="orange", lw=1, ls="--", label=f"threshold {thr:.4g}")
    r = s.split.ranges(len(s))
    for x in (r["val"].start, r["test"].start):
        ax.axvline(x, color="grey", lw=0.8)
    ax.set_yscale(_scale(scores))
    ax.set_title(f"{name}: scores (train | val | test)", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return _png(fig)


def _pr(y, s, name):
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(3.6, 2.8))
    if y.any():
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, lw=1.2)
        ax.axhline(y.mean(), color="grey", ls=":", lw=1, label=f"chance {y.mean():.3f}")
        ax.legend(fontsize=6)
    ax.set_xlabel("recall", fontsize=8)
    ax.set_ylabel("precision", fontsize=8)
    ax.set_title(f"{name}: precision-recall (test)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _cost_curve(s, scores, thr, model, cost_name, name):
    import matplotlib.pyplot as plt

    r = s.split.ranges(len(s))
    lo, hi = np.quantile(scores, [0.0, 1.0])
    grid = np.unique(np.r_[np.quantile(scores, np.linspace(0, 1, 200)), thr, hi + 1e-9])
    fig, ax = plt.subplots(figsize=(3.6, 2.8))
    for rng, color in (("val", "#2ca02c"), ("test", "#d62728")):
        y, sc = s.labels[r[rng]], scores[r[rng]]
        if hasattr(model, "sweep"):
            c = model.sweep(y, sc, grid)
        else:
            c = [model(y, (sc >= t).astype(np.int8)) for t in grid]
        ax.plot(grid, c, lw=1.1, color=color, label=rng)
    ax.axvline(thr, color="orange", ls="--", lw=1, label="chosen")
    ax.set_xscale(_scale(grid))
    ax.set_xlabel("threshold", fontsize=8)
    ax.set_ylabel(f"{cost_name} cost", fontsize=8)
    ax.set_title(f"{name}: cost vs threshold", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def _ratio_curve(s, scores, name):
    """Test event cost against c_missed / c_alarm, the threshold re-chosen on validation for each
    ratio (never on test labels), one line per tolerance."""
    import matplotlib.pyplot as plt

    from .costs import cost_curve

    r = s.split.ranges(len(s))
    ratios = np.array([0.5, 1, 2, 5, 10, 20, 50, 100])
    tols = [0, 3, 12]
    cc = cost_curve(s.labels[r["test"]], scores[r["test"]], ratios=ratios, tolerances=tols,
                    val_labels=s.labels[r["val"]], val_scores=scores[r["val"]])
    fig, ax = plt.subplots(figsize=(3.6, 2.8))
    for i, tol in enumerate(tols):
        ax.plot(ratios, cc["cost"][i], marker="o", ms=3, lw=1.1, label=f"tolerance {tol}")
    ax.set_xscale("log")
    ax.set_xlabel("c_missed / c_alarm", fontsize=8)
    ax.set_ylabel("test event cost (false-alarm units)", fontsize=7)
    ax.set_title(f"{name}: cost curve", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def _heatmap(expl, features, name):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8))
    im = ax.imshow(np.log1p(np.abs(expl.T)), aspect="auto", cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="log(1 + error)")
    ax.set_xlabel("test step", fontsize=8)
    ax.set_ylabel("feature", fontsize=8)
    top = np.argsort(-expl.mean(0))[:3]
    names = [features[i] if features and i < len(features) else str(i) for i in top]
    ax.set_title(f"{name}: per-feature error (explain); top: {', '.join(names)}", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def ranking_plot(record: dict[str, Any], manager: Manager) -> tuple[str, str] | None:
    """Mean rank per detector across datasets with a 95 % interval, and the Nemenyi critical
    difference (Demsar 2006) as a bar: detectors whose mean ranks differ by less are not
    significantly different."""
    import matplotlib.pyplot as plt

    _, _, body = overall_table(record, manager)
    if len(body) < 2:
        return None
    # per-dataset ranks on the same criteria as the table, recomputed per dataset
    from .leaderboard import RANK_METRICS, _rank, rows

    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows(record):
        if r["oracle"]:
            continue
        metrics = [m for m in RANK_METRICS if m in r["metrics"]] or list(r["metrics"])[:1]
        val = np.nanmean([r["metrics"][m] for m in metrics]) if r["status"] == "ok" and metrics \
            else np.nan
        per[r["dataset"]][r["label"]].append(float(val))
    labels = [row[0] for row in body]
    ranks: dict[str, list[float]] = defaultdict(list)
    for by in per.values():
        present = [lab for lab in labels if lab in by]
        vals = [float(np.nanmean(by[lab])) if np.isfinite(by[lab]).any() else np.nan
                for lab in present]
        for lab, rk in zip(present, _rank(vals, True)):
            ranks[lab].append(rk)
    n_ds = max(len(v) for v in ranks.values())
    k = len(labels)
    means = np.array([np.mean(ranks[lab]) for lab in labels])
    half = np.array([1.96 * np.std(ranks[lab], ddof=1) / np.sqrt(len(ranks[lab]))
                     if len(ranks[lab]) > 1 else 0.0 for lab in labels])
    order = np.argsort(means)
    fig, ax = plt.subplots(figsize=(7, 0.45 * k + 1.4))
    ax.errorbar(means[order], np.arange(k), xerr=half[order], fmt="o", capsize=3)
    ax.set_yticks(np.arange(k))
    ax.set_yticklabels([labels[i] for i in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean rank across datasets (1 = best); 95 % interval", fontsize=8)
    cd = None
    if k in NEMENYI_Q05 and n_ds > 1:
        cd = NEMENYI_Q05[k] * np.sqrt(k * (k + 1) / (6.0 * n_ds))
        ax.plot([1, 1 + cd], [-0.7, -0.7], color="red", lw=3)
        ax.text(1, -0.95, f"critical difference {cd:.2f} (Nemenyi, alpha 0.05, "
                f"{n_ds} datasets)", fontsize=7, color="red")
    ax.set_ylim(k - 0.5, -1.3)
    ax.set_title("ranking (mean of ROC-AUC, PR-AUC, F1 per dataset)", fontsize=9)
    fig.tight_layout()
    note = f"{k} detectors, {n_ds} datasets" + (f", CD = {cd:.2f}" if cd else "")
    return _png(fig), note


def _load_dataset(manager: Manager, cell: dict[str, Any]):
    from .runner import load_dataset

    try:
        ds, _ = load_dataset(manager, Spec(cell["dataset"], cell.get("dataset_params", {})))
        return ds if ds.fingerprint() == cell.get("dataset_fingerprint") else None
    except Exception:
        return None


def cell_section(cell: dict[str, Any], manager: Manager, max_series: int = 2) -> str:
    head = (f"<h3>{html.escape(cell['dataset'])} x {html.escape(detector_label(cell))} "
            f"(seed {cell.get('seed', 0)})</h3>")
    if cell["status"] != "ok":
        return (f'<div class="cell">{head}<p class="note">{cell["status"].upper()}: '
                f'{html.escape(cell.get("error", ""))}</p></div>')
    ev = next((e for e in cell["evaluations"] if not e["oracle"]), cell["evaluations"][0])
    meta = (f'<p class="meta">threshold {html.escape(ev["threshold"])} chosen with '
            f'{html.escape(ev["chosen_with"])}; fit {cell["fit_s"]:.2f} s, score '
            f'{cell["score_s"]:.2f} s, device {html.escape(str(cell.get("device")))}</p>')
    loaded = store.load(Path(cell["scores_file"]).parent, cell["fit_key"]) \
        if cell.get("scores_file") else None
    ds = _load_dataset(manager, cell) if loaded else None
    if loaded is None or ds is None:
        return (f'<div class="cell">{head}{meta}<p class="note">no stored scores or dataset '
                f'for plots (run with --out to keep scores)</p></div>')
    scores, _, explain = loaded
    cost_name, cost_spec = _first_cost(cell, manager)
    imgs = []
    by_series = {p["series"]: p for p in ev["per_series"]}
    for s in list(ds)[:max_series]:
        sc, thr = scores[s.name], by_series[s.name]["threshold"]
        r = s.split.ranges(len(s))
        label = s.name if len(ds) > 1 else cell["dataset"]
        imgs.append(_img(_trace(s, sc, thr, label), f"score trace {label}"))
        imgs.append(_img(_pr(s.labels[r["test"]].astype(bool), sc[r["test"]], label),
                         f"precision-recall {label}"))
        if cost_spec is not None:
            imgs.append(_img(_cost_curve(s, sc, thr, cost_spec, cost_name, label),
                             f"cost curve {label}"))
        imgs.append(_img(_ratio_curve(s, sc, label), f"cost ratio curve {label}"))
        if s.name in explain:
            imgs.append(_img(_heatmap(explain[s.name], s.meta.get("features"), label),
                             f"explain heatmap {label}"))
    more = f'<p class="meta">plots of {max_series} of {len(ds)} series</p>' \
        if len(ds) > max_series else ""
    return f'<div class="cell">{head}{meta}<div class="plots">{"".join(imgs)}</div>{more}</div>'


def _first_cost(cell: dict[str, Any], manager: Manager):
    from .params import bind, parse_spec

    grid_costs = cell.get("_costs") or []
    for text in grid_costs:
        spec = parse_spec(text)
        try:
            e = manager.get("cost", spec.name)
            return spec.name, e.factory(**bind("cost", spec.name, e.factory, spec.params))
        except Exception:
            continue
    return None, None


def render(record: dict[str, Any], manager: Manager | None = None, max_cells: int = 60) -> str:
    from tabulate import tabulate

    manager = manager or get_manager()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>bench report "
             f"{html.escape(record['run_id'])}</title><style>{CSS}</style></head><body>",
             f"<h1>bench run {html.escape(record['run_id'])}</h1>",
             f"<p class='meta'>created {html.escape(record.get('created', ''))}, bench "
             f"{html.escape(record.get('bench_version', ''))}, commit "
             f"{html.escape((record.get('git_commit') or '?')[:10])}, "
             f"{len(record['cells'])} cells; python "
             f"{html.escape(record.get('environment', {}).get('python', ''))}</p>",
             "<h2>Leaderboards</h2>"]
    for title, headers, body in [*dataset_tables(record, manager),
                                 overall_table(record, manager)]:
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.append(tabulate(body, headers=headers, tablefmt="html", disable_numparse=True))
    rank = ranking_plot(record, manager)
    if rank:
        parts.append(f"<h2>Ranking</h2>{_img(rank[0], 'ranking plot')}"
                     f"<p class='meta'>{html.escape(rank[1])}</p>")
    parts.append("<h2>Cells</h2>")
    costs = record.get("grid", {}).get("costs", [])
    for cell in record["cells"][:max_cells]:
        parts.append(cell_section({**cell, "_costs": costs}, manager))
    if len(record["cells"]) > max_cells:
        parts.append(f"<p class='meta'>{len(record['cells']) - max_cells} more cells not "
                     f"plotted</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(record_path: str | Path, out: str | Path, manager: Manager | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    record = records.load(record_path)
    text = render(record, manager)
    out = Path(out)
    records.write_atomic(out, text)
    return out
