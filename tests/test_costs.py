"""Cost models beyond ``event``: NAB profiles as costs, compute cost, cost curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bench
from bench.costs import ComputeCost, EventCost, NabCost, compute_cost, cost_curve
from bench.metrics import nab_score
from bench.plugins import Manager


def _series():
    y = np.zeros(1000, dtype=np.int8)
    y[400:450] = 1
    y[800:805] = 1
    rng = np.random.default_rng(3)
    s = rng.random(1000) + 0.8 * y
    return y, s


def test_registered_with_compute_marked():
    reg = Manager(entry_points=False).registry("cost")
    assert {"event", "nab", "compute"} <= set(reg.names())
    assert reg.get("compute").meta.get("kind") == "compute"
    assert ComputeCost.kind == "compute"


@pytest.mark.parametrize("profile", ["standard", "reward_low_FP_rate", "reward_low_FN_rate"])
def test_nab_cost_is_perfect_minus_raw_and_sweep_agrees(profile):
    y, s = _series()
    cost = NabCost(profile=profile)
    thr = np.quantile(s, [0.5, 0.9, 0.99])
    swept = cost.sweep(y, s, thr)
    for t, c in zip(thr, swept, strict=True):
        pred = (s >= t).astype(np.int8)
        assert cost(y, pred) == pytest.approx(c)
        # cost and normalised score describe the same thing
        perfect = 2 * 1.0
        null = -2 * (2.0 if profile == "reward_low_FN_rate" else 1.0)
        assert nab_score(y, s, profile=profile, threshold=t) == pytest.approx(
            100 * ((perfect - c) - null) / (perfect - null))
    perfect_pred = np.zeros(1000, dtype=np.int8)
    perfect_pred[[400, 800]] = 1
    assert cost(y, perfect_pred) == pytest.approx(0.0)
    assert cost(y, np.zeros(1000, dtype=np.int8)) > cost(y, perfect_pred)


def test_nab_cost_rejects_unknown_profile():
    with pytest.raises(bench.BenchError, match="profile"):
        NabCost(profile="nope")


def test_compute_cost_figures():
    rec = {"fit_s": 30.0, "score_s": 72.0, "peak_mem_mb": 512.0, "device": "cpu",
           "n_points": 2_000_000}
    c = compute_cost(rec, cpu_usd_per_hour=0.5, gpu_usd_per_hour=4.0)
    assert c["usd_per_hour"] == 0.5
    assert c["usd_total"] == pytest.approx(102 / 3600 * 0.5)
    assert c["usd_per_million_points"] == pytest.approx(72 / 3600 * 0.5 / 2)
    g = ComputeCost(cpu_usd_per_hour=0.5, gpu_usd_per_hour=4.0)({**rec, "device": "cuda:0"})
    assert g["usd_per_hour"] == 4.0
    assert math.isnan(compute_cost({"fit_s": 1.0, "score_s": 1.0})["usd_per_million_points"])
    assert compute_cost({"fit_s": 1.0, "score_s": 1.0}, n_points=10**6)["usd_score"] > 0
    with pytest.raises(bench.BenchError, match="gpu_usd_per_hour"):
        compute_cost(rec, gpu_usd_per_hour=-1)


def test_cost_curve_fixed_threshold_matches_event_cost():
    y, s = _series()
    ratios, tols = [0.5, 1, 5, 20], [0, 3, 12]
    out = cost_curve(y, s, ratios=ratios, tolerances=tols, threshold=1.2)
    assert out["cost"].shape == (3, 4)
    pred = (s >= 1.2).astype(np.int8)
    for i, k in enumerate(tols):
        for j, r in enumerate(ratios):
            assert out["cost"][i, j] == pytest.approx(
                EventCost(c_alarm=1, c_missed=r, tolerance=k)(y, pred))


def test_cost_curve_chooses_thresholds_on_validation_only():
    y, s = _series()
    vy, vs = y[::-1].copy(), s[::-1].copy()
    out = cost_curve(y, s, ratios=[1, 10], tolerances=[0, 5], val_labels=vy, val_scores=vs)
    for i, k in enumerate([0, 5]):
        for j, r in enumerate([1, 10]):
            model = EventCost(c_alarm=1, c_missed=r, tolerance=k)
            from bench.thresholds import candidates

            g = candidates(vs)
            best = g[int(np.argmin(model.sweep(vy, vs, g)))]
            assert out["threshold"][i, j] == best
            assert out["cost"][i, j] == pytest.approx(model(y, (s >= best).astype(np.int8)))
    # a higher miss cost never picks a higher threshold
    assert (out["threshold"][:, 1] <= out["threshold"][:, 0]).all()
    with pytest.raises(bench.BenchError, match="threshold"):
        cost_curve(y, s, ratios=[1], tolerances=[0])
