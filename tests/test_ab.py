"""A/B: ``bench compare --a SPEC --b SPEC [RECORDS...]`` answers "did it help?" with each
dataset's headline for A and B and a paired Wilcoxon test over its series (exit 0)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from cli_helpers import run_cli
from scipy.stats import wilcoxon

from bench import ab, api

SYNTH = "synthetic:n_series=6,length=600"


def _table(out: str) -> dict[str, list[str]]:
    """The A/B table's rows by dataset: [headline, A, B, B - A, better, seeds, series, p]."""
    rows = {}
    for line in out.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) >= 9 and cols[0] and not set(cols[0]) <= set("-") and cols[0] != "dataset":
            rows[cols[0]] = cols[1:9]
    return rows


def _headline(cell) -> tuple[float, dict[str, float]]:
    ev = cell.evaluation()
    return ev.value(cell.headline), {s.series: s.metrics[cell.headline] for s in ev.per_series}


@pytest.fixture(scope="module")
def bandwidths(tmp_path_factory):
    out = tmp_path_factory.mktemp("ab")
    cells = api.plan([SYNTH], ["kde", "kde:bandwidth=2"])
    return api.run(cells, out=out), out


def test_kde_against_bandwidth_2_answers_with_numbers(bandwidths, capsys):
    rec, out = bandwidths
    code, stdout, err = run_cli(capsys, "compare", "--a", "kde", "--b", "kde:bandwidth=2",
                                str(out))
    assert code == 0, err
    row = _table(stdout)["synthetic(length=600,n_series=6)"]
    a_cell = next(c for c in rec.cells if not c.given)
    b_cell = next(c for c in rec.cells if c.given)
    a, a_series = _headline(a_cell)
    b, b_series = _headline(b_cell)
    assert row[0].startswith("VUS-PR")
    assert float(row[1]) == pytest.approx(a, abs=5e-4) and float(row[2]) == pytest.approx(
        b, abs=5e-4)
    assert row[5:7] == ["1", "6"]  # one seed, six paired series
    names = sorted(a_series)
    expected = wilcoxon([a_series[n] for n in names], [b_series[n] for n in names]).pvalue
    assert float(row[7]) == pytest.approx(expected, rel=1e-2)
    assert row[4] == ("B" if b > a else "A")


def test_same_detector_under_two_windows(tmp_path, capsys):
    r1 = api.run(api.plan([SYNTH], ["iforest:n_estimators=20"]), out=tmp_path / "w32")
    r2 = api.run(api.plan([SYNTH], ["iforest:n_estimators=20"],
                          protocol=api.Protocol(window=8)), out=tmp_path / "w8")
    assert {c.harness_window for c in r1.cells} == {32}
    for args in (("--a", "iforest:n_estimators=20", "--b", "iforest:n_estimators=20"),
                 ("--a", "iforest:n_estimators=20@window=32",
                  "--b", "iforest:n_estimators=20@window=8")):
        code, stdout, err = run_cli(capsys, "compare", *args, str(tmp_path / "w32"),
                                    str(tmp_path / "w8"))
        assert code == 0, err
        (row,) = _table(stdout).values()
        assert float(row[1]) == pytest.approx(_headline(r1.cells[0])[0], abs=5e-4)
        assert float(row[2]) == pytest.approx(_headline(r2.cells[0])[0], abs=5e-4)
        assert re.fullmatch(r"[0-9.e-]+|n/a \(.+\)", row[7])
    # the gate, by contrast, says exactly what differs and how to see them side by side
    code, _, err = run_cli(capsys, "compare", str(tmp_path / "w32"), str(tmp_path / "w8"))
    assert code == 1
    assert "not comparable: protocol window 32 -> 8" in err
    assert "bench compare --a DETECTOR --b DETECTOR" in err


def test_ab_errors_are_one_line(bandwidths, capsys):
    _, out = bandwidths
    code, _, err = run_cli(capsys, "compare", "--a", "lstm_ae", "--b", "kde", str(out))
    assert code == 1 and err.count("\n") == 1
    assert "no finished cell matches 'lstm_ae'" in err and "kde(bandwidth=2)" in err
    code, _, err = run_cli(capsys, "compare", "--a", "kde", str(out))
    assert code == 1 and "give both --a SPEC and --b SPEC" in err
    code, _, err = run_cli(capsys, "compare", "--a", "kde", "--b", "kde", str(out))
    assert code == 1 and "give two records" in err


def test_paired_test_without_differences_says_so():
    p, note, n = ab._wilcoxon([0.5, 0.7, math.nan], [0.5, 0.7, 0.2])
    assert math.isnan(p) and note == "identical on every series" and n == 2
    p, note, n = ab._wilcoxon(list(np.linspace(0, 1, 8)), list(np.linspace(0, 1, 8) + 0.1))
    assert note == "" and n == 8 and p == pytest.approx(wilcoxon(
        np.linspace(0, 1, 8), np.linspace(0, 1, 8) + 0.1).pvalue)


def test_selector_matches_given_parameters_exactly(bandwidths):
    rec, _ = bandwidths
    sel = ab.Selector.parse("kde:bandwidth=2.0")
    assert [c.detector_label for c in rec.cells if sel.matches(c)] == ["kde(bandwidth=2)"]
    assert [c.detector_label for c in rec.cells
            if ab.Selector.parse("kde").matches(c)] == ["kde"]


def test_two_runs_into_one_directory_are_compared_and_a_rerun_replaces(tmp_path, capsys):
    grid = ["synthetic:n_series=4,length=400"]
    api.run(api.plan(grid, ["random"]), out=tmp_path)
    b = api.run(api.plan(grid, ["constant"]), out=tmp_path)
    a = api.run(api.plan(grid, ["random"]), out=tmp_path, reuse=False)  # the newer A
    code, stdout, err = run_cli(capsys, "compare", "--a", "random", "--b", "constant",
                                str(tmp_path))
    assert code == 0, err
    (row,) = _table(stdout).values()
    assert float(row[1]) == pytest.approx(_headline(a.cells[0])[0], abs=5e-4)
    assert float(row[2]) == pytest.approx(_headline(b.cells[0])[0], abs=5e-4)
    assert row[5:7] == ["1", "4"]
    code, _, err = run_cli(capsys, "compare", "--a", "random", "--b", "constant",
                           str(tmp_path / "nope"))
    assert code == 1 and "nope does not exist" in err
