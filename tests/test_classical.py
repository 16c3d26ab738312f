"""TSB-AD's classical detectors (bench.detectors.tsb_neighbours / tsb_signal): their published
VUS-PR on TSB-AD's own sample file, the matrix profile against brute force, the period rank,
bad parameters, and (slow) the reproduction on the TSB-AD NAB files of bench's tsb-ad dataset."""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.errors import BenchError
from bench.metrics import vus_pr
from bench.params import bind
from bench.period import dominant_period
from bench.plugins import Manager

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = DATA / "tsb_ad" / "TSB-AD-U" / "001_NAB_id_1_Facility_tr_1007_1st_2014.csv"
TABLE = DATA / "tsb_ad" / "uni_mergedTable_VUS-PR.csv"
MANAGER = Manager(blocked=(), only=())

needs_sample = pytest.mark.skipif(not (SAMPLE.is_file() and TABLE.is_file()),
                                  reason="TSB-AD's sample file and table are not in ../shared/data")


def _detector(name, **params):
    return MANAGER.get("detector", name).factory(**params)


def _vus(name, values, labels, **params):
    X = values[:, None]
    det = _detector(name, **params)
    det = det.fit(X) or det
    return vus_pr(labels, det.score(X), window=dominant_period(values))


#: column -> (bench detector, bench's VUS-PR on 001_NAB_id_1 = the published value to 1e-5)
PINNED = {"LOF": ("lof", 0.13874), "POLY": ("poly", 0.26118),
          "MatrixProfile": ("matrix_profile", 0.09397), "Sub-PCA": ("sub_pca", 0.18035),
          "Sub-HBOS": ("sub_hbos", 0.08609), "SR": ("sr", 0.13477),
          "Sub-KNN": ("sub_knn", 0.13548), "Sub-LOF": ("sub_lof", 0.14032)}


@needs_sample
@pytest.mark.parametrize("column", [
    pytest.param(c, marks=pytest.mark.slow) if c in ("LOF", "Sub-KNN", "Sub-LOF") else c
    for c in sorted(PINNED)])  # the neighbour searches take ~1 s each: CI's slow line
def test_published_vus_pr_on_tsb_ad_sample(column):
    """TSB-AD's own file (Data, Label columns), fitted and scored whole: the published value
    within 1e-4 (every one of these is deterministic and equals the published value)."""
    df = pd.read_csv(SAMPLE)
    published = pd.read_csv(TABLE).set_index("file").loc[SAMPLE.name, column]
    name, ours = PINNED[column]
    got = _vus(name, df["Data"].to_numpy(np.float64), df["Label"].to_numpy(np.int8))
    assert got == pytest.approx(ours, abs=1e-4)
    assert got == pytest.approx(published, abs=1e-4)


def _brute_profile(x, m):
    W = np.lib.stride_tricks.sliding_window_view(x, m)
    Z = (W - W.mean(1, keepdims=True)) / W.std(1, keepdims=True)
    D = np.sqrt(np.maximum(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1), 0))
    i = np.arange(len(W))
    D[np.abs(i[:, None] - i[None, :]) <= math.ceil(m / 4)] = np.inf
    return D.min(1)


@pytest.mark.parametrize("m", [6, 7, 25])
def test_matrix_profile_equals_brute_force(m):
    from bench.detectors.tsb_signal import matrix_profile

    x = np.cumsum(np.random.default_rng(m).normal(size=500))
    np.testing.assert_allclose(matrix_profile(x, m, block=32), _brute_profile(x, m), atol=1e-8)


def test_matrix_profile_threads_give_the_same_profile():
    """The blocks of diagonals split over threads: each keeps its own best correlations and their
    maximum is exact, so 1, 2 and 3 threads give the same bits (constant stretches included)."""
    from bench.detectors.tsb_signal import matrix_profile

    x = np.cumsum(np.random.default_rng(5).normal(size=1500))
    x[300:340] = 1.5
    one = matrix_profile(x, 20, block=16, workers=1)
    for workers in (2, 3):
        assert np.array_equal(matrix_profile(x, 20, block=16, workers=workers), one)
    assert np.all(one[300:321] == 0.0) and np.all(np.isfinite(one)) and one.max() > 0


