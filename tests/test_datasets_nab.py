"""NAB: label windows, the probation split, the shipped sample, the full set, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bench.datasets import nab

import bench

SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "nab"


def test_sample_series_are_labelled_in_validation_and_test():
    ds = nab.nab(sample=True)
    assert len(ds) == 4 and ds.license.startswith("MIT")
    for s in ds:
        assert s.n_features == 1
        assert s.split.train_end == round(0.15 * len(s))
        assert s.part("val")[1].any() and s.part("test")[1].any()
        assert s.timestamps is not None and len(s.meta["windows"]) >= 1


def test_windows_label_exactly_the_steps_inside_them():
    s = nab.nab(sample=True, series="realTraffic/speed_7578").series[0]
    windows = json.loads((nab.SAMPLE / nab.WINDOWS).read_text())["realTraffic/speed_7578.csv"]
    ts = s.timestamps
    expect = np.zeros(len(s), dtype=bool)
    for a, b in windows:
        expect |= (ts >= np.datetime64(a.replace(" ", "T"))) & \
                  (ts <= np.datetime64(b.replace(" ", "T")))
    np.testing.assert_array_equal(s.labels.astype(bool), expect)
    assert s.labels.sum() == 116


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/nab not present")
def test_full_set_from_shared_data():
    ds = nab.nab(path=str(SHARED))
    assert len(ds) == 58
    assert sum(len(s) for s in ds) == 365_558
    windows = json.loads((SHARED / "labels" / "combined_windows.json").read_text())
    assert sum(len(s.meta["windows"]) for s in ds) == sum(map(len, windows.values())) == 116
    both = sum(bool(s.part("val")[1].any() and s.part("test")[1].any()) for s in ds)
    assert both == 30  # the figure the docstring gives for the 15-50 % validation range


def _copy_sample(tmp_path: Path) -> Path:
    root = tmp_path / "nab"
    shutil.copytree(nab.SAMPLE, root)
    return root


def test_errors_name_file_and_line(tmp_path):
    root = _copy_sample(tmp_path)
    f = root / "data" / "realTraffic" / "speed_7578.csv"
    lines = f.read_text().splitlines()
    lines[10] = lines[10].split(",")[0] + ",fast"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(bench.BenchError, match=r"speed_7578.csv line 11: non-numeric value 'fast'"):
        nab.nab(path=str(root))
    f.write_text("time,value\n2015-01-01 00:00:00,1\n")
    with pytest.raises(bench.BenchError, match=r"missing column\(s\) \['timestamp'\]"):
        nab.nab(path=str(root))
    f.unlink()
    (root / "data" / "realTraffic" / "extra.csv").write_text("timestamp,value\n")
    with pytest.raises(bench.BenchError, match="no entry in .*combined_windows.json"):
        nab.nab(path=str(root))


def test_missing_data_points_at_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    monkeypatch.setattr(nab._util, "SHARED_DATA", tmp_path / "absent")
    with pytest.raises(bench.BenchError, match="bench fetch nab"):
        nab.nab()
    with pytest.raises(bench.BenchError, match="not found"):
        nab.nab(path=str(tmp_path / "nope"))
    with pytest.raises(bench.BenchError, match="matches series="):
        nab.nab(sample=True, series="nothing*")
