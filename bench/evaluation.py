"""Evaluation: pick a series' threshold and score its test range; aggregate over series."""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Series
from .metrics import confusion
from .thresholds import ThresholdContext

RANGES = ("train", "val", "test")
#: declared version of the evaluation step (threshold context, per-series evaluation,
#: aggregation): bump it when a change alters any number a cell reports
EVALUATION_VERSION = 2


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
    n_anomalies = int(np.count_nonzero(y_test))
    metrics = {}
    for name, fn in metric_fns.items():
        # a series without a test anomaly has no per-series value for any metric (F1, recall,
        # ROC... are undefined or 0 by convention): NaN, excluded from every mean and counted
        metrics[name] = (float(fn(y_test, s_test if fn.input == "scores" else p_test))
                         if n_anomalies else float("nan"))
    costs = {
        name: {rng: float(model(s.labels[r[rng]], pred[r[rng]])) for rng in RANGES}
        for name, model in cost_models.items()
    }
    return {"series": s.name, "threshold": thr, "metrics": metrics, "costs": costs,
            "confusion": confusion(y_test, p_test), "test_anomalies": n_anomalies}


#: pooled (micro) metrics: computed once from the confusion counts summed over every series
POOLED = ("pooled_precision", "pooled_recall", "pooled_f1")


def pooled(conf: dict[str, int]) -> dict[str, float]:
    """Micro precision, recall and F1 of the test alarms of all series together, from the summed
    confusion counts (a series without a test anomaly still adds its false alarms); in [0, 1],
    higher is better, NaN where undefined (no alarm at all, or no anomaly at all)."""
    tp, fp, fn = conf["tp"], conf["fp"], conf["fn"]
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fn else float("nan")
    return {"pooled_precision": prec, "pooled_recall": rec, "pooled_f1": f1}


def _aggregate(per_series: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate over series.

    ``metrics``: macro mean of each per-series metric over the series where it is defined
    (finite): a series without a test anomaly gives NaN for every metric, so every per-series
    mean covers the same series; then the pooled (micro) ``pooled_precision`` / ``pooled_recall``
    / ``pooled_f1`` over every series' test range.  ``n_series``: how many series each value
    covers.  ``series_without_test_anomaly``: how many series were left out of the per-series
    means for that reason.  ``costs`` and ``confusion``: sums over every series."""
    metrics: dict[str, float] = {}
    n_series: dict[str, int] = {}
    for name in per_series[0]["metrics"]:
        vals = np.array([p["metrics"][name] for p in per_series], dtype=np.float64)
        ok = np.isfinite(vals)
        metrics[name] = float(vals[ok].mean()) if ok.any() else float("nan")
        n_series[name] = int(ok.sum())
    costs = {
        name: {rng: float(sum(p["costs"][name][rng] for p in per_series)) for rng in RANGES}
        for name in per_series[0]["costs"]
    }
    conf = {k: int(sum(p["confusion"][k] for p in per_series)) for k in ("tp", "fp", "fn", "tn")}
    metrics.update(pooled(conf))
    n_series.update({name: len(per_series) for name in POOLED})
    without = sum(1 for p in per_series if not p.get("test_anomalies", 1))
    return {"metrics": metrics, "n_series": n_series, "series_without_test_anomaly": without,
            "costs": costs, "confusion": conf}
