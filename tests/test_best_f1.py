"""best_f1 on tied thresholds keeps recall: a perfectly ranked set gets F1 1.0 with ROC-AUC 1.0.

Labels are NAB's own (shipped sample, ``realKnownCause/ambient_temperature_system_failure``:
94 anomalous rows in validation, 632 in test); the scores rank every anomaly above every normal
row, anomalies drawn from [2, 3) and normal rows from [0, 1)."""

from __future__ import annotations

import numpy as np
import pytest
from bench.datasets.nab import nab

from bench.metrics import f1, roc_auc
from bench.thresholds import BestF1, Oracle, ThresholdContext, f1_sweep


@pytest.fixture(scope="module")
def ranked():
    s = nab(sample=True, series="realKnownCause/ambient*").series[0]
    rng = np.random.default_rng(0)
    scores = np.where(s.labels == 1, 2 + rng.random(len(s)), rng.random(len(s)))
    return s, scores, s.split.ranges(len(s))


def test_perfect_ranking_gives_f1_one(ranked):
    s, scores, r = ranked
    val, test = r["val"], r["test"]
    t = BestF1().select(ThresholdContext(scores[r["train"]], scores[val], s.labels[val]))
    y, sc = s.labels[test], scores[test]
    assert roc_auc(y, sc) == 1.0
    # the lowest test anomaly scores below the lowest validation one: the old choice (the top
    # of the tied gap) missed it
    assert sc[y == 1].min() < scores[val][s.labels[val] == 1].min()
    assert f1(y, (sc >= t).astype(np.int8)) == 1.0
    assert scores[val][s.labels[val] == 0].max() < t < scores[val][s.labels[val] == 1].min()


def test_tied_scores_are_all_alarmed_and_validation_f1_is_the_best(ranked):
    s, scores, r = ranked
    val = r["val"]
    y, v = s.labels[val], np.round(scores[val], 1)  # coarse scores: many ties
    t = BestF1().select(ThresholdContext(scores[:0], v, y))
    thr, best = f1_sweep(y, v)
    assert f1(y, (v >= t).astype(np.int8)) == pytest.approx(best.max())
    assert (v >= t).sum() == (v >= v[v >= t].min()).sum()  # a tied score is never split


def test_constant_scores_alarm_everything(ranked):
    s, _, r = ranked
    y = s.labels[r["val"]]
    t = BestF1().select(ThresholdContext(np.zeros(3), np.zeros(y.size), y))
    assert t == 0.0  # every row alarmed: the only candidate with F1 > 0


def test_oracle_uses_the_same_rule_on_test_labels(ranked):
    s, scores, r = ranked
    test = r["test"]
    ctx = ThresholdContext(scores[:0], scores[:0], s.labels[:0],
                           test_scores=scores[test], test_labels=s.labels[test])
    t = Oracle().select(ctx)
    assert f1(s.labels[test], (scores[test] >= t).astype(np.int8)) == 1.0
