"""Chance as a test (bench.chance_test): a detector against ``random`` per series (paired
Wilcoxon), or against random's seed band on one series; direction-aware; stored in the record by a
run and shown (and flagged) by the leaderboard.  Hand-built records for the rules, one real HPC run
for the whole path."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bench import api, chance_test
from bench.leaderboard import render, tables


def _ev(per: dict[str, float], key: str = "vus_pr", threshold: str = "best_f1",
        oracle: bool = False) -> dict:
    """An evaluation with per-series headline values (``cost:NAME`` as a test-range cost)."""
    def one(v):
        if key.startswith("cost:"):
            return {"metrics": {}, "costs": {key[5:]: {"train": 0.0, "val": 0.0, "test": v}}}
        return {"metrics": {key: v}, "costs": {}}

    agg = float(np.mean(list(per.values())))
    ev = {"threshold": threshold, "oracle": oracle, "chosen_with": "validation labels",
          "per_series": [{"series": s, "threshold": 0.5, **one(v)} for s, v in per.items()],
          **one(agg)}
    return ev


def _cell(detector: str, seed: int, per: dict[str, float], key: str = "vus_pr",
          dataset: str = "d") -> dict:
    return {"dataset": dataset, "detector": detector, "seed": seed, "status": "ok",
            "headline": key, "n_series": len(per), "given": {},
            "evaluations": [_ev(per, key), _ev(per, key, "oracle", oracle=True)]}


def _record(det: dict[str, list[dict[str, float]]], n_random: int, rnd_per, key="vus_pr"):
    cells = [_cell("random", s, rnd_per(s), key) for s in range(n_random)]
    for name, seeds in det.items():
        cells += [_cell(name, s, per, key) for s, per in enumerate(seeds)]
    return {"grid": {"thresholds": ["best_f1"]}, "cells": cells}


RNG = np.random.default_rng(0)
SERIES = [f"s{i}" for i in range(12)]
RANDOM = {s: [float(v) for v in RNG.uniform(0.2, 0.4, 10)] for s in SERIES}


def _rnd(seed):
    return {s: RANDOM[s][seed] for s in SERIES}


def test_paired_wilcoxon_better_and_not_better():
    good = {s: float(np.mean(RANDOM[s])) + 0.3 for s in SERIES}
    same = {s: float(np.mean(RANDOM[s])) + (0.01 if i % 2 else -0.01)
            for i, s in enumerate(SERIES)}
    rec = _record({"good": [good], "same": [same]}, 10, _rnd)
    res = chance_test.results(rec)
    g, n = res[("d", "best_f1", "good")], res[("d", "best_f1", "same")]
    assert g["method"] == "wilcoxon" and g["n"] == 12 and g["better"] and g["p"] < 0.001
    assert n["method"] == "wilcoxon" and not n["better"] and n["p"] > 0.3
    assert ("d", "best_f1", "random") not in res and ("d", "oracle", "good") not in res


def test_direction_cost_headline_lower_is_better():
    cheap = {s: 10.0 + i for i, s in enumerate(SERIES)}
    dear = {s: 500.0 + i for i, s in enumerate(SERIES)}
    rec = _record({"cheap": [cheap], "dear": [dear]}, 10,
                  lambda seed: {s: 100.0 + seed for s in SERIES}, key="cost:event")
    res = chance_test.results(rec)
    assert res[("d", "best_f1", "cheap")]["better"]
    assert not res[("d", "best_f1", "dear")]["better"]
    assert res[("d", "best_f1", "dear")]["p"] > 0.99


def test_one_series_uses_the_seed_band_and_needs_ten_seeds():
    band = [0.30, 0.31, 0.29, 0.35, 0.33, 0.28, 0.32, 0.30, 0.34, 0.36]
    rec = _record({"above": [{"x": 0.9}], "inside": [{"x": 0.34}]}, 10,
                  lambda seed: {"x": band[seed]})
    res = chance_test.results(rec)
    a, i = res[("d", "best_f1", "above")], res[("d", "best_f1", "inside")]
    assert a["method"] == "seed band" and a["better"] and a["p"] == pytest.approx(1 / 11)
    assert a["n"] == 10 and a["seeds"] == 10
    # three seeds (0.34 tied, 0.35, 0.36) are at least as good as 0.34: p = 4 / 11
    assert not i["better"] and i["p"] == pytest.approx(4 / 11)
    few = _record({"above": [{"x": 0.9}]}, 3, lambda seed: {"x": band[seed]})
    f = chance_test.results(few)[("d", "best_f1", "above")]
    assert f["method"] == "none" and not f["better"] and f["p"] is None
    assert f["note"].startswith("3 random seeds: no test")


def test_detector_seeds_are_averaged_per_series():
    """Two seeds of a detector: one far below random, one far above; the per-series mean is
    what is paired (so the mean decides, not the better seed)."""
    lo = {s: 0.0 for s in SERIES}
    hi = {s: 1.0 for s in SERIES}
    rec = _record({"det": [lo, hi]}, 10, _rnd)
    r = chance_test.results(rec)[("d", "best_f1", "det")]
    assert r["better"]  # mean 0.5 > random's ~0.3 on every series
    rec = _record({"det": [lo, {s: 0.5 for s in SERIES}]}, 10, _rnd)
    assert not chance_test.results(rec)[("d", "best_f1", "det")]["better"]  # mean 0.25


def test_annotate_stores_in_every_non_oracle_evaluation_and_the_table_flags():
    good = {s: 0.9 for s in SERIES}
    bad = {s: 0.1 for s in SERIES}
    rec = _record({"good": [good], "bad": [bad]}, 10, _rnd)
    n = chance_test.annotate(rec)
    assert n == 2  # one non-oracle evaluation each for good and bad; none for random
    for c in rec["cells"]:
        main, oracle = c["evaluations"]
        assert "chance_test" not in oracle
        assert ("chance_test" in main) == (c["detector"] != "random")
    text = render(rec, "github")
    main = text.split("### d:", 1)[1].split("\n### ", 1)[0]
    body = {ln.split("|")[1].strip(): ln for ln in main.splitlines() if ln.startswith("| ")}
    assert "| ref " in body["random ~chance"]
    assert " no " in body["bad"] and " no " not in body["good"]
    assert "NOT BETTER THAN CHANCE: bad" in " ".join(text.split())


def test_leaderboard_computes_the_test_for_a_record_without_it():
    rec = _record({"good": [{s: 0.9 for s in SERIES}]}, 10, _rnd)
    t = next(t for t in tables(rec) if not t.oracle)
    e = next(e for e in t.entries if e.label == "good")
    assert e.vs_chance["method"] == "wilcoxon" and e.vs_chance["better"]


def test_no_random_cells_no_test_said_so():
    rec = {"grid": {}, "cells": [_cell("good", 0, {s: 0.9 for s in SERIES})]}
    text = render(rec, "github")
    assert "no chance rows in this run" in " ".join(text.split())
    assert "| lift" in text  # the column is always there


@pytest.fixture(scope="module")
def hpc_run():
    """The HPC course data: iforest, constant, random over 10 seeds (a few seconds)."""
    cells = api.plan(["hpc"], ["iforest", "constant"])
    cells += api.plan(["hpc"], ["random"], seeds=range(10))
    for i, c in enumerate(cells):
        c.index = i
    return api.run(cells, out=None)


def test_a_run_stores_the_test_and_hpc_headline_beats_chance(hpc_run):
    rec = hpc_run.to_json() if hasattr(hpc_run, "to_json") else hpc_run
    by = {c["detector"]: c for c in rec["cells"] if c["seed"] == 0}
    # a threshold-free headline, not the event cost
    assert chance_test.headline_of(by["iforest"]) == "vus_pr"
    it = by["iforest"]["evaluations"][0]["chance_test"]
    assert it["method"] == "seed band" and it["better"] and it["p"] == pytest.approx(1 / 11)
    const = by["constant"]["evaluations"][0]["chance_test"]
    assert not const["better"]
    assert "chance_test" not in by["random"]["evaluations"][0]
    # the course's event cost is still beside it: chance (random) wins that one
    costs = {d: c["evaluations"][0]["costs"]["event"]["test"] for d, c in by.items()}
    assert costs["iforest"] > costs["random"]
    text = render(hpc_run, "github")
    hpc = text.split("### hpc", 1)[1].split("\n### ", 1)[0]
    assert "sorted by VUS-PR" in hpc and "event cost" in hpc
    # default metrics: the table fits 100 columns, ROC-AUC moved to --wide (and said so)
    assert max(len(ln) for ln in hpc.splitlines()) <= 100
    assert "ROC-AUC: --wide" in hpc


def test_a_stale_stored_test_is_recomputed(hpc_run):
    rec = copy.deepcopy(hpc_run.to_json() if hasattr(hpc_run, "to_json") else hpc_run)
    for c in rec["cells"]:
        for ev in c["evaluations"]:
            if "chance_test" in ev:
                ev["chance_test"] = {**ev["chance_test"], "headline": "cost:event",
                                     "better": False, "p": 1.0}
    t = next(t for t in tables(rec) if not t.oracle)
    e = next(e for e in t.entries if e.label == "iforest")
    assert e.vs_chance["better"] and e.vs_chance["headline"] == "vus_pr"
