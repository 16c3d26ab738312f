"""Evaluation semantics: what each mean covers, pooled metrics, out-of-sample thresholds, and the
evaluation each dataset declares (recorded in every cell)."""

import math

import numpy as np
import pytest

import bench
from bench import api
from bench.evaluation import pooled

#: Yahoo-S5-shaped series where 5 of 9 have no anomaly in the test range (validation ends at 90 %)
YAHOO = "yahoo-synthetic:n_series=3,length=800,val_end=0.9"


@pytest.fixture(scope="module")
def yahoo_cell():
    cells = api.plan([YAHOO], ["kde:backend=numpy"], thresholds=["best_f1"],
                     metrics=["f1", "precision", "recall", "roc_auc", "vus_pr"])
    rec = api.run(cells, out=None)
    cell = rec["cells"][0]
    assert cell["status"] == "ok", cell.get("error")
    return cell


def test_every_per_series_metric_covers_the_same_series_and_says_how_many(yahoo_cell):
    ev = yahoo_cell["evaluations"][0]
    per = ev["per_series"]
    without = [p for p in per if p["test_anomalies"] == 0]
    assert len(per) == 9 and len(without) == 5
    assert ev["series_without_test_anomaly"] == 5
    for name in ("f1", "precision", "recall", "roc_auc", "vus_pr"):
        assert ev["n_series"][name] == 4, name
        # no metric gives a series without a test anomaly a value (F1 no longer counts it as 0)
        assert all(math.isnan(p["metrics"][name]) for p in without)
        vals = [p["metrics"][name] for p in per if p["test_anomalies"]]
        assert ev["metrics"][name] == pytest.approx(np.mean(vals))
    assert all(ev["n_series"][m] == 9 for m in ("pooled_precision", "pooled_recall", "pooled_f1"))


def test_pooled_metrics_sum_every_series_including_false_alarms_without_anomalies(yahoo_cell):
    ev = yahoo_cell["evaluations"][0]
    conf = {k: sum(p["confusion"][k] for p in ev["per_series"]) for k in ("tp", "fp", "fn")}
    assert conf["tp"] + conf["fn"] > 0
    tp, fp, fn = conf["tp"], conf["fp"], conf["fn"]
    assert ev["metrics"]["pooled_recall"] == pytest.approx(tp / (tp + fn))
    assert ev["metrics"]["pooled_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert math.isnan(pooled({"tp": 0, "fp": 0, "fn": 0, "tn": 9})["pooled_f1"])


def test_time_series_declare_vus_pr_headline_and_run_unsupervised(yahoo_cell):
    assert yahoo_cell["headline"] == "vus_pr"
    assert yahoo_cell["declared"]["thresholded"] == "f1"
    assert yahoo_cell["protocol"]["name"] == "unsupervised"
    # a univariate series: kde ran on causal windows of 32 rows, as the autoencoders
    assert yahoo_cell["harness_window"] == 32


def test_datasets_declare_their_threshold_and_headline_metrics_are_computed():
    from bench.plugins import get_manager
    from bench.runner import load_dataset, planned

    def resolved(cell):  # what the run left open is filled from the loaded Dataset's Evaluation
        return planned(cell, load_dataset(get_manager(), cell.dataset)[0].evaluation)

    hpc = api.plan(["hpc"], ["kde"])[0]
    assert hpc.thresholds == []  # left to the dataset (one source: Dataset.evaluation)
    hpc = resolved(hpc)
    assert [t.name for t in hpc.thresholds] == ["min_cost"]
    syn = resolved(api.plan(["synthetic"], ["kde"])[0])
    assert [t.name for t in syn.thresholds] == ["best_f1"]
    assert "vus_pr" in syn.metrics and "f1" in syn.metrics
    given = api.plan(["synthetic"], ["kde"], thresholds=["percentile:q=95"])[0]
    assert [str(t) for t in given.thresholds] == ["percentile:q=95"]


def test_evaluation_declaration_is_checked():
    with pytest.raises(bench.BenchError, match="protocol 'supervised'"):
        bench.Evaluation(protocol="supervised")
    s = bench.Series(np.zeros(10), np.zeros(10), split=bench.Split(4, 7))
    with pytest.raises(bench.BenchError, match="must be a bench.Evaluation"):
        bench.Dataset("x", [s], evaluation={"headline": "f1"})
    assert bench.Dataset("x", [s]).title == "x"


@pytest.fixture(scope="module")
def hpc_percentile():
    """HPC, KDE bandwidth 0.5, the 99th percentile threshold: one fit, two label-free rules."""
    cells = api.plan(["hpc"], ["kde:bandwidth=0.5"],
                     thresholds=["percentile:q=99", "mean_std:k=3"],
                     costs=["event:c_alarm=1,c_missed=5,tolerance=12"])
    rec = api.run(cells, out=None)
    cell = rec["cells"][0]
    assert cell["status"] == "ok", cell.get("error")
    from bench.plugins import get_manager
    from bench.runner import load_dataset

    ds, _ = load_dataset(get_manager(), cells[0].dataset)
    return cell, ds.series[0]


def test_percentile_takes_its_statistics_from_unlabelled_validation_scores(hpc_percentile):
    cell, s = hpc_percentile
    r = s.split.ranges(len(s))
    ev = cell["evaluations"][0]
    assert ev["threshold"] == "percentile" and ev["chosen_with"] == "validation scores (unlabelled)"
    thr = ev["per_series"][0]["threshold"]
    conf = ev["confusion"]
    # in-sample (training scores) this rule alarmed on 100 % of normal test rows; out of sample
    # it alarms on about 1 % of the validation rows it was computed from and none of the normal
    # test rows (HPC's normal test rows score lower than its normal validation rows)
    normal_test_rate = conf["fp"] / (conf["fp"] + conf["tn"])
    assert normal_test_rate <= 0.02
    assert conf["tp"] > 0
    # HPC ranks by VUS-PR (chance wins its event cost); the course's protocol is unchanged
    assert cell["headline"] == "vus_pr" and cell["protocol"]["name"] == "semi-supervised"
    assert s.labels[r["train"]].sum() == 0 and thr > 0


def test_mean_std_is_out_of_sample_too(hpc_percentile):
    cell, _ = hpc_percentile
    ev = cell["evaluations"][1]
    assert ev["threshold"] == "mean_std" and ev["chosen_with"] == "validation scores (unlabelled)"
    conf = ev["confusion"]
    assert conf["fp"] / (conf["fp"] + conf["tn"]) <= 0.02
