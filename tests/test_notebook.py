"""``bench.run`` from Python: DataFrames (one series, several, long format), bench.Dataset and
bench.Series objects, spec strings, and the errors a notebook user meets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bench.datasets import nab, synthetic

import bench
from bench.plugins import Manager

IFOREST = "iforest:n_estimators=20"  # small forests: these tests check the plumbing


@pytest.fixture(scope="module")
def manager():
    return Manager()


def _nab_frame() -> pd.DataFrame:
    """NAB's speed_7578 (shipped) as a notebook user would hold it: a timestamp column, the
    value, and a label column from NAB's windows."""
    s = nab.nab(sample=True, series="realTraffic/speed_7578").series[0]
    return pd.DataFrame({"timestamp": s.timestamps, "speed": s.values[:, 0],
                         "label": s.labels.astype(int)})


def _cells(record):
    return list(record.cells)


def test_a_dataframe_runs_and_nothing_is_written(tmp_path, monkeypatch, manager):
    monkeypatch.chdir(tmp_path)
    df = _nab_frame()
    record = bench.run(df, IFOREST, manager=manager)
    (cell,) = _cells(record)
    assert cell.status == "ok", cell.error
    assert cell.dataset == "frame" and cell.detector == "iforest" and cell.n_series == 1
    ds = bench.notebook.from_frame(df)
    assert cell.dataset_fingerprint == ds.fingerprint()
    assert ds.series[0].meta["columns"] == ["speed"]
    assert ds.series[0].timestamps.dtype.kind == "M"
    assert list(tmp_path.iterdir()) == []  # out=None by default
    assert "frame" not in manager.registry("dataset")  # the in-memory plugin is gone


def test_named_frames_long_format_and_options(manager):
    rng = np.random.default_rng(1)
    rows = []
    for host in ("web-1", "web-2"):
        x = rng.normal(size=400)
        y = np.zeros(400, dtype=int)
        y[[250, 330]] = 1
        x[[250, 330]] += 8
        rows.append(pd.DataFrame({"host": host, "cpu": x, "y": y}))
    long = pd.concat(rows, ignore_index=True)
    ds = bench.notebook.from_frame(long, "fleet", by="host", label="y", train_len=200)
    assert [s.name for s in ds] == ["web-1", "web-2"]
    assert (ds.series[0].split.train_end, ds.series[0].split.val_end) == (200, 300)
    record = bench.run({"fleet": long}, [IFOREST], by="host", label="y", train_len=200,
                       seeds=[0, 1], manager=manager)
    cells = _cells(record)
    assert [(c.dataset, c.seed, c.status) for c in cells] == [("fleet", 0, "ok"),
                                                              ("fleet", 1, "ok")]
    assert all(c.n_series == 2 for c in cells)


def test_dataset_and_series_objects_and_spec_strings(manager):
    ds = synthetic.synthetic(n_series=1, length=400, seed=3)
    ds.name = "my-cpu"
    one = synthetic.make_series(7, 400, 96, "one-cpu")
    record = bench.run([ds, one, "synthetic:n_series=1,length=400"], IFOREST, manager=manager)
    got = {c.dataset: c for c in _cells(record)}
    assert set(got) == {"my-cpu", "one-cpu", "synthetic"}
    assert all(c.status == "ok" for c in got.values())
    assert got["my-cpu"].dataset_fingerprint == ds.fingerprint()


def test_same_name_different_data_is_not_served_from_the_cache(manager):
    df = _nab_frame().iloc[:600]
    first = _cells(bench.run({"mine": df}, IFOREST, manager=manager))[0]
    df2 = df.assign(speed=df["speed"] * 2 + 1)
    second = _cells(bench.run({"mine": df2}, IFOREST, manager=manager))[0]
    assert first.dataset_fingerprint != second.dataset_fingerprint


