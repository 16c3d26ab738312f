"""Malformed run records (issue 22): a record nested 100 000 deep (json's RecursionError), a
5000-digit integer (Python's int-max-str-digits ValueError) or a bad value in a field the
readers use without a check of their own (a schema-3 cell's ``declared``/``headline``,
``per_series``, ``grid``, ``key_parts``, ``meta``, a plan's ``evaluation``, ``n_series``,
``chance_test``, ``compute``, ``protocol``) gives ``leaderboard``, ``compare``, ``history`` and
``report`` one line naming the file and the field, never a traceback.

Each case mutates a small real record (a quick run in a fixture; for the schema-3 fields, one cell
of the committed schema-3 baseline) and runs the four commands on it.  With the checks of
:mod:`bench.recordcheck` switched off, 100 of the 112 case x command pairs fail (tracebacks, or a
"gate passed" on a damaged record)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

from bench import records

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_3 = ROOT / "tests" / "data" / "baseline_schema3.json.gz"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A real schema-4 record (one iforest cell) and the first cell of the schema-3 baseline."""
    from bench import api
    from bench.plugins import Manager

    out = tmp_path_factory.mktemp("rec")
    m = Manager()
    api.run(api.plan(["synthetic:n_series=1,length=400"], ["iforest:n_estimators=10"],
                     manager=m), out=out, manager=m)
    s4 = json.loads(next(out.glob("*.json")).read_text())
    s3 = json.loads(gzip.decompress(SCHEMA_3.read_bytes()))
    s3 = {**s3, "cells": s3["cells"][:1], "n_cells": 1}
    return {4: s4, 3: s3}


def _set(path: str, value):
    """A mutation: set the field at ``path`` (``cells.0.key_parts.evaluation``) to ``value``."""
    def mutate(rec):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        obj = rec
        for p in parents:
            obj = obj[p]
        obj[last] = value
    return mutate


# (schema, mutation, what the one line must name)
CASES = {
    "100k nested lists": (4, _set("cells.0.params.n_estimators", "DEEP"),
                          "cells[0].params.n_estimators"),
    "200 nested lists": (4, _set("cells.0.key_parts.detector", json.loads("[" * 200 + "]" * 200)),
                         "nested more than 64 levels"),
    "5000-digit seed": (4, _set("cells.0.seed", "BIG"), "cells[0].seed: a 5000-digit integer"),
    "5000-digit metric": (4, _set("cells.0.evaluations.0.metrics.vus_pr", "BIG"),
                          "cells[0].evaluations[0].metrics.vus_pr"),
    "5000-digit grid seed": (4, _set("grid.seeds", ["BIG"]), "grid.seeds[0]"),
    "declared a string": (3, _set("cells.0.declared", "x"), "cells[0].declared: expected an "
                                                             "object"),
    "declared headline a list": (3, _set("cells.0.declared.headline", []),
                                 "cells[0].declared.headline"),
    "schema-3 threshold_params text": (3, _set("cells.0.evaluations.0.threshold_params", "x"),
                                       "cells[0].evaluations[0].threshold_params"),
    "headline a number": (3, _set("cells.0.headline", 5), "cells[0].headline"),
    "per_series a string": (4, _set("cells.0.evaluations.0.per_series", "x"),
                            "evaluations[0].per_series"),
    "per_series confusion text": (4, _set("cells.0.evaluations.0.per_series.0.confusion.tp",
                                          "x"), "per_series[0].confusion.tp"),
    "grid thresholds a number": (4, _set("grid.thresholds", 7), "grid.thresholds"),
    "grid a list": (4, _set("grid", []), "record.grid"),
    "key_parts evaluation text": (4, _set("cells.0.key_parts.evaluation", "x"),
                                  "cells[0].key_parts.evaluation"),
    "key_parts a list": (4, _set("cells.0.key_parts", []), "cells[0].key_parts"),
    "meta range a number": (4, _set("meta.metric.vus_pr.range", 5), "meta.metric.vus_pr.range"),
    "meta range of three": (4, _set("meta.metric.vus_pr.range", [0, 1, 2]),
                            "meta.metric.vus_pr.range"),
    "meta metric a string": (4, _set("meta.metric", "x"), "meta.metric"),
    "plan gated a number": (4, _set("cells.0.plan.evaluation.gated", 3),
                            "cells[0].plan.evaluation.gated"),
    "plan headline a list": (4, _set("cells.0.plan.evaluation.headline", ["vus_pr"]),
                             "cells[0].plan.evaluation.headline"),
    "n_series text": (4, _set("cells.0.evaluations.0.n_series.vus_pr", "x"),
                      "evaluations[0].n_series.vus_pr"),
    "n_series negative": (4, _set("cells.0.evaluations.0.n_series.vus_pr", -3),
                          "evaluations[0].n_series.vus_pr: expected a whole number >= 0"),
    "confusion negative": (4, _set("cells.0.evaluations.0.confusion.tp", -5),
                           "evaluations[0].confusion.tp"),
    "chance_test p 7": (4, _set("cells.0.evaluations.0.chance_test.p", 7),
                        "chance_test.p: expected a finite number in [0, 1]"),
    "fit_s negative": (4, _set("cells.0.fit_s", -2.0), "cells[0].fit_s: expected a finite"),
    "chance_test a string": (4, _set("cells.0.evaluations.0.chance_test", "x"),
                             "evaluations[0].chance_test"),
    "chance_test p text": (4, _set("cells.0.evaluations.0.chance_test", {"p": "x"}),
                           "evaluations[0].chance_test.p"),
    "compute a number": (4, _set("cells.0.compute", {"aws": 3}), "cells[0].compute.aws"),
    "protocol window a list": (4, _set("cells.0.protocol.window", []),
                               "cells[0].protocol.window"),
}


