"""Telemetry: the five distances, injected labels and split, keyed probes, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bench.datasets import telemetry as tel
from scipy.stats import energy_distance, wasserstein_distance

import bench

SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "telemetry_histograms" / \
    "example_data"


def test_distances_match_scipy_and_definitions():
    rng = np.random.default_rng(0)
    h = rng.integers(0, 50, size=(6, 9)).astype(float)
    d = np.expm1(tel.distances(h))
    assert d.shape == (5, 5)
    pos = np.arange(9)
    for i in range(5):
        p, q = h[i] / h[i].sum(), h[i + 1] / h[i + 1].sum()
        assert d[i, 0] == pytest.approx(-np.log(np.sqrt(p * q).sum()), rel=1e-9)
        assert d[i, 1] == pytest.approx(wasserstein_distance(pos, pos, p, q), rel=1e-9)
        assert d[i, 2] == pytest.approx(energy_distance(pos, pos, p, q), rel=1e-9)
        assert d[i, 3] == pytest.approx(np.abs(p - q).max())
        assert d[i, 4] == pytest.approx(np.abs(p - q).sum())
    same = tel.distances(np.tile(h[:1], (3, 1)))
    np.testing.assert_allclose(same, 0, atol=1e-12)


@pytest.mark.parametrize("kind", tel.INJECTIONS)
def test_each_injection_changes_the_distribution(kind):
    rng = np.random.default_rng(1)
    h = np.array([5, 40, 300, 120, 30, 4, 0, 0, 1, 0], dtype=float)
    out = tel.inject(h, kind, rng)
    p, q = h / h.sum(), out / out.sum()
    assert np.abs(p - q).sum() > 0.05
    assert (out >= 0).all()


def test_sample_labels_split_and_determinism():
    ds = tel.telemetry(sample=True)
    assert len(ds) == 25 and "injected" in ds.description
    assert ds.title == "telemetry (sample, 25 of 625 probes)"
    for s in ds:
        days = len(s) + 1
        assert s.values.shape == (days - 1, 5)
        assert s.split.train_end == round(2 * days / 3) - 1
        assert not s.part("train")[1].any()
        assert s.part("val")[1].any() and s.part("test")[1].any()
        # each injected day labels the rows on both sides of it
        dates = [str(t)[:10].replace("-", "") for t in s.timestamps]
        for day in s.meta["injected"]:
            i = dates.index(day)  # row i compares day i and day i+1 = this day
            assert s.labels[i] == 1 and (i + 1 == len(s) or s.labels[i + 1] == 1)
    again = tel.telemetry(sample=True)
    other = tel.telemetry(sample=True, seed=1)
    assert ds.fingerprint() == again.fingerprint() != other.fingerprint()


def test_keyed_probe_split_or_aggregated():
    agg = tel.telemetry(sample=True, probes="CONTENT_LARGE_PAINT_PHASE_WEIGHT")
    split = tel.telemetry(sample=True, probes="CONTENT_LARGE_PAINT_PHASE_WEIGHT", keys="split")
    assert len(agg) == 1 and len(split) == 3
    assert {s.name for s in split} == {"CONTENT_LARGE_PAINT_PHASE_WEIGHT[r]",
                                       "CONTENT_LARGE_PAINT_PHASE_WEIGHT[flb]",
                                       "CONTENT_LARGE_PAINT_PHASE_WEIGHT[dl]"}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/telemetry_histograms absent")
def test_full_set_from_shared_data():
    ds = tel.telemetry(path=str(SHARED))
    assert len(ds) + ds.meta["skipped"] == 625
    assert all(s.values.shape[1] == 5 and np.isfinite(s.values).all() for s in ds)


def test_errors_name_the_file(tmp_path):
    folder = tmp_path / "probes"
    shutil.copytree(tel.SAMPLE, folder)
    f = folder / "DNT_USAGE.json"
    d = json.loads(f.read_text())
    d["data"][3]["histogram"][1] = "many"
    f.write_text(json.dumps(d))
    with pytest.raises(bench.BenchError, match=r"DNT_USAGE.json data entry 3 .*numeric histogram"):
        tel.telemetry(path=str(folder))
    f.write_text('{"buckets": [0, 1],\n "data": [}')
    with pytest.raises(bench.BenchError, match=r"DNT_USAGE.json line 2: bad JSON"):
        tel.telemetry(path=str(folder))
    with pytest.raises(bench.BenchError, match="has 200\\+ days"):
        tel.telemetry(sample=True, min_days=200)
    with pytest.raises(bench.BenchError, match="keys="):
        tel.telemetry(sample=True, keys="each")
