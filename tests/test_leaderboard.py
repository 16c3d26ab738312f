"""Leaderboard tables: sort key in the title, seeds as mean±std, chance rows, lift, series
counts, ORACLE apart, 100 columns by default, HTML escaping, Friedman-gated critical difference.

One real run (module fixture): the 4 shipped NAB series and the HPC course data, with iforest,
kde, the chance baselines and ``flat`` (a test detector that learns nothing but is not declared a
chance baseline), two seeds on NAB, NAB's score without a threshold (ORACLE) among its metrics."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import bench
from bench import api
from bench.leaderboard import ranking, render, tables
from bench.plugins import Manager


class Flat:
    """Learns nothing and is not registered as a chance baseline: it must not beat chance."""

    def fit(self, X, *, seed=0):
        self.n_ = X.shape[1]
        return self

    def score(self, X):
        return np.zeros(len(X))


class Plugin:
    @bench.hookimpl
    def bench_register_detectors(self, register):
        register("flat", Flat)


@pytest.fixture(scope="module")
def manager():
    m = Manager()
    m.register(Plugin(), "flat-plugin")
    yield m
    m.unregister("flat-plugin")


@pytest.fixture(scope="module")
def record(manager):
    cells = api.plan(["nab:sample=true"], ["iforest", "kde", "random", "constant"],
                     seeds=[0, 1], metrics=["roc_auc", "f1", "nab_score"], manager=manager)
    cells += api.plan(["hpc"], ["iforest", "kde", "random", "constant"], metrics=["roc_auc", "f1"],
                      manager=manager)
    cells += api.plan(["nab:sample=true"], ["flat"], metrics=["roc_auc", "f1"], manager=manager)
    for i, c in enumerate(cells):
        c.index = i
    rec = api.run(cells, out=None, manager=manager)
    assert all(c["status"] == "ok" for c in rec["cells"])
    return rec


def _plain(record):
    """The record as its JSON form (plain dicts), which the leaderboard reads as well."""
    return json.loads(json.dumps(record.to_json() if hasattr(record, "to_json") else record))


def _table(text, start):
    """Lines of the github table whose title starts with ``### start``."""
    block = text.split(f"### {start}", 1)[1].split("\n### ", 1)[0]
    return [ln for ln in block.splitlines() if ln.startswith("|")]


def _col(lines, header):
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    j = cells[0].index(header)
    return [(row[0], row[j]) for row in cells[2:]]


def test_title_names_the_sort_key_and_rows_follow_it(record, manager):
    text = render(record, "github", manager)
    nab_title = next(ln for ln in text.splitlines() if ln.startswith("### nab"))
    assert "sorted by VUS-PR, higher is better" in nab_title
    hpc_title = next(ln for ln in text.splitlines() if ln.startswith("### hpc"))
    # HPC ranks by a threshold-free metric: chance wins its event cost (scattered alarms cover
    # every anomalous step within the 12-step tolerance)
    assert "sorted by VUS-PR, higher is better" in hpc_title
    assert "event cost" in _table(text, "hpc")[0]  # the course's cost stays beside it
    col = _col(_table(text, "nab"), "VUS-PR")
    ranked = [(d, float(v.split("±")[0])) for d, v in col if "~chance" not in d]
    assert [v for _, v in ranked] == sorted((v for _, v in ranked), reverse=True)
    # chance rows come last, marked, without a lift
    names = [d for d, _ in col]
    assert names[-2:] == ["random ~chance", "constant ~chance"] or \
        names[-2:] == ["constant ~chance", "random ~chance"]
    lift = dict(_col(_table(text, "nab"), "lift"))
    assert lift["random ~chance"] == "" and lift["kde"].startswith("+")


def test_seeds_are_mean_std_with_a_count(record, manager):
    lines = _table(render(record, "github", manager), "nab")
    seeds = dict(_col(lines, "seeds"))
    assert seeds["iforest"] == "2" and seeds["flat"] == "1"
    vals = dict(_col(lines, "VUS-PR"))
    assert re.fullmatch(r"0\.\d{3}±0\.\d{3}", vals["iforest"]), vals["iforest"]
    t = next(t for t in tables(record, manager) if t.dataset.startswith("nab") and not t.oracle)
    e = next(e for e in t.entries if e.label == "iforest")
    v = [r["metrics"]["vus_pr"] for r in e.rows]
    assert vals["iforest"] == f"{np.mean(v):.3f}±{np.std(v, ddof=1):.3f}"
    best_chance = max(x.mean(t.headline) for x in t.entries if x.chance)
    assert dict(_col(lines, "lift"))["iforest"] == f"{e.mean(t.headline) - best_chance:+.3f}"


