"""Evaluation: pick a series' threshold and score its test range; aggregate over series."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from . import protocols
from .data import Series
from .metrics import confusion
from .thresholds import ThresholdContext

RANGES = ("train", "val", "test")
#: declared version of the evaluation step (threshold context, per-series evaluation,
#: aggregation): bump it when a change alters any number a cell reports
EVALUATION_VERSION = 2


def failed_scores(n: int) -> np.ndarray:
    """The placeholder scores of a series the detector could not fit or score (all NaN, ``[n]``):
    :func:`evaluate` records such a series as failed instead of evaluating it."""
    return np.full(n, np.nan)


def _failed(s: Series, note: str, metric_fns: dict[str, Any],
            cost_models: dict[str, Any]) -> dict[str, Any]:
    """The per-series entry of a series the detector failed on: every metric and cost NaN (as
    a series without a test anomaly, so readers of per-series values need no special case)."""
    return {"series": s.name, "failed": note or "the detector could not fit or score this series "
                                                "(the cell's failed_notes say why)",
            "threshold": float("nan"), "metrics": {name: float("nan") for name in metric_fns},
            "costs": {name: {rng: float("nan") for rng in RANGES} for name in cost_models},
            "confusion": {"tp": 0, "fp": 0, "fn": 0, "tn": 0}, "test_anomalies": 0}


def evaluate(s: Series, scores: np.ndarray, train_mask: np.ndarray, strategy: Any,
             cost_models: dict[str, Any], metric_fns: dict[str, Any],
             protocol: Any = None, note: str = "") -> dict[str, Any]:
    """Pick one series' threshold with ``strategy`` and evaluate the alarms on the rows the
    protocol evaluates (:mod:`bench.protocols`; default ``unsupervised``: bench's split, the
    threshold chosen on the validation range, the test range evaluated).

    A protocol without a validation range (``tsb-ad``) chooses the threshold on the evaluated
    rows' own labels (ORACLE, see :func:`threshold_label`).  A metric the run did not
    parametrise gets the protocol's per-series parameters (``tsb-ad``: the VUS window = the
    series' period), recorded as ``metric_params``.  Scores that are all NaN
    (:func:`failed_scores`) mark a series the detector failed on: it is recorded with
    ``failed`` (the note) and left out of every aggregate."""
    if scores.size and np.isnan(scores).all():
        return _failed(s, note, metric_fns, cost_models)
    profile = protocols.get(protocol) if not isinstance(protocol, protocols.Profile) \
        else protocol
    r = profile.rows(s)
    test = r["test"]
    choose = r["val"] if r["val"] is not None else test
    first_cost = next(iter(cost_models.values()), None)
    ctx = ThresholdContext(
        train_scores=scores[train_mask],
        val_scores=scores[choose],
        val_labels=s.labels[choose],
        cost=first_cost,
        series=s.name,
    )
    if getattr(strategy, "needs_test_labels", False):
        ctx.test_scores, ctx.test_labels = scores[test], s.labels[test]
    thr = float(strategy.select(ctx))
    pred = (scores >= thr).astype(np.int8)
    y_test, p_test, s_test = s.labels[test], pred[test], scores[test]
    n_anomalies = int(np.count_nonzero(y_test))
    metrics, used = {}, {}
    for name, fn in metric_fns.items():
        # a series without a test anomaly has no per-series value for any metric (F1, recall,
        # ROC... are undefined or 0 by convention): NaN, excluded from every mean and counted
        params = profile.params_for(s, name)
        if params:
            used[name] = params
        metrics[name] = (float(fn(y_test, s_test if fn.input == "scores" else p_test, **params))
                         if n_anomalies else float("nan"))
    costs = {
        name: {rng: (float(model(s.labels[r[rng]], pred[r[rng]])) if r.get(rng) is not None
                     else float("nan")) for rng in RANGES}
        for name, model in cost_models.items()
    }
    out = {"series": s.name, "threshold": thr, "metrics": metrics, "costs": costs,
           "confusion": confusion(y_test, p_test), "test_anomalies": n_anomalies}
    if used:
        out["metric_params"] = used
    if ctx.fallback:  # a label-chosen threshold without a validation anomaly says so
        out["fallback"] = ctx.fallback
    return out


def threshold_label(strategy: Any, protocol: Any = None) -> dict[str, Any]:
    """``{"chosen_with": ..., "oracle": bool}`` of a threshold strategy under a protocol.

    An oracle strategy (it reads the test labels) makes the whole evaluation ORACLE.  Under a
    protocol without a validation range (``tsb-ad``) a label-using strategy chooses on the
    evaluated rows' own labels: its thresholded values (F1, costs...) are ORACLE, which
    ``chosen_with`` says first and ``threshold_oracle: true`` flags, while the threshold-free
    headline (VUS-PR) is a result like any other, so the evaluation itself is not ``oracle``."""
    profile = protocols.get(protocol) if not isinstance(protocol, protocols.Profile) \
        else protocol
    oracle = bool(getattr(strategy, "needs_test_labels", False))
    uses = str(getattr(strategy, "uses", ""))
    if profile.oracle_thresholds and not oracle and re.search(r"\blabels\b", uses):
        return {"chosen_with": f"{profile.threshold_note}; thresholded metrics are an upper "
                               f"bound ({uses} read on the evaluated rows)",
                "oracle": False, "threshold_oracle": True}
    return {"chosen_with": uses, "oracle": oracle}


def dataset_metrics(protocol: Any, ds: Any, scores: dict[str, np.ndarray],
                    cell: Any = None) -> dict[str, Any]:
    """The protocol's corpus-level values of a cell (``{"dataset_metrics": {...},
    "dataset_metrics_note": ...}``), or ``{}`` when it defines none; series the detector failed
    on (:func:`failed_scores`) are left out of ``scores``."""
    profile = protocols.get(protocol) if not isinstance(protocol, protocols.Profile) \
        else protocol
    if profile.dataset_metrics is None:
        return {}
    ok = {k: v for k, v in scores.items() if not (v.size and np.isnan(v).all())}
    values = profile.dataset_metrics(ds, ok, cell)
    return {"dataset_metrics": {k: float(v) for k, v in values.items()},
            "dataset_metrics_note": profile.dataset_metrics_note}


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
    means for that reason.  ``costs`` and ``confusion``: sums over every series.
    ``failed_series``: how many series the detector failed on (recorded with ``failed``, left
    out of everything else); present only when some did."""
    failed = sum(1 for p in per_series if p.get("failed"))
    all_series, per_series = per_series, [p for p in per_series if not p.get("failed")]
    if not per_series:
        raise ValueError("every series failed; the cell has nothing to aggregate")
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
    out = {"metrics": metrics, "n_series": n_series, "series_without_test_anomaly": without,
           "costs": costs, "confusion": conf}
    if failed:
        out["failed_series"] = failed
        out["failed_notes"] = [f"{p['series']}: {p['failed']}" for p in all_series
                               if p.get("failed")][:20]
    return out
