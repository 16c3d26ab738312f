"""Yahoo S5: the loader on S5-shaped folders (the data itself is never committed), the
generator, and the errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench.datasets import yahoo

import bench


def _a1(root: Path, n: int = 3, length: int = 40) -> None:
    folder = root / "A1Benchmark"
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        rows = ["timestamp,value,is_anomaly"]
        rows += [f"{t},{np.sin(t / 3) + i:.4f},{int(t in (25, 35))}" for t in range(1, length + 1)]
        (folder / f"real_{i}.csv").write_text("\n".join(rows) + "\n")


def test_missing_path_says_where_to_get_the_data(monkeypatch):
    monkeypatch.delenv("BENCH_YAHOO_PATH", raising=False)
    with pytest.raises(bench.BenchError) as e:
        yahoo.yahoo()
    msg = str(e.value)
    assert "Webscope" in msg and "S5" in msg and "BENCH_YAHOO_PATH" in msg and "path=" in msg


def test_generated_tree_reads_back_with_published_layout(tmp_path):
    yahoo.write_tree(tmp_path, n_series=2, length=300, seed=5)
    head_a2 = (tmp_path / "A2Benchmark" / "synthetic_1.csv").read_text().splitlines()[0]
    head_a4 = (tmp_path / "A4Benchmark" / "A4Benchmark-TS2.csv").read_text().splitlines()[0]
    assert head_a2 == "timestamp,value,is_anomaly"
    assert head_a4 == ("timestamps,value,anomaly,changepoint,trend,noise,seasonality1,"
                       "seasonality2,seasonality3")
    (tmp_path / "A3Benchmark" / "A3Benchmark_all.csv").write_text("not,a,series\n")
    ds = yahoo.yahoo(path=str(tmp_path / ""), benchmark="A3")
    assert [s.name for s in ds] == ["A3/A3Benchmark-TS1", "A3/A3Benchmark-TS2"]
    with pytest.raises(bench.BenchError, match="no A1Benchmark/"):
        yahoo.yahoo(path=str(tmp_path))  # benchmark=all needs A1 too


def test_a1_layout_env_var_and_natural_file_order(tmp_path, monkeypatch):
    _a1(tmp_path, n=11)
    monkeypatch.setenv("BENCH_YAHOO_PATH", str(tmp_path))
    ds = yahoo.yahoo(benchmark="A1")
    assert [s.name for s in ds][:3] == ["A1/real_1", "A1/real_2", "A1/real_3"]
    assert ds.series[-1].name == "A1/real_11"
    s = ds.series[0]
    assert s.values.shape == (40, 1) and s.labels.sum() == 2
    assert (s.split.train_end, s.split.val_end) == (20, 30)
    assert "redistributed" in ds.license or "not redistributable" in ds.license


def test_a4_change_points_are_optional_labels(tmp_path):
    yahoo.write_tree(tmp_path, n_series=1, length=400, seed=2, benchmarks=("A4",))
    plain = yahoo.yahoo(path=str(tmp_path), benchmark="A4").series[0]
    cps = yahoo.yahoo(path=str(tmp_path), benchmark="A4", changepoints=True).series[0]
    assert cps.labels.sum() > plain.labels.sum()


def test_errors_name_file_and_line(tmp_path):
    _a1(tmp_path, n=1)
    f = tmp_path / "A1Benchmark" / "real_1.csv"
    rows = f.read_text().splitlines()
    rows[5] = "5,abc,0"
    f.write_text("\n".join(rows) + "\n")
    with pytest.raises(bench.BenchError, match=r"real_1.csv line 6: non-numeric value 'abc'"):
        yahoo.yahoo(path=str(tmp_path), benchmark="A1")
    rows[5] = "5,1.0,2"
    f.write_text("\n".join(rows) + "\n")
    with pytest.raises(bench.BenchError, match=r"real_1.csv line 6: label 2 .* not 0 or 1"):
        yahoo.yahoo(path=str(tmp_path), benchmark="A1")
    f.write_text("timestamp,value\n1,2\n")
    with pytest.raises(bench.BenchError, match=r"missing column\(s\) \['is_anomaly'\]"):
        yahoo.yahoo(path=str(tmp_path), benchmark="A1")
    with pytest.raises(bench.BenchError, match="benchmark="):
        yahoo.yahoo(path=str(tmp_path), benchmark="A5")


def test_synthetic_is_seeded_with_labels_in_validation_and_test():
    a = yahoo.yahoo_synthetic(n_series=2, length=600, seed=1)
    b = yahoo.yahoo_synthetic(n_series=2, length=600, seed=1)
    assert len(a) == 6 and a.fingerprint() == b.fingerprint()
    for s in a:
        assert s.part("val")[1].any() and s.part("test")[1].any()


def _a2(root: Path, n: int = 3, length: int = 1421) -> None:
    """A2-shaped files: 1,421 rows each, every anomaly in rows 623-900 (as in S5's A2)."""
    folder = root / "A2Benchmark"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        hits = set(rng.choice(np.arange(623, 901), size=3, replace=False).tolist())
        rows = ["timestamp,value,is_anomaly"]
        rows += [f"{t},{np.sin(t / 4) + i:.4f},{int(t - 1 in hits)}" for t in range(1, length + 1)]
        (folder / f"synthetic_{i}.csv").write_text("\n".join(rows) + "\n")


def test_a2_default_split_leaves_its_anomalies_in_the_test_range(tmp_path):
    """S5's A2 holds every anomaly in rows 623-~900: the 50/75 split left none in test; A2's
    own split (25 / 43 %) puts them all there, while A1 keeps 50 / 75 %."""
    _a2(tmp_path, n=3)
    _a1(tmp_path, n=1, length=40)
    ds = yahoo.yahoo(path=str(tmp_path), benchmark="A2")
    for s in ds:
        r = s.split.ranges(len(s))
        assert s.labels[r["test"]].sum() == s.labels.sum() == 3, s.name
        assert s.split.train_end == 355 and s.split.val_end == 611
    old = yahoo.yahoo(path=str(tmp_path), benchmark="A2", train_end=0.5, val_end=0.75)
    assert all(s.labels[s.split.ranges(len(s))["test"]].sum() == 0 for s in old)
    a1 = yahoo.yahoo(path=str(tmp_path), benchmark="A1").series[0]
    assert (a1.split.train_end, a1.split.val_end) == (20, 30)
