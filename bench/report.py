"""`bench report`: one self-contained HTML page for a run record.

The page holds the leaderboards (the same tables as ``bench leaderboard``, from
:mod:`bench.leaderboard`), a ranking plot drawn from the same ranking as the overall table
(:func:`bench.leaderboard.ranking`), and for every cell an interactive, zoomable plot of one
series at a time with a selector that reaches every series of the dataset: the signal (univariate
series), the detector's scores with the threshold, alarms, labelled anomaly ranges and the
train/validation/test boundaries, the series' own metrics, and a per-feature heatmap of the
detector's explanation where there is more than one feature.

Rendering: Jinja2 with autoescape (``bench/templates/report.html.j2``), so every value that comes
from a record, a dataset or a parameter is escaped; data for scripts goes through ``tojson``.
Plots: plotly.js (the copy inside the ``plotly`` package, embedded gzip-compressed and unpacked by
the browser, so the page works offline).  Size: a series is stored once per plot as 12-bit
codes (a plot is a few hundred pixels tall), delta-coded in byte planes, gzip-compressed and
base64-encoded, and is decoded only when it is shown; a series longer than ``max_points`` is
reduced for display to the minimum and maximum of each of ``max_points / 2`` equal buckets
(peaks survive, the drawn envelope is the same at full width; zooming in shows the envelope, not
every point).
"""

from __future__ import annotations

import base64
import gzip
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import escape, leaderboard, records
from .params import Spec
from .plugins import Manager, get_manager

#: points per drawn series above which a series is reduced (min and max per bucket)
MAX_POINTS = 2000
#: time buckets of an explanation heatmap (max per bucket)
HEATMAP_COLUMNS = 400


# ----------------------------------------------------------------------------- packing arrays


