"""Evaluation metrics: small pure functions over numpy arrays, each declaring its direction.

``labels`` and ``pred`` are 0/1 arrays of length T; ``scores`` are floats, higher = more
anomalous.  Every metric is registered through ``bench_register_metrics`` like a plugin's.
"""

from __future__ import annotations

import bench

from ._base import check_pred, check_scores, metric
from .pointwise import accuracy, confusion, f1, precision, recall
from .ranking import pr_auc, roc_auc

BUILTIN = [roc_auc, pr_auc, f1, precision, recall, accuracy]

__all__ = ["accuracy", "check_pred", "check_scores", "confusion", "f1", "metric", "pr_auc",
           "precision", "recall", "roc_auc"]


@bench.hookimpl
def bench_register_metrics(register):
    for fn in BUILTIN:
        register(fn.__name__, fn)
