"""Evaluation metrics: small pure functions over numpy arrays, each declaring its direction.

``labels`` and ``pred`` are 0/1 arrays of length T; ``scores`` are floats, higher = more
anomalous.  Every metric is registered through ``bench_register_metrics`` like a plugin's.
The cheap ones are ``default`` (computed in every run); the rest are opt-in with
``bench run --metric NAME``.  Parameters (window, tolerance, profile, ...) have defaults so the
runner can call ``fn(labels, x)``.
"""

from __future__ import annotations

import bench

from ._base import check_pred, check_scores, is_oracle, metric, runs
from .affiliation import affiliation_f1, affiliation_precision, affiliation_recall
from .events import (
    detection_delay,
    event_f1,
    event_precision,
    event_recall,
    point_adjusted_f1,
)
from .nab import nab_score
from .pointwise import accuracy, confusion, f1, precision, recall
from .range_based import range_f1, range_precision, range_recall
from .ranking import pr_auc, roc_auc
from .vus import vus_pr, vus_roc

BUILTIN = [roc_auc, pr_auc, f1, precision, recall, accuracy,
           point_adjusted_f1, range_precision, range_recall, range_f1, vus_roc, vus_pr,
           affiliation_precision, affiliation_recall, affiliation_f1,
           event_precision, event_recall, event_f1, detection_delay, nab_score]

__all__ = ["accuracy", "affiliation_f1", "affiliation_precision", "affiliation_recall",
           "check_pred", "check_scores", "confusion", "is_oracle", "detection_delay", "event_f1",
           "event_precision", "event_recall", "f1", "metric", "nab_score", "point_adjusted_f1",
           "pr_auc", "precision", "range_f1", "range_precision", "range_recall", "recall",
           "roc_auc", "runs", "vus_pr", "vus_roc"]


@bench.hookimpl
def bench_register_metrics(register):
    for fn in BUILTIN:
        register(fn.__name__, fn)