def test_default_fits_100_columns_and_wide_shows_everything(record, manager):
    narrow = render(record, "github", manager)
    wide = render(record, "github", manager, wide=True)
    hpc = narrow.split("### hpc", 1)[1].split("\n### ", 1)[0]
    assert max(len(ln) for ln in hpc.splitlines()) <= 100
    # the run named its metrics (roc_auc, f1): every one is shown, even past 100 columns
    nab = _table(narrow, "nab")[0]
    assert all(h in nab for h in ("ROC-AUC", "F1", "VUS-PR", "event cost", "p vs chance"))
    assert max(len(ln) for ln in wide.splitlines()) > 100
    assert "pooled F1" in wide and "pooled F1" not in narrow.split("### overall")[0].replace(
        "series averaged", "")
    assert "fit s" in wide and "fit s" not in narrow


def test_series_counts_in_the_legend(record, manager):
    text = render(record, "github", manager)
    block = text.split("### nab", 1)[1].split("\n### ", 1)[0]
    assert "series averaged: VUS-PR 4 of 4" in block


def test_oracle_metric_is_printed_apart(record, manager):
    text = render(record, "github", manager)
    main = text.split("### nab", 1)[1].split("\n### ", 1)[0]
    assert "NAB" not in _table(text, "nab")[0]
    oracle = next(b for b in text.split("\n### ") if b.startswith("ORACLE nab"))
    assert "NAB (threshold on TEST labels)" in oracle and "| NAB" in oracle
    assert "ORACLE" not in main


def test_no_detector_beating_chance_is_flagged_and_left_out(record, manager):
    """``flat`` learns nothing: on a table of flat + chance rows alone, nothing beats chance."""
    rec = _plain(record)
    rec["cells"] = [c for c in rec["cells"] if c["detector"] in ("flat", "random", "constant")
                    or c["dataset"] == "hpc"]
    text = render(rec, "github", manager)
    title = next(ln for ln in text.splitlines() if ln.startswith("### nab"))
    assert "sorted by VUS-PR" in title and "NO DETECTOR BEATS CHANCE" in title
    o = ranking(rec, manager)
    assert o.left_out == [t for t in o.left_out if t.startswith("nab")] and o.left_out
    assert all(not d.startswith("nab") for d in o.datasets)
    assert "left out (no detector beats chance): nab" in text


def test_overall_uses_headlines_excludes_chance_and_tests_significance(record, manager):
    o = ranking(record, manager)
    assert "random" not in o.labels and "constant" not in o.labels  # chance rows never ranked
    # the NAB sample is left out of the overall rank (a full corpus, HPC, is there), and said so
    assert o.headlines == {"hpc": "VUS-PR"} and o.samples == ["nab (sample, 4 of 58 series)"]
    text = render(record, "github", manager)
    overall = text.split("### overall", 1)[1]
    assert "Friedman" in overall
    assert "left out (samples, not full corpora): nab (sample, 4 of 58 series)" in \
        " ".join(overall.split())
    # flat ran on NAB only (left out as a sample): the test covers the detectors ranked
    assert set(o.labels) == {"iforest", "kde"} and set(o.test.labels) == {"iforest", "kde"}
    assert not o.test.rejected  # 2 detectors: not testable, so no critical difference printed
    assert "no critical difference" in overall and "CD =" not in overall


def test_html_escapes_dataset_names_and_values(record, manager):
    rec = _plain(record)
    for c in rec["cells"]:
        c["dataset"] = "<script>alert(1)</script>"
        c["dataset_title"] = "<script>alert(1)</script>"
        if c["detector"] == "kde":
            c["given"] = {"bandwidth": "<b>x</b>"}
    for fmt in ("html", "unsafehtml"):
        out = render(rec, fmt, manager)
        assert "<script>" not in out and "<b>" not in out, fmt
        assert "&lt;script&gt;" in out


def test_chance_rows_score_chance_through_the_harness(record, manager):
    """Through fitting, thresholds and aggregation, the chance detectors get chance values:
    ROC-AUC 0.5 (constant exactly), and F1 no better than alarming everything (2 pi / (1 + pi))."""
    for c in _plain(record)["cells"]:
        if c["detector"] not in ("random", "constant"):
            continue
        ev = c["evaluations"][0]
        roc = ev["metrics"]["roc_auc"]
        assert roc == 0.5 if c["detector"] == "constant" else abs(roc - 0.5) < 0.05
        per = ev["per_series"]
        for p in per:
            conf = p["confusion"]
            pi = (conf["tp"] + conf["fn"]) / sum(conf.values())
            if pi > 0:
                assert p["metrics"]["f1"] <= 2 * pi / (1 + pi) + 0.05, (c["detector"], p["series"])


