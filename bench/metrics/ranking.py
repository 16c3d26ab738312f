"""Threshold-free metrics over scores (higher score = more anomalous)."""

from __future__ import annotations

import numpy as np

from ._base import check_scores, metric
from .chance import anomaly_rate, half


@metric(higher_is_better=True, input="scores", default=True, label="ROC-AUC", chance=half)
def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``): the probability that a random
    anomalous step scores higher than a random normal one, ties counting one half.  0.5 = chance,
    1 = perfect.  Higher is better.  NaN when the labels hold a single class."""
    y, s = check_scores(labels, scores)
    if y.all() or not y.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score  # imported on use: keeps `bench --help` fast

    return float(roc_auc_score(y, s))


@metric(higher_is_better=True, input="scores", default=True, label="PR-AUC",
        chance=anomaly_rate)
def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (scikit-learn's ``average_precision_score``): the mean of the precision at
    each anomalous step's score, i.e. the step-wise area under the precision-recall curve.  Chance
    level is the anomaly rate.  Higher is better.  NaN when no step is anomalous."""
    y, s = check_scores(labels, scores)
    if not y.any():
        return float("nan")
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s))
