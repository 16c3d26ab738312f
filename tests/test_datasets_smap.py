"""SMAP / MSL: channels from the tar or a folder, labelled ranges, split, errors."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from bench.datasets import smap

import bench

SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "smap" / "SMAP.tar.gz"


def test_sample_channels_and_their_labels():
    s_ = smap.smap(sample=True)
    m_ = smap.msl(sample=True)
    assert [s.name for s in s_] == ["P-2", "P-4", "T-3", "G-6"]
    assert [s.name for s in m_] == ["C-2", "T-13", "F-4", "P-11"]
    assert s_.title == "smap (sample, 4 of 54 channels)"
    assert {s.n_features for s in s_} == {25} and {s.n_features for s in m_} == {55}
    p4 = s_.series[1]
    n_tr = p4.meta["n_train"]
    assert p4.split.train_end == n_tr and not p4.labels[:n_tr].any()
    for a, b in [(950, 1080), (2150, 2350), (4770, 4880)]:  # labeled_anomalies.csv, inclusive
        assert p4.labels[n_tr + a: n_tr + b + 1].all()
        assert not p4.labels[n_tr + a - 1] and not p4.labels[n_tr + b + 1]
    for s in list(s_) + list(m_):
        assert s.part("test")[1].any()
        assert s.part("val")[1].any() or s.name in ("P-2", "G-6", "F-4")


def test_folder_layout_reads_like_the_tar(tmp_path):
    with tarfile.open(smap.SAMPLE) as t:
        t.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    a = smap.msl(path=str(tmp_path))
    b = smap.msl(sample=True)
    assert a.fingerprint() == b.fingerprint()


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/data/smap not present")
def test_full_sets_from_shared_data():
    s_, m_ = smap.smap(path=str(SHARED)), smap.msl(path=str(SHARED))
    assert len(s_) == 54 and len(m_) == 27  # 55 + 27 label rows; P-2 is listed twice
    p2 = next(s for s in s_ if s.name == "P-2")
    assert p2.meta["anomaly_sequences"] == [[5350, 6575], [5300, 6420]]
    assert all(s.labels[: s.meta["n_train"]].sum() == 0 for s in s_)


def _write(tmp_path: Path, csv: str, arrays: dict[str, np.ndarray]) -> Path:
    root = tmp_path / "SMAP"
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    (root / "labeled_anomalies.csv").write_text(csv)
    for key, a in arrays.items():
        np.save(root / f"{key}.npy", a)
    return root


def test_errors_name_the_file_and_line(tmp_path):
    head = "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
    x = np.zeros((50, 3))
    root = _write(tmp_path, head + 'A-1,SMAP,"[[10, 80]]",[point],50\n',
                  {"train/A-1": x, "test/A-1": x})
    with pytest.raises(bench.BenchError, match=r"line 2: range \[10, 80\] beyond the 50 test rows"):
        smap.smap(path=str(root))
    (root / "labeled_anomalies.csv").write_text(head + 'A-1,SMAP,"[[10, oops]]",[point],50\n')
    with pytest.raises(bench.BenchError, match=r"line 2: anomaly_sequences .* not a list"):
        smap.smap(path=str(root))
    (root / "labeled_anomalies.csv").write_text(head + 'A-2,SMAP,"[[1, 2]]",[point],50\n')
    with pytest.raises(bench.BenchError, match="no train/ and test/ A-2.npy"):
        smap.smap(path=str(root))
    (root / "labeled_anomalies.csv").write_text(head + 'A-1,SMAP,"[[1, 2]]",[point],49\n')
    with pytest.raises(bench.BenchError, match="disagree with num_values=49"):
        smap.smap(path=str(root))
    (root / "labeled_anomalies.csv").write_text("chan_id,ranges\n")
    with pytest.raises(bench.BenchError, match=r"missing column"):
        smap.smap(path=str(root))
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(bench.BenchError, match="not a readable tar archive"):
        smap.smap(path=str(bad))


def test_missing_data_points_at_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    monkeypatch.setattr(smap._util, "SHARED_DATA", tmp_path / "absent")
    with pytest.raises(bench.BenchError, match="bench fetch smap"):
        smap.msl()
