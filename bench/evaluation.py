"""Evaluation: pick a series' threshold and score its test range; aggregate over series."""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Series
from .metrics import confusion
from .thresholds import ThresholdContext

RANGES = ("train", "val", "test")


def evaluate(s: Series, scores: np.ndarray, train_mask: np.ndarray, strategy: Any,
             cost_models: dict[str, Any], metric_fns: dict[str, Any]) -> dict[str, Any]:
    """Pick one series' threshold with ``strategy`` and evaluate the alarms on its test range."""
    r = s.split.ranges(len(s))
    first_cost = next(iter(cost_models.values()), None)
    ctx = ThresholdContext(
        train_scores=scores[train_mask],
        val_scores=scores[r["val"]],
        val_labels=s.labels[r["val"]],
        cost=first_cost,
        series=s.name,
    )
    if getattr(strategy, "needs_test_labels", False):
        ctx.test_scores, ctx.test_labels = scores[r["test"]], s.labels[r["test"]]
    thr = float(strategy.select(ctx))
    pred = (scores >= thr).astype(np.int8)
    y_test, p_test, s_test = s.labels[r["test"]], pred[r["test"]], scores[r["test"]]
    metrics = {}
    for name, fn in metric_fns.items():
        metrics[name] = float(fn(y_test, s_test if fn.input == "scores" else p_test))
    costs = {
        name: {rng: float(model(s.labels[r[rng]], pred[r[rng]])) for rng in RANGES}
        for name, model in cost_models.items()
    }
    return {"series": s.name, "threshold": thr, "metrics": metrics, "costs": costs,
            "confusion": confusion(y_test, p_test)}


def _aggregate(per_series: list[dict[str, Any]]) -> dict[str, Any]:
    """Macro mean of each metric over series (NaN where a series has none), sum of costs and
    confusion counts."""
    metrics = {}
    for name in per_series[0]["metrics"]:
        vals = np.array([p["metrics"][name] for p in per_series], dtype=np.float64)
        metrics[name] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    costs = {
        name: {rng: float(sum(p["costs"][name][rng] for p in per_series)) for rng in RANGES}
        for name in per_series[0]["costs"]
    }
    conf = {k: int(sum(p["confusion"][k] for p in per_series)) for k in ("tp", "fp", "fn", "tn")}
    return {"metrics": metrics, "costs": costs, "confusion": conf}
