"""A run record as pandas tables, for notebooks: :func:`to_frame` (one row per cell x evaluation
x metric), :func:`leaderboard` (each dataset's headline per detector, best first) and
:func:`html` (what a notebook shows for a record).  Everything is read from the record
(directions and labels from its ``meta``), never from the installed plugins."""

from __future__ import annotations

import html as _html
import math
from typing import Any

from .recordmeta import higher_is_better, is_chance_detector, label

COLUMNS = ["run_id", "dataset", "detector", "seed", "status", "threshold", "oracle", "metric",
           "label", "value", "higher_is_better", "headline", "n_series", "fit_s", "score_s",
           "error"]


def _rows(record: Any) -> list[dict[str, Any]]:
    rows = []
    for c in record.cells:
        base = {"run_id": record.run_id, "dataset": c.dataset_label,
                "detector": c.detector_label, "seed": c.seed, "status": c.status,
                "fit_s": c.fit_s, "score_s": c.score_s, "error": c.error}
        if not c.ok:
            rows.append({**base, "threshold": "", "oracle": False, "metric": "",
                         "label": "", "value": math.nan, "higher_is_better": None,
                         "headline": False, "n_series": 0})
            continue
        for ev in c.evaluations:
            values = {**ev.metrics, **{f"cost:{k}": v.get("test", math.nan)
                                       for k, v in ev.costs.items()}}
            for m, v in values.items():
                rows.append({**base, "threshold": ev.label, "oracle": ev.oracle, "metric": m,
                             "label": label(record, m), "value": float(v),
                             "higher_is_better": higher_is_better(record, m),
                             "headline": m == c.headline,
                             "n_series": int(ev.n_series.get(m, c.n_series))})
    return rows


def to_frame(record: Any) -> Any:
    """One row per cell x evaluation (threshold strategy) x metric and ``cost:NAME`` (the cost
    model's test total), with the metric's label and direction as recorded, and whether it is
    the dataset's headline; a failed cell is one row with its status and error (value NaN).
    Columns: :data:`COLUMNS`."""
    import pandas as pd

    return pd.DataFrame(_rows(record), columns=COLUMNS)


def leaderboard(record: Any, dataset: str | None = None) -> Any:
    """Each dataset's headline (the non-ORACLE evaluation it declares) per detector, mean over
    seeds, best first by the headline's recorded direction; chance baselines (random,
    constant) are marked ``chance``.  ``dataset``: only that dataset (its label as tables show
    it).  Columns: dataset, headline, detector, value, seeds, chance, rank."""
    import pandas as pd

    df = to_frame(record)
    ok = df[(df["status"] == "ok") & df["headline"] & ~df["oracle"]]
    if dataset is not None:
        ok = ok[ok["dataset"] == dataset]
    if ok.empty:
        return pd.DataFrame(columns=["dataset", "headline", "detector", "value", "seeds",
                                     "chance", "rank"])
    first = ok.groupby(["dataset", "detector", "seed"], sort=False).head(1)  # first threshold
    out = []
    for ds, g in first.groupby("dataset", sort=True):
        metric = g["metric"].iloc[0]
        hib = higher_is_better(record, metric)
        agg = (g.groupby("detector", sort=False)
               .agg(value=("value", "mean"), seeds=("seed", "nunique")).reset_index())
        agg = agg.sort_values("value", ascending=hib is False, na_position="last")
        agg.insert(0, "headline", label(record, metric))
        agg.insert(0, "dataset", ds)
        agg["chance"] = [is_chance_detector(record, d.split("(")[0]) for d in agg["detector"]]
        agg["rank"] = range(1, len(agg) + 1)
        out.append(agg)
    return pd.concat(out, ignore_index=True)


def html(record: Any) -> str:
    """A notebook's view of a record: its run, status and cell counts, then the leaderboard."""
    failed = sum(not c.ok for c in record.cells)
    head = (f"<p><b>bench run {_html.escape(record.run_id)}</b>: {record.status}, "
            f"{len(record.cells)} of {record.n_cells} cells"
            + (f", <b>{failed} failed</b>" if failed else "") + "</p>")
    board = leaderboard(record)
    return head + (board.to_html(index=False, float_format=lambda v: f"{v:.4g}")
                   if not board.empty else "<p>no finished cell has a headline value</p>")