def test_matrix_profile_constant_stretches_follow_stumpys_rule():
    from bench.detectors.tsb_signal import matrix_profile

    x = np.cumsum(np.random.default_rng(0).normal(size=400))
    x[50:80] = 2.0  # constant subsequences: 0 to another constant one
    prof = matrix_profile(x, 8)
    assert np.all(prof[50:73] == 0.0)
    assert np.all(np.isfinite(prof)) and prof.max() <= 2 * math.sqrt(8) + 1e-9


def test_period_rank_one_is_dominant_period_and_rank_two_a_later_peak():
    from bench.detectors.tsb_common import period_rank

    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 100) \
        + 0.1 * np.random.default_rng(1).normal(size=t.size)
    assert period_rank(x, 1) == dominant_period(x)
    assert period_rank(x, 2) > period_rank(x, 1)
    assert period_rank(np.random.default_rng(2).normal(size=2000), 1) == dominant_period(
        np.random.default_rng(2).normal(size=2000))
    with pytest.raises(BenchError, match="periodicity must be 1, 2 or 3"):
        period_rank(x, 4)


@pytest.mark.parametrize("name, given, match", [
    ("poly", {"power": "x"}, "parameter 'power' expects int"),
    ("sub_knn", {"method": "mode"}, "parameter 'method'"),
    ("sub_lof", {"neighbours": "3"}, "has no parameter 'neighbours'"),
])
def test_bad_parameter_is_one_line(name, given, match):
    entry = MANAGER.get("detector", name)
    with pytest.raises(BenchError, match=match) as err:
        bind("detector", name, entry.factory, given)
    assert "\n" not in str(err.value)


def test_window_longer_than_the_series_is_one_line():
    with pytest.raises(BenchError, match="shorter than the window"):
        _detector("poly", window=50).fit(np.zeros((20, 1)))
    with pytest.raises(BenchError, match="window must be >= 0"):
        _detector("sub_pca", window=-1).fit(np.zeros((20, 1)))


def test_in_sample_and_new_rows_scores():
    """Scoring the training array returns the fit's in-sample scores (TSB-AD's numbers); other
    rows get out-of-sample scores, and a planted spike in them ranks first."""
    t = np.arange(1200)
    x = np.sin(2 * np.pi * t / 30) + 0.05 * np.random.default_rng(3).normal(size=t.size)
    new = x.copy()
    new[600:604] += 3.0
    for name in ("sub_lof", "sub_knn", "sub_hbos", "sub_pca", "lof", "kmeans_ad"):
        det = _detector(name).fit(x[:, None])
        same, other = det.score(x[:, None]), det.score(new[:, None])
        assert same.shape == other.shape == (1200,)
        assert 590 <= int(np.argmax(other)) <= 615, name


def test_detectors_are_listed_as_classical_and_marked():
    for name in ("poly", "sub_pca", "matrix_profile", "sr", "kmeans_ad", "sub_knn",
                 "sub_hbos", "sub_lof", "lof"):
        entry = MANAGER.get("detector", name)
        assert entry.meta["group"] == "classical" and entry.meta["default_run"] is False
        assert entry.meta["looks_ahead"] is (name != "lof")


@pytest.mark.slow
def test_ten_thousand_rows_in_a_few_seconds():
    """Each detector on one 10,000-row series (period 48): the CPU seconds of its fit + score
    (all threads) stay under 2.5 s; measured at most 0.75 s (Sub-KNN, one thread) on the
    shared 2-core machine (benchmarks/bench_classical.py).  CPU time, not wall time: a busy CI
    runner stretches the wall clock, not the work."""
    t = np.arange(10_000)
    x = (np.sin(2 * np.pi * t / 48) + 0.1 * np.random.default_rng(0).normal(size=t.size))[:, None]
    for name in ("poly", "sub_pca", "matrix_profile", "sr", "kmeans_ad", "sub_hbos", "lof",
                 "sub_knn", "sub_lof"):
        start = time.process_time()
        _detector(name).fit(x).score(x)
        assert time.process_time() - start < 2.5, name


