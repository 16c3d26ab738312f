import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import bench
from bench import api, records, store
from bench.plugins import Manager


def _grid():
    return api.plan(["synthetic:n_series=2,length=1000"], ["iforest", "kde"], seeds=[0, 1])


def _metrics(rec):
    return {(c["detector"], c["seed"]): c["evaluations"][0]["metrics"] for c in rec["cells"]}


def test_rerun_reuses_stored_scores_and_gives_identical_numbers(tmp_path):
    first = api.run(_grid(), out=tmp_path)
    assert not any(c["reused"] for c in first["cells"])
    assert len(list((tmp_path / "scores").glob("*.npz"))) == 4
    again = api.run(_grid(), out=tmp_path)
    assert all(c["reused"] for c in again["cells"])
    assert _metrics(again) == _metrics(first)
    assert [c["fit_s"] for c in again["cells"]] == [c["fit_s"] for c in first["cells"]]


def test_new_threshold_rescores_without_refitting(tmp_path):
    api.run(_grid(), out=tmp_path)
    rec = api.run(api.plan(["synthetic:n_series=2,length=1000"], ["iforest", "kde"],
                           seeds=[0, 1], thresholds=["best_f1", "percentile:q=95"]), out=tmp_path)
    assert all(c["reused"] for c in rec["cells"])
    assert [e["threshold"] for e in rec["cells"][0]["evaluations"]] == ["best_f1", "percentile"]


def test_changed_parameters_refit_and_force_refits(tmp_path):
    api.run(_grid(), out=tmp_path)
    rec = api.run(api.plan(["synthetic:n_series=2,length=1000"], ["kde:bandwidth=0.3"]),
                  out=tmp_path)
    assert rec["cells"][0]["reused"] is False
    rec = api.run(_grid(), out=tmp_path, reuse=False)
    assert not any(c["reused"] for c in rec["cells"])


