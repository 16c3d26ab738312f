"""The regression gate and the score store cannot be fooled (issue 13): code-aware fit keys,
verified stored scores, a strict compare, and records that load or fail in one line."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

import bench
from bench import api, records, store
from bench.compare import compare
from bench.plugins import Manager

GRID = dict(datasets=["synthetic:n_series=2,length=600"], detectors=["iforest", "kde"],
            metrics=["roc_auc", "f1"])


def _plan(**kw):
    return api.plan(**{**GRID, **kw})


# ----------------------------------------------------------------------------- code-aware keys

PLUGIN = '''
import numpy as np
import bench


class Distance:
    def __init__(self, *, k: float = 1.0):
        self.k = k

    def fit(self, X, *, seed=0):
        self.mu_ = X.mean(0)
        return self

    def score(self, X):
        return {sign}np.abs(X - self.mu_).sum(1)


@bench.hookimpl
def bench_register_detectors(register):
    register("flipdet", Distance)
'''


def _editable_plugin(root: Path) -> tuple[Path, dict[str, str]]:
    """A plugin package installed the way ``pip install -e`` does it: its source folder on the
    path and a ``.dist-info`` with the entry point, so edits to the source take effect."""
    src, site = root / "src", root / "site"
    (src / "flipdet").mkdir(parents=True)
    (src / "flipdet" / "__init__.py").write_text("")
    code = src / "flipdet" / "plugin.py"
    code.write_text(PLUGIN.format(sign=""))
    info = site / "flipdet-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flipdet\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench]\nflipdet = flipdet.plugin\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(src), env.get("PYTHONPATH", "")])
    env.pop("BENCH_DISABLE_PLUGINS", None)
    return code, env


def _bench(env, *argv):
    proc = subprocess.run([sys.executable, "-m", "bench.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def _roc(path: Path) -> tuple[float, bool]:
    rec = records.load(path)
    c = rec.cells[0]
    return c.evaluations[0]["metrics"]["roc_auc"], c.reused


@pytest.mark.slow
def test_sign_flip_in_an_editable_plugin_refits_fails_compare_and_revert_reuses(tmp_path):
    code, env = _editable_plugin(tmp_path / "pkg")
    out = tmp_path / "runs"
    run = ["run", "-d", "synthetic:n_series=1,length=800", "-m", "flipdet", "--metric",
           "roc_auc", "--out", str(out), "-q"]
    rc, _, err = _bench(env, *run)
    assert rc == 0, err
    first = records.find(out)[-1]
    code.write_text(PLUGIN.format(sign="-"))  # the detector now ranks backwards
    assert _bench(env, *run)[0] == 0
    flipped = records.find(out)[-1]
    (roc0, _), (roc1, reused1) = _roc(first), _roc(flipped)
    assert not reused1 and roc0 > 0.6 and roc1 == pytest.approx(1 - roc0, abs=1e-9)
    rc, stdout, stderr = _bench(env, "compare", str(first), str(flipped))
    assert rc == 1 and "roc_auc" in stdout and "detector code changed" in stderr
    code.write_text(PLUGIN.format(sign=""))  # revert: the old scores are found again
    assert _bench(env, *run)[0] == 0
    roc2, reused2 = _roc(records.find(out)[-1])
    assert reused2 and roc2 == roc0
    assert _bench(env, "compare", str(first), str(records.find(out)[-1]))[0] == 0


def test_code_digest_covers_the_modules_a_detector_imports(tmp_path):
    from bench import codehash

    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text("def make():\n    from ._model import Model\n    return "
                                   "Model()\n")
    (pkg / "_model.py").write_text("from . import _util\nclass Model:\n    pass\n")
    (pkg / "_util.py").write_text("X = 1\n")
    (pkg / "unrelated.py").write_text("Y = 1\n")
    files = codehash.module_closure("mypkg.plugin", pkg / "plugin.py")
    assert [f.name for f in files] == ["__init__.py", "_model.py", "_util.py", "plugin.py"]
    before = codehash._digest_files(files, tmp_path)
    (pkg / "_util.py").write_text("X = 2\n")
    assert codehash._digest_files(files, tmp_path) != before


# ----------------------------------------------------------------------------- declared versions

METRIC_PLUGIN = '''
import numpy as np
import bench
from bench.metrics import metric

# {comment}
@metric(higher_is_better=True, input="scores", version=1)
def mean_gap(labels, scores):
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return float("nan")
    return float(scores[labels].mean() - scores[~labels].mean())


@bench.hookimpl
def bench_register_metrics(register):
    register("mean_gap", mean_gap)
'''


def test_comment_only_edit_to_a_metric_does_not_disarm_the_gate(tmp_path, monkeypatch):
    import importlib

    (tmp_path / "gapmetric.py").write_text(METRIC_PLUGIN.format(comment="first"))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("gapmetric")

    def manager():
        m = Manager()
        m.register(importlib.reload(mod), "gapmetric")
        return m

    m = manager()
    base = api.run(api.plan(["synthetic:n_series=1,length=600"], ["kde"],
                            metrics=["mean_gap", "roc_auc"], manager=m), out=None, manager=m)
    (tmp_path / "gapmetric.py").write_text(METRIC_PLUGIN.format(comment="an edited comment"))
    m = manager()
    head = api.run(api.plan(["synthetic:n_series=1,length=600"], ["kde:bandwidth=5"],
                            metrics=["mean_gap", "roc_auc"], manager=m), out=None, manager=m)
    for c in head.cells:  # compare the worse bandwidth as the same cell
        c.given = {}
    cmp = compare(base, head, manager=m)
    assert cmp.count("not comparable") == 0 and cmp.compared > 0
    assert cmp.regressed and any("mean_gap worse" in p for p in cmp.gate(strict=True))
    # mean_gap is neither synthetic's headline nor a metric it declares gated: the default
    # gate shows it (marked *) but fails only on the headline
    assert not any("mean_gap worse" in p for p in cmp.gate())


# ----------------------------------------------------------------------------- strict gate


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    return api.run(_plan(), out=out), out


def test_partial_empty_and_running_heads_fail_the_gate(base_run):
    base, _ = base_run
    assert compare(base, base).gate() == []
    partial = copy.deepcopy(base)
    partial.cells, partial.status = partial.cells[:1], "interrupted"
    problems = compare(base, partial).gate()
    assert any("head incomplete" in p for p in problems)
    assert any("kde" in p and "missing" in p for p in problems)
    empty = copy.deepcopy(base)
    empty.cells = []
    assert any("nothing was compared" in p for p in compare(base, empty).gate())
    running = copy.deepcopy(base)
    running.status = "running"
    problems = compare(base, running).gate()
    assert problems == [f"head incomplete: run {base.run_id} is still running or was killed "
                        f"(2 of 2 cells recorded) (--allow-incomplete to accept)"]
    assert compare(base, running).gate(allow_incomplete=True) == []


def test_all_nan_base_is_not_an_improvement(base_run):
    base, _ = base_run
    nan_base = copy.deepcopy(base)
    for c in nan_base.cells:
        for ev in c.evaluations:
            ev["metrics"] = {k: float("nan") for k in ev["metrics"]}
    cmp = compare(nan_base, base)
    assert cmp.count("improved") == 0 and cmp.count("not comparable") > 0


def test_compare_cli_exit_codes_name_each_failure(base_run, tmp_path, capsys):
    base, out = base_run
    path = records.find(out)[-1]
    partial = copy.deepcopy(base)
    partial.cells, partial.status = partial.cells[:1], "interrupted"
    records.save(partial, tmp_path / "partial.json")
    code, _, err = run_cli(capsys, "compare", str(path), str(tmp_path / "partial.json"))
    assert code == 1 and "FAIL head incomplete" in err and "missing" in err
    code, _, err = run_cli(capsys, "compare", str(path), str(tmp_path / "partial.json"),
                           "--allow-incomplete", "--allow-missing")
    assert code == 0 and "gate passed" in err


def test_changed_evaluation_version_is_reevaluated_from_stored_scores(base_run, tmp_path):
    base, out = base_run
    old = copy.deepcopy(base)
    for c in old.cells:  # as if recorded by a bench whose f1 had another meaning
        c.key_parts["evaluation"]["metric:f1"] = 0
        for ev in c.evaluations:
            ev["metrics"]["f1"] = -1.0
    records.save(old, tmp_path / "old.json")
    head = api.run(_plan(), out=tmp_path / "head")
    assert any("not comparable" == c.status for c in compare(old, head).changes)
    fresh = api.reevaluate_base(old, head, out / "scores")
    cmp = compare(fresh, head)
    assert cmp.count("not comparable") == 0 and cmp.gate() == []
    assert all(c.reevaluated_from for c in fresh.cells)


# ----------------------------------------------------------------------------- verified store


def _scores_of(rec):
    return {c.detector: c.evaluations[0]["metrics"] for c in rec.cells}


@pytest.mark.parametrize("damage", ["swap", "truncate", "wrong_length", "nan"])
def test_damaged_score_files_are_refitted_with_correct_results(tmp_path, damage):
    first = api.run(_plan(), out=tmp_path)
    a, b = (tmp_path / "scores" / f"{c.fit_key}.npz" for c in first.cells)
    if damage == "swap":
        ta, tb = a.read_bytes(), b.read_bytes()
        a.write_bytes(tb)
        b.write_bytes(ta)
    elif damage == "truncate":
        a.write_bytes(a.read_bytes()[:300])
    else:
        with np.load(a) as z:
            arrays = {k: z[k] for k in z.files}
        key = next(k for k in arrays if k.startswith("scores/"))
        arrays[key] = arrays[key][:-5] if damage == "wrong_length" else \
            np.where(np.arange(arrays[key].size) == 3, np.nan, arrays[key])
        with open(a, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    again = api.run(_plan(), out=tmp_path)
    refit = [c.detector for c in again.cells if not c.reused]
    assert refit == (["iforest", "kde"] if damage == "swap" else ["iforest"])
    assert all(c.ok for c in again.cells)
    assert _scores_of(again) == _scores_of(first)
    note = next(c for c in again.cells if not c.reused).store_note
    assert note.startswith("stored scores not reused, refitted: ")


# ----------------------------------------------------------------------------- run ids


def test_runs_started_in_the_same_second_are_ordered(tmp_path):
    t = dt.datetime(2026, 11, 29, 12, 0, 0, 5, tzinfo=dt.timezone.utc)
    ids = [records.new_run_id(t + dt.timedelta(microseconds=us)) for us in (900, 10, 10, 500)]
    for rid in ids:
        rec = records.RunRecord(run_id=rid, created="", n_cells=0, status="finished")
        records.save(rec, tmp_path / f"{rid}.json")
    order = [p.stem for p in records.find(tmp_path)]
    assert order == [ids[1], ids[2], ids[3], ids[0]]
    assert ids[1] != ids[2]  # the same microsecond still gives two ids
    a = api.run(_plan(detectors=["kde"]), out=tmp_path / "two")
    b = api.run(_plan(detectors=["kde"]), out=tmp_path / "two")
    assert [p.stem for p in records.find(tmp_path / "two")] == [a.run_id, b.run_id]
    assert records.load(tmp_path / "two").run_id == b.run_id


# ----------------------------------------------------------------------------- malformed records

GOOD_CELL = {"index": 0, "dataset": "d", "detector": "m", "seed": 0, "status": "ok",
             "evaluations": [{"threshold": "best_f1", "metrics": {"f1": 0.5},
                              "costs": {"event": {"train": 0, "val": 1, "test": 2}}}]}


def _rec(**kw):
    return {"schema": 3, "run_id": "r", "created": "", "status": "finished", "n_cells": 1,
            "cells": [copy.deepcopy(GOOD_CELL)], **kw}


def _cell(**kw):
    return _rec(cells=[{**copy.deepcopy(GOOD_CELL), **kw}])


SCHEMA = records.SCHEMA_VERSION
MALFORMED = {
    "cells [{}]": (_rec(cells=[{}]), "cells[0]: field 'index' is missing"),
    "cells null": (_rec(cells=None), "record.cells: expected a list, got null"),
    "schema 0": (_rec(schema=0), f"schema: expected a schema version 1..{SCHEMA}, got 0"),
    "schema text": (_rec(schema="3"), "schema: expected a schema version"),
    "schema newer": (_rec(schema=SCHEMA + 1), f"schema {SCHEMA + 1} is newer than this bench"),
    "no schema": ({"cells": []}, "not a bench run record (no 'schema'/'cells')"),
    "a list": ([1, 2], "not a bench run record (a JSON list"),
    "no evaluations": (_rec(cells=[{k: v for k, v in GOOD_CELL.items() if k != "evaluations"}]),
                       "cells[0]: field 'evaluations' is missing"),
    "metrics as strings": (_cell(evaluations=[{"threshold": "t", "metrics": {"f1": "0.5"}}]),
                           "cells[0].evaluations[0].metrics.f1: expected a number or null"),
    "metrics a list": (_cell(evaluations=[{"threshold": "t", "metrics": [0.5]}]),
                       "cells[0].evaluations[0].metrics: expected an object, got list"),
    "evaluation not object": (_cell(evaluations=["x"]),
                              "cells[0].evaluations[0]: expected an object, got str"),
    "cost not object": (_cell(evaluations=[{"threshold": "t", "metrics": {},
                                            "costs": {"event": 3}}]),
                        "costs.event: expected an object of train/val/test, got int"),
    "cost text": (_cell(evaluations=[{"threshold": "t", "metrics": {},
                                      "costs": {"event": {"test": "2"}}}]),
                  "costs.event.test: expected a number or null"),
    "status unknown": (_cell(status="great"), "cells[0].status: 'great' is not one of"),
    "status null": (_cell(status=None), "cells[0].status: expected a string, got null"),
    "index text": (_cell(index="0"), "cells[0].index: expected an integer, got str"),
    "seed float": (_cell(seed=1.5), "cells[0].seed: expected an integer, got float"),
    "fit_s text": (_cell(fit_s="fast"), "cells[0].fit_s: expected"),
    "params a list": (_cell(params=[1]), "cells[0].params: expected an object, got list"),
    "run status": (_rec(status="done"), "record.status: 'done' is not one of"),
    "n_cells text": (_rec(n_cells="1"), "record.n_cells: expected an integer, got str"),
    "cell a number": (_rec(cells=[7]), "cells[0]: expected an object, got int"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_record_is_one_line_naming_file_and_field(tmp_path, case):
    raw, message = MALFORMED[case]
    p = tmp_path / "run.json"
    p.write_text(json.dumps(raw))
    with pytest.raises(bench.BenchError) as err:
        records.load(p)
    text = str(err.value)
    assert "\n" not in text and str(p) in text and message in text, text


def test_malformed_record_through_the_cli_is_one_line(tmp_path, capsys):
    p = tmp_path / "run.json"
    p.write_text(json.dumps(MALFORMED["metrics as strings"][0]))
    code, _, err = run_cli(capsys, "leaderboard", str(p))
    assert code == 1 and err.strip().count("\n") == 0 and "metrics.f1" in err


def test_good_record_round_trips(tmp_path):
    p = tmp_path / "run.json"
    p.write_text(json.dumps(_rec()))
    rec = records.load(p)
    assert rec.complete and rec.cells[0].evaluations[0]["metrics"]["f1"] == 0.5
    records.save(rec, tmp_path / "again.json")
    assert records.load(tmp_path / "again.json").to_json() == rec.to_json()


def test_store_load_names_what_is_wrong(tmp_path):
    s = {"a": np.arange(4.0)}
    store.save(tmp_path, "k1", store.Stored(s))
    got, why = store.load(tmp_path, "k1", {"a": 5})
    assert got is None and "series 'a' has (4,) scores, the dataset has 5 rows" in why
    (tmp_path / "k2.npz").write_bytes((tmp_path / "k1.npz").read_bytes())
    got, why = store.load(tmp_path, "k2", {"a": 4})
    assert got is None and "holds the scores of fit key 'k1', not 'k2'" in why


def test_leaderboard_of_a_partial_record_says_so(base_run, tmp_path, capsys):
    base, _ = base_run
    partial = copy.deepcopy(base)
    partial.cells, partial.status = partial.cells[:1], "interrupted"
    records.save(partial, tmp_path / "partial.json")
    code, out, err = run_cli(capsys, "leaderboard", str(tmp_path / "partial.json"))
    assert code == 0 and "warning: partial results" in err and "1 of 2 cells did not finish" in err
    assert json.loads((tmp_path / "partial.json").read_text())["complete"] is False


def test_store_copy_keeps_verified_scores_and_drops_explanations(tmp_path):
    s = {"a": np.arange(6.0)}
    src = store.save(tmp_path / "src", "k9", store.Stored(s, {"a": np.ones((2, 3))}, {"fit_s": 2}))
    dst = store.copy(src, tmp_path / "dst", explain=False)
    got, why = store.load(tmp_path / "dst", "k9", {"a": 6})
    assert dst.name == "k9.npz" and why == "" and got.explain == {} and got.info == {"fit_s": 2}
    src.write_bytes(src.read_bytes()[:200])
    with pytest.raises(ValueError):
        store.copy(src, tmp_path / "dst2")


# ----------------------------------------------------------------------------- impossible values


def test_a_head_with_roc_auc_inf_or_f1_1e308_fails_the_gate_naming_it(base_run, tmp_path,
                                                                      capsys):
    base, out = base_run
    head = copy.deepcopy(base)
    head.cells[0].evaluations[0].metrics["roc_auc"] = float("inf")
    head.cells[1].evaluations[0].metrics["f1"] = 1e308
    problems = compare(base, head).gate(allow_not_comparable=True)
    c0, c1 = head.cells[0].identity, head.cells[1].identity
    assert any(p.startswith(f"{c0} @ ") and "roc_auc in the head record is impossible: inf is "
               "not a finite number" in p for p in problems), problems
    assert any(p.startswith(f"{c1} @ ") and "f1 in the head record is impossible: 1e+308 is "
               "outside its declared range [0, 1]" in p for p in problems), problems
    records.save(head, tmp_path / "head.json")  # written as Infinity, read back as inf
    code, _, err = run_cli(capsys, "compare", str(records.find(out)[-1]),
                           str(tmp_path / "head.json"))
    assert code == 1 and "roc_auc in the head record is impossible" in err


def test_a_duplicated_cell_fails_the_gate_naming_it(base_run):
    base, _ = base_run
    head = copy.deepcopy(base)
    twin = copy.deepcopy(head.cells[0])
    twin.index = 99
    head.cells.append(twin)
    problems = compare(base, head).gate()
    assert any(f"{twin.identity} seed 0: recorded 2 times in the head record" in p
               for p in problems), problems


def test_only_the_headline_gates_by_default(base_run):
    base, _ = base_run
    head = copy.deepcopy(base)
    for c in head.cells:
        c.evaluations[0].metrics["f1"] *= 0.5  # worse F1, headline unchanged
    cmp = compare(base, head)
    worse = {c.metric for c in cmp.changes if c.status == "worse"}
    assert "f1" in worse and all(not c.gated for c in cmp.ungated_worse())
    assert cmp.gate() == []
    assert any("f1 worse" in p for p in cmp.gate(strict=True))
    for c in head.cells:
        c.evaluations[0].metrics[c.headline] *= 0.5
    assert any(f"{head.cells[0].headline} worse" in p for p in compare(base, head).gate())


# ----------------------------------------------------------------------------- done when


@pytest.mark.slow
def test_evaluation_bump_of_a_mixed_base_is_reevaluated_from_each_cells_plan(tmp_path, capsys):
    """A base from -d hpc -d synthetic -m iforest -m kde (hpc: min_cost, others best_f1;
    headlines differ) with only its evaluation version edited: compare re-evaluates every cell
    from its own plan, 0 not comparable, exit 0."""
    code, _, err = run_cli(capsys, "run", "-d", "hpc", "-d", "synthetic", "-m", "iforest",
                           "-m", "kde", "--out", str(tmp_path / "base"), "-q")
    assert code == 0, err
    (path,) = records.find(tmp_path / "base")
    raw = json.loads(path.read_text())
    assert {c["plan"]["thresholds"][0] for c in raw["cells"]} == {"min_cost", "best_f1"}
    head = tmp_path / "head"
    head.mkdir()
    (head / path.name).write_text(path.read_text())
    for c in raw["cells"]:  # as if recorded by a bench whose evaluation step was older
        c["key_parts"]["evaluation"]["evaluation"] -= 1
    path.write_text(json.dumps(raw))
    code, out, err = run_cli(capsys, "compare", str(tmp_path / "base"), str(head))
    assert code == 0, err
    assert "0 not comparable" in out and "gate passed" in err


@pytest.mark.slow
def test_committed_baseline_passes_after_an_evaluation_bump(tmp_path, monkeypatch):
    """The committed baseline, re-evaluated from its stored scores under each cell's
    own plan when the evaluation step's version is bumped, compares with 0 not comparable and a
    passing gate (on a copy; results/baseline is not touched)."""
    import shutil

    from bench import runner

    if not (BASELINE / "scores").is_dir():
        pytest.skip("no committed baseline scores")
    shutil.copytree(BASELINE, tmp_path / "baseline")
    scores = tmp_path / "baseline" / "scores"
    base = records.load(tmp_path / "baseline" / "baseline.json")
    monkeypatch.setattr(runner, "EVALUATION_VERSION",
                        base.cells[0].key_parts["evaluation"]["evaluation"] + 1)
    head = copy.deepcopy(base)
    for i, c in enumerate(base.cells):  # the head a bumped bench gives on the same scores
        new = runner.run_cell(api.cell_from_plan(c, str(scores / f"{c.fit_key}.npz")))
        assert new.ok, (c.identity, new.error)
        new.key_parts.update(detector_code=c.key_parts.get("detector_code"),
                             harness_fit=c.key_parts.get("harness_fit"))
        head.cells[i] = new
    first = compare(base, head)  # changes are per dataset x detector (seeds pooled)
    assert first.changes and all(ch.status == "not comparable" for ch in first.changes)
    cmp = compare(api.reevaluate_base(base, head, scores), head)
    # 396 values at the baseline of 2026-12-02 (100 cells: headlines and gated metrics)
    assert cmp.count("not comparable") == 0 and cmp.gate() == [] and cmp.compared > 300


BASELINE = Path(__file__).resolve().parents[1] / "results" / "baseline"