def _reproduce_module():
    spec = importlib.util.spec_from_file_location("tsb_ad_reproduce",
                                                  ROOT / "benchmarks" / "tsb_ad_reproduce.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "nab" / "labels").is_dir() or not TABLE.is_file(),
                    reason="NAB and TSB-AD's table are not in ../shared/data")
@pytest.mark.parametrize("column", ["IForest", "LOF", "POLY", "MatrixProfile", "Sub-PCA",
                                    "Sub-HBOS", "SR", "Sub-KNN", "Sub-LOF"])
def test_reproduces_published_column_on_tsb_ad_nab_files(column):
    """bench's tsb-ad dataset (the 22 TSB-AD-U-Eva NAB files it rebuilds): at least 90 % of the
    files within 0.02 of the published value (measured: 22/22, Sub-KNN 21/22)."""
    mod = _reproduce_module()
    files, skipped = mod.dataset_files(DATA)
    assert len(files) == 22 and list(skipped) == ["027_NAB_id_27_Facility_tr_757_1st_2582"]
    name, params = mod.COLUMNS[column]
    errs = []
    for _stem, v, y, row, _key in files:
        s, _ = mod.run_detector(name, params, v)
        errs.append(abs(vus_pr(y, s, window=dominant_period(v)) - row[column]))
    assert np.mean(np.array(errs) <= 0.02) >= 0.9, (column, np.round(errs, 4))


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "nab" / "labels").is_dir() or not TABLE.is_file(),
                    reason="NAB and TSB-AD's table are not in ../shared/data")
def test_kmeans_ad_published_column_is_one_draw_inside_the_seed_range():
    """KMeansAD cannot be pinned per file: TSB-AD's KMeans(n_clusters=10) is unseeded, so each
    published value is one random draw.  What is pinned instead: over bench's seeds 0-9 the
    published value lies within [min - 0.02, max + 0.02] of bench's values on at least 21 of
    the 22 files (measured: inside the plain range on 21, within 0.02 of it on 22), and seed
    0 alone is within 0.02 on 16 (it stays a draw: at least 13 asserted)."""
    mod = _reproduce_module()
    files, _ = mod.dataset_files(DATA)
    inside, seed0 = 0, 0
    for _stem, v, y, row, _key in files:
        got = np.array([vus_pr(y, mod.run_detector("kmeans_ad", {}, v, seed=seed)[0],
                               window=dominant_period(v)) for seed in range(10)])
        inside += bool(got.min() - 0.02 <= row["KMeansAD"] <= got.max() + 0.02)
        seed0 += bool(abs(got[0] - row["KMeansAD"]) <= 0.02)
    assert inside >= 21 and seed0 >= 13, (inside, seed0)


@pytest.mark.parametrize("spec, param", [
    ("sub_lof:n_neighbors=0", "n_neighbors"), ("lof:n_neighbors=0", "n_neighbors"),
    ("sub_knn:n_neighbors=0", "n_neighbors"), ("sub_hbos:n_bins=0", "n_bins"),
    ("sub_hbos:alpha=-1", "alpha"), ("sub_pca:n_components=-1", "n_components"),
    ("poly:power=-1", "power"), ("poly:window=-3", "window"),
    ("matrix_profile:window=-1", "window"), ("sr:amp_window=0", "amp_window"),
    ("kmeans_ad:n_clusters=0", "n_clusters"), ("kmeans_ad:n_init=0", "n_init")])
def test_bad_parameters_are_one_line_while_planning(spec, param):
    """Each classical detector's declared constraints refuse a bad value when the run is planned
    (no cell runs, nothing is written), in one line naming the detector and the parameter."""
    from bench import api

    with pytest.raises(BenchError) as exc:
        api.plan(["synthetic:n_series=1"], [spec])
    msg = str(exc.value)
    assert "\n" not in msg and f"detector '{spec.split(':')[0]}'" in msg
    assert f"parameter '{param}'" in msg and "out of range" in msg