def test_a_detector_whose_cells_failed_is_not_ranked_first(record):
    import copy

    rec = copy.deepcopy(record)
    for c in rec.cells:
        if c.detector == "kde":
            c.status, c.error, c.evaluations = "error", "fit: boom", []
    o = ranking(rec)
    assert "kde" not in o.ranks.get("hpc", {}) and np.isnan(o.mean_rank("kde"))
    assert o.failed["kde"] == 3
    body = [ln for ln in render(rec).splitlines() if ln.startswith("| kde ")]
    assert body and all(" 1.000 " not in ln for ln in body)


def _hand_cell(detector, per, *, declared=None, fallback=None, costs=("event",), n_test=None):
    """A finished cell of hand-made per-series VUS-PR values (NaN: no test anomaly)."""
    ps = [{"series": s, "threshold": 0.5, "metrics": {"vus_pr": v, "f1": v},
           "costs": {c: {"train": 0.0, "val": 0.0, "test": 3.0} for c in costs},
           **({"fallback": fallback} if fallback and i % 2 == 0 else {})}
          for i, (s, v) in enumerate(per.items())]
    finite = [v for v in per.values() if v == v]
    ev = {"threshold": "best_f1", "oracle": False, "chosen_with": "validation labels",
          "metrics": {"vus_pr": float(np.mean(finite)) if finite else float("nan"),
                      "f1": float(np.mean(finite)) if finite else float("nan")},
          "n_series": {"vus_pr": len(finite), "f1": len(finite)},
          "costs": {c: {"train": 0.0, "val": 0.0, "test": 3.0 * len(per)} for c in costs},
          "per_series": ps}
    return {"dataset": "d", "detector": detector, "seed": 0, "status": "ok", "given": {},
            "headline": "vus_pr", "n_series": len(per), "declared": declared or {},
            "evaluations": [ev]}


def test_time_costs_hidden_where_declared_meaningless_and_said_so():
    per = {"a": 0.5, "b": 0.6}
    rec = {"grid": {}, "cells": [_hand_cell("iforest", per, declared={"time_costs": False}),
                                 _hand_cell("random", per, declared={"time_costs": False})]}
    text = render(rec, "github")
    assert "event cost" not in _table(text, "d")[0]
    assert "event cost not shown: it counts time steps" in " ".join(text.split())
    rec = {"grid": {}, "cells": [_hand_cell("iforest", per), _hand_cell("random", per)]}
    assert "event cost" in _table(render(rec, "github"), "d")[0]


def test_threshold_fallback_counted_under_the_table():
    per = {"a": 0.5, "b": 0.6, "c": 0.7}
    fb = "no validation anomaly: just above the highest validation score"
    rec = {"grid": {}, "cells": [_hand_cell("iforest", per, fallback=fb),
                                 _hand_cell("random", per, fallback=fb)]}
    text = " ".join(render(rec, "github").split())
    assert f"best_f1: 2 of 3 series had no validation anomaly, threshold by fallback '{fb}'" \
        in text


def test_a_headline_over_zero_series_is_flagged_in_the_title():
    per = {"a": float("nan"), "b": float("nan")}
    rec = {"grid": {}, "cells": [_hand_cell("iforest", per), _hand_cell("random", per)]}
    text = render(rec, "github")
    title = next(ln for ln in text.splitlines() if ln.startswith("### d"))
    assert "HEADLINE COVERS 0 SERIES" in title


def test_requested_metrics_and_costs_are_shown_without_wide():
    """--metric vus_roc and --cost compute: both in the narrow table (the default list of metrics
    was replaced, so every computed one is shown)."""
    cells = api.plan(["synthetic:n_series=2,length=400"], ["random", "constant"],
                     metrics=["vus_roc"], costs=["event", "compute"])
    for i, c in enumerate(cells):
        c.index = i
    rec = api.run(cells, out=None)
    head = _table(render(rec, "github"), "synthetic")[0]
    for h in ("VUS-PR", "VUS-ROC", "F1", "event cost", "$/M points (compute)", "p vs chance",
              "lift"):
        assert h in head, (h, head)