def minmax_downsample(y: np.ndarray, max_points: int) -> tuple[np.ndarray | None, np.ndarray]:
    """``(x, y)`` reduced to at most ``max_points`` points: the minimum and the maximum of each of
    ``max_points // 2`` equal buckets, in time order.  ``x`` is None when nothing was dropped."""
    n = len(y)
    if n <= max_points:
        return None, y
    buckets = max(max_points // 2, 1)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    idx = np.empty(2 * buckets, dtype=np.int64)
    for b, (a, z) in enumerate(zip(edges[:-1], edges[1:])):
        seg = y[a:z]
        i_lo, i_hi = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        idx[2 * b], idx[2 * b + 1] = min(i_lo, i_hi), max(i_lo, i_hi)
    idx = np.unique(idx)
    return idx, y[idx]


LEVELS = 4095  # 12-bit codes: ten times finer than the pixels of a plot's height


def _quantise(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Integer codes of ``y`` over [lo, hi] (0..LEVELS), and lo, hi."""
    y = np.asarray(y, dtype=np.float64)
    lo, hi = float(np.min(y)), float(np.max(y))
    if not hi - lo > 0:
        return np.zeros(len(y), dtype=np.int64), lo, hi
    return np.rint((y - lo) / (hi - lo) * LEVELS).astype(np.int64), lo, hi


def _delta_planes(v: np.ndarray, width: int) -> bytes:
    """``v`` as zigzag-coded differences of consecutive values, ``width`` bytes each, stored as
    byte planes (all lowest bytes, then the next...): smooth series become runs of small,
    repetitive bytes, which gzip packs well."""
    d = np.diff(np.r_[0, v]).astype(np.int64)
    z = ((d << 1) ^ (d >> 63)).astype(f"<u{width}")
    return np.frombuffer(z.tobytes(), np.uint8).reshape(-1, width).T.tobytes()


def pack_trace(y: np.ndarray, max_points: int) -> dict[str, Any]:
    """One series for the page: ``{"n", "k", "lo", "hi", "x", "b"}``: ``k`` points of ``n``
    (``x``: whether their row numbers are stored, after a reduction), ``b`` base64 of the gzip
    of [row numbers as 4-byte delta planes] + [12-bit codes as 2-byte delta planes]; a value is
    ``lo + code * (hi - lo) / 4095``."""
    x, ys = minmax_downsample(np.asarray(y, dtype=np.float64), max_points)
    q, lo, hi = _quantise(ys)
    raw = (_delta_planes(x, 4) if x is not None else b"") + _delta_planes(q, 2)
    return {"n": int(len(y)), "k": int(len(ys)), "lo": lo, "hi": hi, "x": x is not None,
            "b": base64.b64encode(gzip.compress(raw, 9, mtime=0)).decode("ascii")}


def unpack_trace(t: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of a :func:`pack_trace` result, as the page's script decodes it."""
    raw = np.frombuffer(gzip.decompress(base64.b64decode(t["b"])), np.uint8)
    k = t["k"]

    def planes(buf: np.ndarray, width: int) -> np.ndarray:
        z = np.zeros(k, np.int64)
        for i in range(width):
            z |= buf[i * k:(i + 1) * k].astype(np.int64) << (8 * i)
        return np.cumsum((z >> 1) ^ -(z & 1))

    off = 4 * k if t["x"] else 0
    x = planes(raw[:off], 4) if t["x"] else np.arange(k)
    return x, t["lo"] + planes(raw[off:], 2) * (t["hi"] - t["lo"]) / LEVELS


def pack_heatmap(e: np.ndarray, columns: int = HEATMAP_COLUMNS) -> dict[str, Any]:
    """An explanation ``[T, F]`` as ``F`` rows of at most ``columns`` time buckets (max of
    ``log1p(|e|)`` per bucket), 8-bit codes: ``{"f", "c", "lo", "hi", "step", "b"}``."""
    v = np.log1p(np.abs(np.asarray(e, dtype=np.float64)))
    t = v.shape[0]
    c = min(columns, t)
    starts = np.linspace(0, t, c + 1).astype(np.int64)[:-1]
    grid = np.maximum.reduceat(v, starts, axis=0).T  # [F, c]
    lo, hi = float(grid.min()), float(grid.max())
    codes = np.zeros(grid.shape, np.uint8) if not hi > lo else \
        np.rint((grid - lo) / (hi - lo) * 255).astype(np.uint8)
    return {"f": int(grid.shape[0]), "c": int(c), "lo": lo, "hi": hi, "step": t / c,
            "b": base64.b64encode(gzip.compress(codes.tobytes(), 6, mtime=0)).decode("ascii")}


def _ranges(labels: np.ndarray) -> list[list[int]]:
    """Labelled anomaly ranges ``[start, stop)``."""
    y = np.asarray(labels).astype(bool).astype(np.int8)
    d = np.diff(np.r_[0, y, 0])
    return [[int(a), int(b)] for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


# ----------------------------------------------------------------------------- data for the page


#: the cost-ratio plot: test event cost at these c_missed / c_alarm ratios and tolerances
RATIOS = (0.5, 1, 2, 5, 10, 20, 50, 100)
TOLERANCES = (0, 3, 12)


def _rows(s: Any, protocol: str = "") -> dict[str, slice | None]:
    """The series' train / val / test slices under the cell's protocol (``val`` None: the
    protocol has no validation range, e.g. ``tsb-ad``)."""
    from . import protocols

    return protocols.get(protocol).rows(s)


def cost_ratio_curve(s: Any, scores: np.ndarray, protocol: str = "") -> dict[str, Any]:
    """Evaluated-range event cost (in false-alarm units, lower is better) against c_missed /
    c_alarm for a few tolerances, the threshold re-chosen on the protocol's validation range for
    each ratio (never on test labels): :func:`bench.costs.cost_curve`."""
    from .costs import cost_curve

    r = _rows(s, protocol)
    cc = cost_curve(s.labels[r["test"]], scores[r["test"]], ratios=np.array(RATIOS),
                    tolerances=list(TOLERANCES), val_labels=s.labels[r["val"]],
                    val_scores=scores[r["val"]])
    return {"ratios": list(RATIOS), "tolerances": list(TOLERANCES),
            "cost": [[float(f"{v:.4g}") for v in row] for row in cc["cost"]]}


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _load_dataset(manager: Manager, cell: dict[str, Any]):
    """The cell's dataset if it can be built again with the same fingerprint, else None."""
    from .runner import load_dataset

    try:
        ds, _ = load_dataset(manager, Spec(str(cell["dataset"]), cell.get("dataset_params", {})))
        return ds if ds.fingerprint() == cell.get("dataset_fingerprint") else None
    except Exception:
        return None


def _load_scores(cell: dict[str, Any], ds: Any, store_dir: Path | None):
    """The cell's stored scores, read only from the record's own store (``store_dir``) under
    the cell's fit key: never from the path a record names (a record from elsewhere could name
    any file), and never when the record says nothing was stored."""
    from . import store

    path = store.path_in(store_dir, cell.get("fit_key")) if store_dir is not None else None
    if path is None or not cell.get("scores_file"):
        return None
    stored, _ = store.load_file(path, {s.name: len(s) for s in ds}, cell.get("fit_key"))
    return stored


def _evaluation(cell: dict[str, Any]) -> dict[str, Any] | None:
    evs = cell.get("evaluations") or []
    return next((e for e in evs if not e.get("oracle")), evs[0] if evs else None)


def _series_metrics(cell: dict[str, Any], p: dict[str, Any]) -> list[list[Any]]:
    """``[[label, value], ...]`` of one series: the headline first, then the other metrics and
    the test costs."""
    out = [[k, _finite(v)] for k, v in (p.get("metrics") or {}).items()]
    out += [[f"{k} cost (test)", _finite((v or {}).get("test"))]
            for k, v in (p.get("costs") or {}).items()]
    head = str(cell.get("headline") or "")
    key = f"{head[5:]} cost (test)" if head.startswith("cost:") else head
    out.sort(key=lambda kv: kv[0] != key)
    return out


class _Values:
    """Signals of univariate series, packed once per dataset and shared by its cells."""

    def __init__(self, max_points: int):
        self.max_points = max_points
        self.packed: dict[str, dict[str, Any]] = {}

    def key(self, cell: dict[str, Any], ds: Any) -> str | None:
        if any(s.n_features != 1 for s in ds):
            return None
        k = f"{cell['dataset']}@{cell.get('dataset_fingerprint', '')}"
        if k not in self.packed:
            self.packed[k] = {s.name: pack_trace(s.values[:, 0], self.max_points) for s in ds}
        return k


def _cost_ratio_or_none(s: Any, scores: np.ndarray, protocol: str) -> dict[str, Any] | None:
    """None when the protocol has no (or an empty) validation range to choose thresholds on."""
    r = _rows(s, protocol)
    if r["val"] is None or r["val"].stop <= r["val"].start or r["test"].stop <= r["test"].start:
        return None
    return cost_ratio_curve(s, np.asarray(scores, dtype=np.float64), protocol)


def cell_view(cell: dict[str, Any], i: int, manager: Manager, values: _Values,
              max_points: int, store_dir: Path | None = None) -> dict[str, Any]:
    """What the page shows of one cell: title, status, facts and, where its scores and dataset
    can be loaded, every series' plot data."""
    view: dict[str, Any] = {
        "id": f"c{i}", "dataset": leaderboard.dataset_label(cell),
        "detector": leaderboard.detector_label(cell), "seed": cell.get("seed", 0),
        "status": str(cell.get("status", "")), "error": str(cell.get("error") or ""),
        "facts": [], "series": [], "note": ""}
    if view["status"] != "ok":
        return view
    ev = _evaluation(cell) or {}
    view["facts"] = [
        ("threshold", f"{ev.get('threshold', '')} ({ev.get('chosen_with', '')})"),
        ("headline", str(cell.get("headline") or "")),
        ("fit", f"{_finite(cell.get('fit_s')) or 0:.2f} s"),
        ("score", f"{_finite(cell.get('score_s')) or 0:.2f} s"),
        ("peak memory", f"{cell.get('peak_mem_mb')} MB"),
        ("device", str(cell.get("device") or ""))]
    ds = _load_dataset(manager, cell)
    stored = _load_scores(cell, ds, store_dir) if ds is not None else None
    if ds is None or stored is None:
        view["note"] = ("no plots: the stored scores or the dataset could not be loaded again "
                        "(run with --out to keep scores; the dataset must be unchanged)")
        return view
    view["values"] = values.key(cell, ds)
    per = {p["series"]: p for p in ev.get("per_series", [])}
    protocol = str((cell.get("protocol") or {}).get("name") or "")
    for s in ds:
        p = per.get(s.name, {})
        r = _rows(s, protocol)
        entry = {"name": s.name, "label": escape.plotly(s.name), "n": len(s),
                 "val": None if r["val"] is None else r["val"].start, "test": r["test"].start,
                 "thr": _finite(p.get("threshold")), "labels": _ranges(s.labels),
                 "metrics": _series_metrics(cell, p),
                 "scores": pack_trace(stored.scores[s.name], max_points),
                 "cost_ratio": _cost_ratio_or_none(s, stored.scores[s.name], protocol)}
        if s.n_features > 1 and s.name in stored.explain:
            entry["explain"] = pack_heatmap(stored.explain[s.name])
            entry["explain_start"] = r["test"].start
        view["series"].append(entry)
    return view


def _tables(record: dict[str, Any], manager: Manager) -> list[dict[str, Any]]:
    """The leaderboards as bench leaderboard prints them: per dataset, then overall."""
    out = []
    ts = leaderboard.tables(record, manager)
    for t in [t for t in ts if not t.oracle] + [t for t in ts if t.oracle]:
        title, headers, body, legend = leaderboard.render_table(t, manager)
        out.append({"title": title, "headers": headers, "rows": body, "legend": legend})
    title, headers, body = leaderboard.overall_table(record, manager)
    out.append({"title": title, "headers": headers, "rows": body, "legend": []})
    return out


def ranking_figure(record: dict[str, Any], manager: Manager) -> dict[str, Any] | None:
    """Plotly figure of the overall ranking (:func:`bench.leaderboard.ranking`, the table's):
    each detector's mean rank (1 = best) with its rank on every dataset, and the Nemenyi critical
    difference when the Friedman test rejects."""
    o = leaderboard.ranking(record, manager)
    labels = sorted(o.labels, key=lambda lab: (np.nan_to_num(o.mean_rank(lab), nan=1e9), lab))
    if len(labels) < 2 or not o.datasets:
        return None
    shown = {lab: escape.plotly(lab) for lab in labels}  # plotly renders HTML in labels
    traces = [{"type": "scatter", "mode": "markers", "name": "mean rank",
               "x": [_finite(o.mean_rank(lab)) for lab in labels],
               "y": [shown[lab] for lab in labels],
               "marker": {"size": 12, "color": "#1f77b4"}}]
    for d in o.datasets:
        labs = [lab for lab in labels if lab in o.ranks[d]]
        traces.append({"type": "scatter", "mode": "markers", "name": escape.plotly(d),
                       "legendgroup": "ds", "x": [o.ranks[d][lab] for lab in labs],
                       "y": [shown[lab] for lab in labs],
                       "marker": {"size": 7, "symbol": "circle-open"},
                       "hovertemplate": "%{fullData.name}: rank %{x}<extra></extra>"})
    shapes, notes = [], [f"{len(labels)} detectors ranked on {len(o.datasets)} datasets, each on "
                         f"its headline ({', '.join(f'{d}: {h}' for d, h in o.headlines.items())})"]
    test = o.test
    if test is not None and getattr(test, "rejected", False) and getattr(test, "cd", None):
        best = min(v for v in traces[0]["x"] if v is not None)
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": best,
                       "x1": best + test.cd, "y0": 1.04, "y1": 1.04,
                       "line": {"color": "#d62728", "width": 4}})
        notes.append(f"red bar: Nemenyi critical difference {test.cd:.2f}")
    if test is not None and hasattr(test, "summary"):
        notes.append(test.summary())
    if o.left_out:
        notes.append("left out (no detector beats chance): " + ", ".join(o.left_out))
    layout = {"height": 120 + 34 * len(labels), "margin": {"l": 160, "r": 20, "t": 30, "b": 40},
              "xaxis": {"title": {"text": "rank (1 = best)"}, "zeroline": False},
              "yaxis": {"autorange": "reversed", "categoryorder": "array",
                        "categoryarray": [shown[lab] for lab in labels]},
              "shapes": shapes, "legend": {"orientation": "h", "y": -0.25}}
    return {"data": traces, "layout": layout, "notes": notes}


@lru_cache(maxsize=1)
def plotly_js_gzip_b64() -> str:
    """plotly.js from the plotly package, gzip-compressed and base64-encoded (the page unpacks
    it with the browser's DecompressionStream)."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode(), 9, mtime=0)).decode("ascii")


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("bench", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)


def render(record: dict[str, Any], manager: Manager | None = None,
           max_points: int = MAX_POINTS, store_dir: str | Path | None = None) -> str:
    """The report page of ``record`` (a run record as loaded by :func:`bench.records.load`);
    plots read scores from ``store_dir`` (the record's own store, ``scores/`` beside it; None:
    no plots)."""
    manager = manager or get_manager()
    values = _Values(max_points)
    store_dir = Path(store_dir) if store_dir is not None else None
    cells = [cell_view(c, i, manager, values, max_points, store_dir)
             for i, c in enumerate(record["cells"])]
    env = record.get("environment") or {}
    run = {"id": str(record.get("run_id", "")), "created": str(record.get("created", "")),
           "bench": str(record.get("bench_version", "")),
           "commit": str(record.get("git_commit") or "?")[:10],
           "python": str(env.get("python", "")) if isinstance(env, dict) else "",
           "n_cells": len(cells), "max_points": max_points}
    data = {"cells": {c["id"]: c["series"] for c in cells if c["series"]},
            "values": values.packed}
    return _environment().get_template("report.html.j2").render(
        run=run, tables=_tables(record, manager), ranking=ranking_figure(record, manager),
        cells=cells, data=data, plotly_gz=plotly_js_gzip_b64())


def write(record_path: str | Path, out: str | Path, manager: Manager | None = None,
          max_points: int = MAX_POINTS) -> Path:
    """Render the record at ``record_path`` into the HTML file ``out`` (written atomically)."""
    record = records.load(record_path)
    rp = Path(record_path)
    text = render(record, manager, max_points, (rp if rp.is_dir() else rp.parent) / "scores")
    out = Path(out)
    records.write_atomic(out, text)
    return out


def page_size(text: str) -> dict[str, int]:
    """Bytes of a rendered page: total, the embedded plotly.js, and the series data."""
    start = text.find('id="bench-data"')
    data = len(text[start:text.find("</script>", start)].encode()) if start >= 0 else 0
    return {"total": len(text.encode()), "plotly_js": len(plotly_js_gzip_b64()),
            "data": data}
