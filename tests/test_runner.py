import json

import numpy as np
import pytest

import bench
from bench import api, records
from bench.leaderboard import render, rows
from bench.plugins import Manager
from bench.runner import Protocol


class Spy:
    """Records what fit() was given, scores by distance from the training mean."""

    seen: list = []

    def __init__(self, *, shift: float = 0.0):
        self.shift = shift

    def fit(self, X, *, X_val=None, seed=0):
        Spy.seen.append({"n_train": len(X), "n_val": None if X_val is None else len(X_val),
                         "seed": seed, "mean": X.mean(0).copy()})
        self.mu_ = X.mean(0)
        return self

    def score(self, X):
        return np.abs(X - self.mu_).sum(1) + self.shift


class RaisesInFit:
    def fit(self, X):
        raise RuntimeError("boom in fit")

    def score(self, X):
        return np.zeros(len(X))


class ReturnsNaN(Spy):
    def score(self, X):
        out = super().score(X)
        out[5] = np.nan
        return out


class WrongLength(Spy):
    def score(self, X):
        return super().score(X)[:-1]


class Plugin:
    @bench.hookimpl
    def bench_register_detectors(self, register):
        register("spy", Spy)
        register("raises", RaisesInFit)
        register("nan", ReturnsNaN)
        register("short", WrongLength)

    @bench.hookimpl
    def bench_register_datasets(self, register):
        register("tiny", tiny)