def test_errors_a_notebook_user_meets(manager):
    df = _nab_frame()
    with pytest.raises(bench.BenchError, match="no label column.*pass label='COLUMN'"):
        bench.run(df.drop(columns=["label"]), "iforest", manager=manager)
    holes = df.copy()
    holes.loc[17, "speed"] = np.nan
    with pytest.raises(bench.BenchError, match=r"column 'speed' at row 17: 'nan' is not a number"):
        bench.run(holes, "iforest", manager=manager)
    bad = df.copy()
    bad.loc[5, "label"] = 3
    with pytest.raises(bench.BenchError, match="label 3 at row 5 in column 'label'"):
        bench.run(bad, "iforest", manager=manager)
    with pytest.raises(bench.BenchError, match="already a registered dataset"):
        bench.run({"hpc": df}, "iforest", manager=manager)
    with pytest.raises(bench.BenchError, match="executor='inline'.*csv:path="):
        bench.run(df, "iforest", executor="process", manager=manager)
    with pytest.raises(bench.BenchError, match="cannot use a ndarray"):
        bench.run(np.zeros((10, 2)), "iforest", manager=manager)
    with pytest.raises(bench.BenchError, match="unknown detector 'nope'"):
        bench.run(df, "nope", manager=manager)
    assert "frame" not in manager.registry("dataset")


# ----------------------------------------------------------------------------- detectors, arrays


class MyDetector:
    """Distance from the training mean (a user's own class, not registered anywhere)."""

    def __init__(self, *, scale: float = 1.0):
        self.scale = scale

    def fit(self, X, *, seed=0):
        self.mu_ = X.mean(0)
        return self

    def score(self, X):
        return self.scale * np.abs(X - self.mu_).sum(1)


class PlainFitScore:
    """No keyword parameters, no seed: only fit(X) and score(X)."""

    def fit(self, X):
        self.median_ = np.median(X, 0)
        return self

    def score(self, X):
        return np.abs(X - self.median_).sum(1)


def _planted(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = np.zeros(n, dtype=int)
    y[[340, 341, 342, 480, 481, 540]] = 1
    x[y == 1] += 6.0
    return x, y


def test_detector_class_object_and_arrays_give_a_frame(manager):
    x, y = _planted()
    df = pd.DataFrame({"value": x, "label": y})
    record = bench.run(df, [MyDetector, PlainFitScore(), "random"], manager=manager)
    assert [(c.detector, c.status) for c in record.cells] == [
        ("MyDetector", "ok"), ("PlainFitScore", "ok"), ("random", "ok")]
    frame = record.to_frame()
    assert set(frame["metric"]) >= {"vus_pr", "f1", "cost:event", "pooled_f1"}
    mine = frame[(frame.detector == "MyDetector") & (frame.metric == "vus_pr")]
    assert len(mine) == 1 and bool(mine.headline.iloc[0]) and mine.label.iloc[0] == "VUS-PR"
    cell = record.cells[0]
    assert mine.value.iloc[0] == pytest.approx(cell.evaluations[0].metrics["vus_pr"])
    board = record.leaderboard()
    assert list(board.detector)[-1] == "random" and bool(board.chance.iloc[-1])
    assert board.value.iloc[0] >= board.value.iloc[-1]
    assert "<table" in record._repr_html_() and "3 of 3 cells" in record._repr_html_()
    # numpy arrays, and a configured instance (each series fits a copy of it)
    rec2 = bench.run((x, y), MyDetector(scale=2.0), manager=manager)
    (c2,) = rec2.cells
    assert c2.ok and c2.dataset == "arrays" and c2.n_series == 1
    assert c2.evaluations[0].metrics["vus_pr"] == pytest.approx(
        cell.evaluations[0].metrics["vus_pr"])  # scaling the scores changes no ranking
    assert "MyDetector" not in manager.registry("detector")  # registered for the call only


def test_not_a_detector_is_one_clear_error(manager):
    x, y = _planted()
    with pytest.raises(bench.BenchError, match=r"is not a detector: pass a spec string"):
        bench.run((x, y), [object()], manager=manager)
    with pytest.raises(bench.BenchError, match=r"values of shape \(600,\) and labels of shape "
                                               r"\(5,\)"):
        bench.run((x, y[:5]), "random", manager=manager)
