"""bench.period: the dominant period TSB-AD sizes its windows with."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.period import FALLBACK, autocorrelation, dominant_period

TSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "tsb_ad" / "TSB-AD-U"


def test_autocorrelation_matches_the_direct_sum():
    x = np.random.default_rng(1).normal(size=257)
    xc = x - x.mean()
    direct = np.array([np.dot(xc[: x.size - k], xc[k:]) for k in range(40)]) / np.dot(xc, xc)
    np.testing.assert_allclose(autocorrelation(x, 39), direct, atol=1e-12)


@pytest.mark.parametrize("period", [7, 24, 96, 150])
def test_sine_period_is_found(period):
    t = np.arange(max(20 * period, 2000))
    noise = np.random.default_rng(0).normal(scale=0.1, size=t.size)
    assert dominant_period(np.sin(2 * np.pi * t / period) + noise) == period


def test_no_period_falls_back_to_125():
    assert dominant_period(np.ones(500)) == FALLBACK
    assert dominant_period(np.arange(4.0)) == FALLBACK
    # a period above TSB-AD's accepted range (303 rows) is not taken
    t = np.arange(5000)
    assert dominant_period(np.sin(2 * np.pi * t / 350)) == FALLBACK


def test_multivariate_is_refused():
    with pytest.raises(ValueError, match="one column"):
        dominant_period(np.zeros((100, 3)))


@pytest.mark.skipif(not TSB.is_dir(), reason="../shared/data/tsb_ad absent")
def test_tsb_ad_sample_file_has_its_published_window():
    d = pd.read_csv(TSB / "001_NAB_id_1_Facility_tr_1007_1st_2014.csv")
    assert dominant_period(d["Data"].to_numpy()) == 6  # shared/data/tsb_ad/README.md


def test_window_period_sizes_the_harness_window_per_series():
    """``--window period``: a row detector is windowed by each univariate series' own period,
    and a multivariate series gets no window (it has no single period)."""
    import bench
    from bench.cell import Protocol
    from bench.errors import BenchError
    from bench.fitting import harness_window
    from bench.plugins import get_manager

    iforest = get_manager().get("detector", "iforest").factory
    t = np.arange(2400)
    rng = np.random.default_rng(0)
    labels = np.zeros(t.size, dtype=np.int8)
    uni = bench.Series((np.sin(2 * np.pi * t / 48) + 0.1 * rng.normal(size=t.size))
                       .astype(np.float32)[:, None], labels, name="u")
    multi = bench.Series(rng.normal(size=(t.size, 3)).astype(np.float32), labels, name="m")
    proto = Protocol("unsupervised", window="period")
    assert harness_window(iforest, proto, uni) == 48
    assert harness_window(iforest, proto, multi) == 1
    assert harness_window(iforest, Protocol("unsupervised", window=8), uni) == 8
    with pytest.raises(BenchError, match="'period'"):
        Protocol("unsupervised", window="weekly")