def tiny(*, n: int = 400, n_series: int = 2):
    out = []
    for i in range(n_series):
        rng = np.random.default_rng(i)
        x = rng.normal(size=(n, 2)).astype("float32")
        y = np.zeros(n, dtype="int8")
        for a in (n // 10, n // 2 + 10, int(n * 0.8)):  # train, validation, test anomalies
            y[a:a + 5] = 1
            x[a:a + 5] += 6
        out.append(bench.Series(x, y, name=f"s{i}", split=bench.Split(n // 2, 3 * n // 4)))
    return bench.Dataset("tiny", out, description="two noisy series", license="CC0")


@pytest.fixture
def manager():
    m = Manager()
    m.register(Plugin(), "test-plugin")
    Spy.seen.clear()
    yield m
    m.unregister("test-plugin")


def test_seed_figure_hpc_kde_event_cost(tmp_path):
    cells = api.plan(["hpc"], ["kde:bandwidth=0.5"],
                     thresholds=["min_cost:grid=linspace:1e4:2e5:200"],
                     costs=["event:c_alarm=1,c_missed=5,tolerance=12"])
    rec = api.run(cells, out=tmp_path)
    ev = rec["cells"][0]["evaluations"][0]
    assert rec["cells"][0]["status"] == "ok"
    assert ev["costs"]["event"] == {"train": 0.0, "val": 263.0, "test": 265.0}
    assert ev["chosen_with"] == "validation labels" and not ev["oracle"]


def test_detector_sees_only_normal_training_rows_and_unlabelled_validation(manager, tmp_path):
    cells = api.plan(["tiny"], ["spy"], seeds=[7], manager=manager,
                     protocol=Protocol("semi-supervised"))
    rec = api.run(cells, out=tmp_path, manager=manager)
    assert rec["cells"][0]["status"] == "ok"
    assert [s["n_train"] for s in Spy.seen] == [195, 195]  # 200 training rows minus 5 anomalous
    assert [s["n_val"] for s in Spy.seen] == [100, 100]
    assert {s["seed"] for s in Spy.seen} == {7}
    # standardised with the statistics of the rows it trains on
    assert np.allclose(Spy.seen[0]["mean"], 0, atol=1e-5)


def test_train_on_all_uses_every_training_row(manager, tmp_path):
    cells = api.plan(["tiny:n_series=1"], ["spy"], protocol=Protocol(train_on="all"),
                     manager=manager)
    api.run(cells, out=None, manager=manager)
    assert Spy.seen[0]["n_train"] == 200


def test_failing_cells_are_recorded_and_the_run_completes(manager, tmp_path):
    cells = api.plan(["tiny"], ["raises", "nan", "short", "spy"], manager=manager)
    rec = api.run(cells, out=tmp_path, manager=manager)
    by = {c["detector"]: c for c in rec["cells"]}
    assert by["raises"]["status"] == "error"
    assert "fit() on series 's0' raised RuntimeError: boom in fit" in by["raises"]["error"]
    assert "1 NaN or infinite values of 400 (first at row 5)" in by["nan"]["error"]
    assert "returned shape (399,) for 400 rows" in by["short"]["error"]
    assert by["spy"]["status"] == "ok"
    saved = json.loads((tmp_path / f"{rec['run_id']}.json").read_text())
    assert len(saved["cells"]) == 4 and saved["status"] == "finished"
    text = render(saved, "github", manager)
    assert "FAILED: detector 'raises' (plugin 'test-plugin'): fit() on series" in text
    assert text.count("| FAILED") == 3  # the status column; the error lines go under the table
    assert text.count("] FAILED: detector") == 3


def test_costs_sum_and_metrics_average_over_series(manager):
    rec = api.run(api.plan(["tiny"], ["spy"], manager=manager), out=None, manager=manager)
    ev = rec["cells"][0]["evaluations"][0]
    per = ev["per_series"]
    assert len(per) == 2
    assert ev["costs"]["event"]["test"] == sum(p["costs"]["event"]["test"] for p in per)
    assert ev["metrics"]["f1"] == pytest.approx(np.mean([p["metrics"]["f1"] for p in per]))
    assert ev["confusion"]["tp"] == sum(p["confusion"]["tp"] for p in per)


def test_oracle_is_flagged_and_kept_out_of_the_main_tables(manager):
    cells = api.plan(["tiny"], ["spy"], thresholds=["best_f1", "oracle"], manager=manager)
    rec = api.run(cells, out=None, manager=manager)
    evs = rec["cells"][0]["evaluations"]
    assert [e["oracle"] for e in evs] == [False, True]
    assert evs[1]["chosen_with"] == "TEST LABELS (ORACLE)"
    text = render(rec, "github", manager)
    assert "ORACLE tiny: threshold 'oracle' chosen on TEST labels" in text
    assert text.index("ORACLE") > text.index("threshold best_f1 (chosen with validation labels)")
    # the overall ranking only uses the main strategy
    assert len([r for r in rows(rec) if not r["oracle"]]) == 1


def test_unknown_names_list_what_is_available(manager):
    with pytest.raises(bench.BenchError, match=r"unknown detector 'nope'; available: .*kde"):
        api.plan(["tiny"], ["nope"], manager=manager)
    with pytest.raises(bench.BenchError, match=r"unknown dataset 'nope'; available: .*hpc"):
        api.plan(["nope"], ["spy"], manager=manager)
    with pytest.raises(bench.BenchError, match=r"unknown threshold 'x'; available: .*best_f1"):
        api.plan(["tiny"], ["spy"], thresholds=["x"], manager=manager)
    with pytest.raises(bench.BenchError, match=r"unknown cost 'x'; available: .*event"):
        api.plan(["tiny"], ["spy"], costs=["x"], manager=manager)


def test_missing_data_file_names_the_path(tmp_path):
    with pytest.raises(bench.BenchError, match=r"dataset 'hpc': .*nope.csv not found; pass"):
        api.run(api.plan(["hpc:path=" + str(tmp_path / "nope.csv")], ["kde"]), out=tmp_path)
    assert not list(tmp_path.glob("*.json"))  # nothing written before the failure


def test_record_is_written_after_each_cell_atomically(manager, tmp_path, monkeypatch):
    monkeypatch.setattr("bench.session.SAVE_EVERY_S", 0.0)  # every cell (default: every 2 s)
    seen = []

    def on_cell(cell, done, total):
        assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
        files = list(tmp_path.glob("*.json"))
        assert len(files) == 1
        seen.append(len(records.load(files[0])["cells"]))

    api.run(api.plan(["tiny"], ["spy", "raises"], seeds=[0, 1], manager=manager),
            out=tmp_path, manager=manager, on_cell=on_cell)
    assert seen == [1, 2, 3, 4]


def test_fast_cells_rewrite_the_record_at_most_once_a_second_and_the_end_has_all(
        manager, tmp_path, monkeypatch):
    """Re-encoding a large record after every cell of a fast grid dominated it; the record is
    written after the first cell, then at most every SAVE_EVERY_S, and always at the end."""
    monkeypatch.setattr("bench.session.SAVE_EVERY_S", 3600.0)
    seen = []

    def on_cell(cell, done, total):
        files = list(tmp_path.glob("*.json"))
        seen.append(len(records.load(files[0])["cells"]))

    rec = api.run(api.plan(["tiny"], ["spy", "raises"], seeds=[0, 1], manager=manager),
                  out=tmp_path, manager=manager, on_cell=on_cell)
    assert seen == [1, 1, 1, 1]
    assert len(records.load(next(tmp_path.glob("*.json")))["cells"]) == 4 == len(rec["cells"])


def test_corrupt_record_is_a_clear_error(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('{"schema": 1, "cells": [')
    with pytest.raises(bench.BenchError, match=r"r.json is corrupt or truncated"):
        records.load(p)


def test_synthetic_dataset_is_seeded_and_labelled():
    from bench.datasets.synthetic import synthetic

    a, b = synthetic(seed=3), synthetic(seed=3)
    assert a.fingerprint() == b.fingerprint() != synthetic(seed=4).fingerprint()
    for s in a:
        r = s.split.ranges(len(s))
        assert s.labels[r["val"]].any() and s.labels[r["test"]].any()
        assert 0 <= s.values.min() and s.values.max() <= 100


def test_baselines_beat_chance_on_synthetic(tmp_path):
    rec = api.run(api.plan(["synthetic"], ["iforest", "kde"]), out=None)
    for c in rec["cells"]:
        assert c["status"] == "ok"
        assert c["evaluations"][0]["metrics"]["roc_auc"] > 0.7, c["detector"]


def test_compute_cost_prices_the_cell_and_is_not_a_per_range_cost(manager):
    cells = api.plan(["tiny"], ["spy"], costs=["event", "compute:cpu_usd_per_hour=3600"],
                     manager=manager)
    rec = api.run(cells, out=None, manager=manager)
    c = rec["cells"][0]
    assert c["status"] == "ok" and set(c["evaluations"][0]["costs"]) == {"event"}
    comp = c["compute"]["compute"]
    assert c["n_points"] == 800
    # at $3600/hour a second costs $1: dollars per million points = score_s / 800 * 1e6
    assert comp["usd_per_million_points"] == pytest.approx(c["score_s"] / 800 * 1e6)
    assert "$/M points (compute)" in render(rec, "github", manager, wide=True)


# ----------------------------------------------------------------------------- one typed path


def test_run_cell_is_short_and_phased():
    import inspect

    from bench import runner

    lines = inspect.getsource(runner.run_cell).splitlines()
    assert len(lines) < 40, len(lines)
    for phase in ("resolve(", "keys(", "fit_or_reuse(", "evaluate_all(", "Outcome.from_call("):
        assert phase in "\n".join(lines)


def test_outcome_maps_an_exception_to_status_error_and_traceback():
    from bench.runner import CellError, Outcome

    def oom():
        try:
            raise MemoryError("no room")
        except MemoryError as exc:
            raise CellError("detector 'x': fit() raised MemoryError") from exc

    got = Outcome.from_call(oom, lambda: "detector")
    assert (got.status, got.error) == ("oom", "detector 'x': fit() raised MemoryError")
    assert "MemoryError: no room" in got.traceback
    got = Outcome.from_call(lambda: 1 / 0, lambda: "evaluate")
    assert (got.status, got.error) == ("error", "evaluate: ZeroDivisionError: division by zero")
    got = Outcome.from_call(lambda: 42)
    assert (got.value, got.status, got.error, got.traceback) == (42, "ok", "", "")


def test_bench_run_exits_3_when_a_cell_failed(tmp_path, capsys, monkeypatch):
    from cli_helpers import run_cli

    factory = Manager().get("detector", "random").factory

    def broken(self, X, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(factory, "fit", broken)
    code, out, err = run_cli(capsys, "run", "-d", "synthetic:n_series=2,length=300", "-m",
                             "random", "--out", str(tmp_path), "-q")
    assert code == 3, err
    assert "1 of 1 cells failed (exit status 3)" in err and "boom" in err
    assert records.load(tmp_path).cells[0].status == "error"


def test_usage_errors_are_one_line_with_status_1(capsys):
    from cli_helpers import run_cli

    code, out, err = run_cli(capsys, "run", "--bogus")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("bench: error: No such option '--bogus'") and "bench run --help" in err
    code, _, err = run_cli(capsys, "compare", "--tolerance")
    assert code == 1 and err.count("\n") == 1 and "--tolerance" in err