def _write(real, schema, mutate, path: Path) -> Path:
    rec = copy.deepcopy(real[schema])
    mutate(rec)
    text = json.dumps(rec).replace('"DEEP"', DEEP).replace('"BIG"', "9" * 5000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


COMMANDS = ["leaderboard", "compare", "history", "report"]
# each case through one command in the fast suite (the four in turn); the rest of the 4 x N
# matrix is slow
PAIRS = [pytest.param(case, command, id=f"{case}-{command}",
                      marks=() if command == COMMANDS[i % 4] else pytest.mark.slow)
         for i, case in enumerate(CASES) for command in COMMANDS]


@pytest.mark.parametrize("case, command", PAIRS)
def test_a_malformed_record_is_one_line_naming_file_and_field(case, command, real, tmp_path,
                                                              capsys):
    schema, mutate, field = CASES[case]
    bad = _write(real, schema, mutate, tmp_path / "bad" / "run.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(real[schema]))
    argv = {"leaderboard": ["leaderboard", str(bad)],
            "compare": ["compare", str(good), str(bad)],
            "history": ["history", "vus_pr", "--dir", str(bad.parent)],
            "report": ["report", str(bad), "-o", str(tmp_path / "r.html")]}[command]
    code, out, err = run_cli(capsys, *argv)
    assert "Traceback" not in err, err
    assert code in (1, 2), (code, out[-500:], err)
    errors = [ln for ln in err.splitlines() if ln.startswith("bench: error:")]
    assert len(errors) == 1, err
    # history skips an unreadable record with one warning naming it, then finds nothing
    named = [ln for ln in err.splitlines() if str(bad) in ln and field in ln]
    assert len(named) == 1, (field, err)
    assert len(err.splitlines()) == (2 if command == "history" else 1), err
    assert not (tmp_path / "r.html").exists()


def test_the_unmutated_records_are_read(real, tmp_path):
    """The control: both records the cases start from load, so each failure above is the
    mutation's."""
    for schema, raw in real.items():
        p = tmp_path / f"s{schema}.json"
        p.write_text(json.dumps(raw))
        assert records.load(p).cells[0].ok


def test_a_deep_record_names_its_field_even_past_json_s_own_limit(tmp_path):
    p = tmp_path / "run.json"
    p.write_text('{"schema": 4, "cells": [{"key_parts": {"a\\"b": ' + DEEP + '}}]}')
    with pytest.raises(records.RecordError) as exc:
        records.load(p)
    assert str(exc.value).startswith(f'{p}: cells[0].key_parts.a"b[0][0][0][0]...: nested')


@pytest.mark.parametrize("command", ["leaderboard", "history", "report"])
def test_impossible_values_are_shown_with_one_warning(command, real, tmp_path, capsys):
    """A VUS-PR of 3 (outside the metric's recorded range [0, 1]) loads, the read-only commands
    show the record as recorded and say so in one warning naming the cell and metric; the
    unmutated record gives no such warning (control)."""
    rec = copy.deepcopy(real[4])
    rec["cells"][0]["evaluations"][0]["metrics"]["vus_pr"] = 3.0
    for name, data, warned in (("bad", rec, True), ("good", real[4], False)):
        path = tmp_path / name / "run.json"
        path.parent.mkdir()
        path.write_text(json.dumps(data))
        argv = {"leaderboard": ["leaderboard", str(path)],
                "history": ["history", "vus_pr", "--dir", str(path.parent)],
                "report": ["report", str(path), "-o", str(tmp_path / f"{name}.html")]}[command]
        code, out, err = run_cli(capsys, *argv)
        assert code == 0 and "Traceback" not in err, err
        lines = [ln for ln in err.splitlines() if "impossible value" in ln]
        assert len(lines) == (1 if warned else 0), err
        if warned:
            assert "vus_pr is impossible: 3 is outside its declared range [0, 1]" in lines[0]