def test_corrupt_score_file_is_recomputed(tmp_path):
    first = api.run(_grid(), out=tmp_path)
    victim = tmp_path / "scores" / f"{first['cells'][0]['fit_key']}.npz"
    victim.write_bytes(victim.read_bytes()[:100])
    rec = api.run(_grid(), out=tmp_path)
    assert rec["cells"][0]["reused"] is False and rec["cells"][1]["reused"] is True
    assert _metrics(rec) == _metrics(first)


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_loses_no_finished_cell(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "bench.cli", "run", "-d", "synthetic:n_series=3,length=6000",
           "-m", "kde", "-m", "iforest", *[a for s in range(6) for a in ("--seed", str(s))],
           "--no-chance", "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 120
    done_before = 0
    while time.time() < deadline and proc.poll() is None:
        files = list(out.glob("*.json"))
        if files:
            try:
                done_before = len(json.loads(files[0].read_text())["cells"])
            except json.JSONDecodeError:
                pytest.fail("the record was observed half-written")
            if done_before >= 2:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = records.load(next(out.glob("*.json")))
    assert killed["status"] == "running" and len(killed["cells"]) >= 2
    assert all(c["status"] == "ok" for c in killed["cells"])
    stored = len(list((out / "scores").glob("*.npz")))
    assert stored >= len(killed["cells"])
    # resume: same command, completes; every finished cell's scores are reused
    res = subprocess.run(cmd[:-1] + ["--format", "json"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("reused stored scores") == stored
    rec = records.load(sorted(out.glob("*.json"), key=lambda p: p.stat().st_mtime)[-1])
    assert rec["status"] == "finished" and len(rec["cells"]) == 12
    assert sum(c["reused"] for c in rec["cells"]) == stored
    # and the numbers equal an uninterrupted run's
    clean = api.run(api.plan(["synthetic:n_series=3,length=6000"], ["kde", "iforest"],
                             seeds=list(range(6))), out=tmp_path / "clean")
    key = lambda r: {(c["detector"], c["seed"]): c["evaluations"][0]["costs"]  # noqa: E731
                     for c in r["cells"]}
    assert key(rec) == key(clean)


def test_schema_1_record_is_upgraded(tmp_path):
    api.run(api.plan(["synthetic:n_series=1,length=600"], ["kde"]), out=tmp_path)
    raw = json.loads(next(tmp_path.glob("*.json")).read_text())
    raw["schema"] = 1
    del raw["n_cells"]
    for c in raw["cells"]:
        del c["fit_key"], c["key_parts"]["metric_code"], c["dataset_given"]
    p = tmp_path / "old.json"
    p.write_text(json.dumps(raw))
    up = records.load(p)
    assert up["schema"] == records.SCHEMA_VERSION
    assert up["cells"][0]["key_parts"]["metric_code"] == "unknown (schema 1)"
    assert up.n_cells == 1 and up.complete


def test_newer_schema_is_refused_with_the_path(tmp_path):
    p = tmp_path / "future.json"
    p.write_text(json.dumps({"schema": 99, "cells": []}))
    with pytest.raises(bench.BenchError, match=r"future.json: schema 99 is newer than this bench"):
        records.load(p)


def test_truncated_record_skipped_in_load_many(tmp_path):
    good = api.run(api.plan(["synthetic:n_series=1,length=600"], ["kde"]), out=tmp_path)
    bad = tmp_path / "zzz.json"
    bad.write_text(next(tmp_path.glob("*.json")).read_text()[:200])
    warnings = []
    recs = records.load_many(records.find(tmp_path), warn=warnings.append)
    assert len(recs) == 1 and "zzz.json is corrupt or truncated" in warnings[0]
    assert recs[0].run_id == good.run_id


def test_store_roundtrip(tmp_path):
    s = {"a": np.arange(5.0), "b b": np.ones(3)}
    store.save(tmp_path, "k", store.Stored(s, {"a": np.ones((5, 2))}, {"fit_s": 1.5}))
    got, why = store.load(tmp_path, "k", {"a": 5, "b b": 3})
    assert why == "" and np.array_equal(got.scores["a"], s["a"]) and got.info == {"fit_s": 1.5}
    assert got.explain["a"].shape == (5, 2)
    assert store.load(tmp_path, "missing", {"a": 5}) == (None, "")


def test_metric_code_version_in_key_and_not_in_fit_key(tmp_path):
    m = Manager()
    rec = api.run(api.plan(["synthetic:n_series=1,length=600"], ["kde"], manager=m),
                  out=tmp_path, manager=m)
    c = rec["cells"][0]
    assert c.key_parts["metric_code"] == store.evaluation_key(c.key_parts["evaluation"])
    assert c.key_parts["evaluation"]["metric:roc_auc"] == 1
    assert {"bench", "harness_fit", "detector", "detector_code", "dataset", "seed", "protocol",
            "evaluation", "metric_code"} <= set(c.key_parts)
    assert c.key != c.fit_key


def test_ctrl_c_keeps_finished_cells_and_marks_the_rest_interrupted(tmp_path):
    class StopAfterTwo:
        def __init__(self, manager=None, **_):
            self.manager = manager

        def map(self, run_one, cells, emit=None):
            for i, cell in enumerate(cells):
                if i == 2:
                    raise KeyboardInterrupt
                yield run_one(cell, self.manager)

        def cancel(self):
            return []  # nothing is in flight between two cells

        def close(self):
            pass

    class Plugin:
        @bench.hookimpl
        def bench_register_executors(self, register):
            register("stop-after-two", StopAfterTwo)

    m = Manager()
    m.register(Plugin(), "stopper")
    cells = api.plan(["synthetic:n_series=1,length=600"], ["kde", "iforest"], seeds=[0, 1],
                     manager=m)
    with pytest.raises(KeyboardInterrupt):
        api.run(cells, out=tmp_path, executor="stop-after-two", manager=m)
    rec = records.load(next(tmp_path.glob("*.json")))
    assert rec["status"] == "interrupted"
    assert [c["status"] for c in rec["cells"]] == ["ok", "ok", "interrupted", "interrupted"]
    assert "rerun the same command to resume" in rec["cells"][2]["error"]


def test_records_are_ordinary_readable_files(tmp_path):
    p = tmp_path / "r.json"
    records.write_atomic(p, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask


# ----------------------------------------------------------------------------- schema 4


BASELINE = __import__("pathlib").Path(__file__).resolve().parents[1] / "results" / "baseline"


#: the regression baseline as committed at f83ff4c (schema 3, 49 cells), kept as a fixture after
#: results/baseline/ was re-recorded in schema 4
SCHEMA_3_BASELINE = BASELINE.parents[1] / "tests" / "data" / "baseline_schema3.json.gz"


def test_committed_schema_3_baseline_loads_with_each_cells_own_plan(tmp_path):
    import gzip

    path = tmp_path / "baseline.json"
    path.write_bytes(gzip.decompress(SCHEMA_3_BASELINE.read_bytes()))
    assert __import__("json").loads(path.read_text())["schema"] == 3
    rec = records.load(path)
    assert rec.schema == records.SCHEMA_VERSION == 4
    plans = {c.dataset: c.plan for c in rec.cells}
    # the run-level grid said one threshold; each cell knows the one it used
    assert rec.grid["thresholds"] == ["best_f1"]
    assert plans["hpc"].thresholds == ["min_cost"] and plans["synthetic"].thresholds == [
        "best_f1"]
    assert "vus_pr" in plans["synthetic"].metrics and "vus_pr" not in rec.grid["metrics"]
    assert plans["hpc"].costs == ["event:c_alarm=1,c_missed=5,tolerance=12"]
    assert {c.headline for c in rec.cells} >= {"vus_pr", "pr_auc"}
    assert all(c.plan.protocol == c.protocol for c in rec.cells)
    # the metadata schema 3 did not store is taken once from the installed plugins
    assert rec.extra["meta_source"].startswith("installed plugins")
    assert rec.meta["metric"]["roc_auc"]["range"] == [0.0, 1.0]
    assert rec.meta["cost"]["event"]["higher_is_better"] is False
    assert rec.meta["detector"]["random"]["chance"] is True
    # old keys still read: leaderboards and scripts written against schema 3
    cell = rec.cells[0]
    assert cell["declared"] == cell.plan.evaluation and cell.get("headline") == cell.headline
    assert cell.evaluations[0]["metrics"] is cell.evaluations[0].metrics


def test_schema_4_roundtrip_keeps_plan_meta_and_typed_evaluations(tmp_path):
    rec = api.run(api.plan(["synthetic:n_series=2,length=600", "hpc"], ["random"]),
                  out=tmp_path)
    back = records.load(tmp_path)
    assert back.to_json() == json.loads(json.dumps(records._nan_to_null(rec.to_json())))
    hpc = next(c for c in back.cells if c.dataset == "hpc")
    assert hpc.plan.thresholds == ["min_cost"] and hpc.plan.evaluation["threshold"] == "min_cost"
    assert isinstance(hpc.evaluations[0], records.EvaluationResult)
    assert isinstance(hpc.evaluations[0].per_series[0], records.SeriesEvaluation)
    assert set(back.meta["metric"]) >= set(hpc.plan.metrics)
    assert back.meta["threshold"]["min_cost"]["uses"] == "validation labels"
    raw = json.loads(records.find(tmp_path)[-1].read_text())
    assert raw["schema"] == 4 and "plan" in raw["cells"][0] and "used" not in raw["cells"][0]
    assert not any(k in raw["cells"][0] for k in ("declared", "headline", "dataset_title"))


def test_a_record_describes_its_metrics_when_their_plugin_is_gone(tmp_path):
    """Compare reads a metric's direction from the record: a lower-is-better plugin metric is
    judged correctly by a process that does not have the plugin."""
    from bench.compare import compare
    from bench.metrics import metric
    from bench.recordmeta import higher_is_better, meta_of

    class Plugin:
        @bench.hookimpl
        def bench_register_metrics(self, register):
            @metric(higher_is_better=False, input="pred", label="alarms",
                    range=(0.0, float("inf")))
            def alarm_rate(labels, pred):
                return float(np.mean(pred))

            register("alarm_rate", alarm_rate)

    m = Manager()
    m.register(Plugin(), "alarm-plugin")
    base = api.run(api.plan(["synthetic:n_series=2,length=600"], ["random"],
                            metrics=["alarm_rate", "f1"], manager=m), out=tmp_path, manager=m)
    rec = records.load(tmp_path)  # read back: no registry involved
    assert higher_is_better(rec, "alarm_rate") is False
    assert meta_of(rec, "metric", "alarm_rate")["label"] == "alarms"
    head = records.load(tmp_path)
    for ev in head.cells[0].evaluations:
        ev.metrics["alarm_rate"] -= 0.2  # fewer alarms: better for this metric
    assert "alarm_rate" not in Manager().registry("metric")
    ch = {c.metric: c.status for c in compare(base, head).changes}
    assert ch["alarm_rate"] == "improved"


def test_dataset_declaring_its_evaluation_one_way_fails_conformance():
    import bench.testing as bt
    from bench.data import Evaluation

    def data(*, n: int = 200):
        return bt.tiny_dataset(n=n, name="two-ways")

    declared = Evaluation(headline="pr_auc", threshold="percentile")
    subject = bt.Subject("dataset", "two-ways", data, plugin="p",
                         meta={"evaluation": declared})
    with pytest.raises(bt.ConformanceError) as exc:
        bt.check_evaluation_declared_once(subject)
    text = str(exc.value)
    assert "headline: Dataset 'vus_pr' vs registration 'pr_auc'" in text
    assert "threshold: Dataset 'best_f1' vs registration 'percentile'" in text
    bt.check_evaluation_declared_once(bt.Subject("dataset", "two-ways", data, meta={}))
    # the built-in datasets declare it once (both places, the same object)
    for s in bt.registered(kinds=("dataset",)):
        if s.name in ("hpc", "synthetic"):
            bt.check_evaluation_declared_once(s)


def test_the_run_plans_from_the_dataset_not_the_registration(tmp_path):
    """A third-party dataset that sets its Evaluation only on the Dataset (as hookspecs shows)
    gets its headline and threshold: cells resolve them from the loaded Dataset."""
    import bench.testing as bt
    from bench.data import Dataset, Evaluation

    def only_on_dataset(*, n: int = 400):
        ds = bt.tiny_dataset(n=n, name="mine")
        return Dataset("mine", ds.series, "tiny", "CC0", "time-series", "tests",
                       evaluation=Evaluation(headline="pr_auc", threshold="percentile"))

    class Plugin:
        @bench.hookimpl
        def bench_register_datasets(self, register):
            register("mine", only_on_dataset)

    m = Manager()
    m.register(Plugin(), "mine-plugin")
    rec = api.run(api.plan(["mine"], ["random"], manager=m), out=None, manager=m)
    (cell,) = rec.cells
    assert cell.ok, cell.error
    assert cell.headline == "pr_auc" and cell.plan.thresholds == ["percentile"]
    assert [ev.threshold for ev in cell.evaluations] == ["percentile"]
    assert "pr_auc" in cell.evaluations[0].metrics
