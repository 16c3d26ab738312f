"""Named suites (bench/suites.py): declared grids, listed, run by `bench run --suite NAME`; a
bare `bench run` is the quick suite."""

from __future__ import annotations

import pytest
from cli_helpers import run_cli

import bench
from bench import api, suites
from bench.params import bind, parse_spec
from bench.plugins import Manager
from bench.suites import CHANCE, Member, Suite

pytest_plugins = ["bench.testing.pytest_plugin"]


def _by(cells, attr):
    out: dict[str, list] = {}
    for c in cells:
        out.setdefault(getattr(c, attr).name, []).append(c)
    return out


def test_quick_suite_covers_every_family_and_default_detector_with_chance_seeds():
    manager = Manager()
    cells = suites.cells("quick", manager)
    dets = _by(cells, "detector")
    defaults = {s.name for s in api.default_specs(manager, "detector")}
    assert defaults <= set(dets)  # every default detector
    assert sorted(c.seed for c in dets["random"]) == sorted(list(range(10)) * 7)
    assert [c.seed for c in dets["constant"]] == [0] * 7
    # the JAX detectors' quick settings are parameters: in every row and record
    assert {str(c.detector) for c in dets["lstm_ae"]} == {"lstm_ae:epochs=3,patience=0"}
    # every dataset family: loaded, the samples say so in their titles
    families, titles = set(), {}
    for spec in dict.fromkeys(str(c.dataset) for c in cells):
        s = parse_spec(spec)
        if s.name in ("hdfs", "hpc"):  # the shipped sets, complete: not loaded here (seconds)
            continue
        factory = manager.get("dataset", s.name).factory
        ds = factory(**bind("dataset", s.name, factory, s.params))
        families.add(ds.family)
        titles[s.name] = ds.title
    assert {"telemetry", "time-series"} <= families and "hdfs" in {c.dataset.name for c in cells}
    assert "sample, 2 of 54 channels" in titles["smap"]
    assert "sample, 2 of 27 channels" in titles["msl"]
    assert "sample" in titles["nab"] and "sample" in titles["telemetry"]
    # every default detector runs on one dataset of each family (the JAX ones only there)
    for name, own in dets.items():
        assert {"hdfs", "hpc", "synthetic"} <= {c.dataset.name for c in own}, name
    assert {c.dataset.name for c in dets["dense_ae"]} == set(suites.QUICK_JAX_ON)
    # indices follow the table order: datasets first, then the suite's detectors
    assert [c.index for c in cells] == list(range(len(cells)))
    order = [c.dataset.name for c in cells]
    assert order == sorted(order, key=[parse_spec(d).name for d in suites.QUICK_DATASETS].index)


def test_regression_gate_runs_the_quick_suite():
    manager = Manager()
    assert [(str(c.dataset), str(c.detector), c.seed) for c in api.quick_suite(manager)] == \
        [(str(c.dataset), str(c.detector), c.seed) for c in suites.cells("quick", manager)]


def test_list_suites_and_one_suite(capsys):
    code, out, _ = run_cli(capsys, "list", "suites")
    assert code == 0
    for name in ("quick", "full", "nab", "tsb-ad"):
        assert f"\n{name} " in out
    code, out, _ = run_cli(capsys, "list", "suites", "full")
    assert code == 0 and "datasets:" in out and "random x seeds 0-9" in out
    assert "nab, smap, msl" in out


def test_unknown_suite_and_conflicting_options_are_one_line(capsys):
    code, _, err = run_cli(capsys, "run", "--suite", "quik")
    assert code == 1 and "no suite 'quik'" in err and "quick" in err
    code, _, err = run_cli(capsys, "run", "--suite", "quick", "-d", "hpc")
    assert code == 1 and "drop -d/-m/--seed" in err
    code, _, err = run_cli(capsys, "run", "--suite", "nab", "--protocol", "unsupervised")
    assert code == 1 and "suite nab runs protocol nab" in err
    assert len(err.strip().splitlines()) == 1


def test_blocked_plugin_leaves_its_detector_out_with_a_note():
    manager = Manager(blocked=["kde"])
    notes: list[str] = []
    cells = suites.plan(suites.quick(), manager, notes=notes)
    assert "kde" not in {c.detector.name for c in cells}
    assert any("detector 'kde' is not registered" in n for n in notes)


class Mine:
    """A plugin that registers a suite of its own data and detectors."""

    @bench.hookimpl
    def bench_register_datasets(register):
        from bench.testing import tiny_dataset

        register("tiny-s", lambda: tiny_dataset(name="tiny-s"))

    @bench.hookimpl
    def bench_register_suites(register):
        register("mine", lambda: Suite("mine", "tiny data, iforest and chance", ("tiny-s",),
                                       (Member("iforest", (0, 1)), Member("random", (3, 4)),
                                        Member("constant"))))
        register("broken", lambda: "not a suite")


def test_plugin_suite_runs_with_its_seeds(register_plugin, bench_manager, tmp_path):
    register_plugin(Mine, "mine")
    assert "mine" in {e.name for e in bench_manager.registry("suite")}
    record = api.run(suites.cells("mine", bench_manager), out=tmp_path, manager=bench_manager)
    got = sorted((c.detector, c.seed) for c in record.cells)
    assert got == sorted([("iforest", 0), ("iforest", 1), ("constant", 0), ("random", 3),
                          ("random", 4)])
    assert all(c.status == "ok" for c in record.cells)
    with pytest.raises(bench.BenchError, match="returned str, not a bench.suites.Suite"):
        suites.cells("broken", bench_manager)


def test_bare_run_is_the_quick_suite_and_says_how_to_run_the_real_thing(monkeypatch, capsys,
                                                                        tmp_path):
    # the quick suite's grid, on cheap stand-ins: its closing line is what a user reads last
    small = Suite("quick", "stand-in", ("synthetic:n_series=1,length=400",),
                  (Member("iforest"), *CHANCE), samples=True, then="bench run --suite full")
    monkeypatch.setattr(suites, "quick", lambda: small)
    code, _, err = run_cli(capsys, "run", "--out", str(tmp_path))
    assert code == 0, err
    assert "12 cells" in err
    assert err.strip().splitlines()[-1].startswith("bench: that was the quick suite (12 cells")
    assert "bench run --suite full" in err.strip().splitlines()[-1]


def test_a_grid_naming_its_detectors_gets_the_chance_rows_unless_told_not_to():
    """bench run -d D -m M: the tables need random (10 seeds) and constant beside M for lift and
    the chance test; --no-chance (chance=False) and a grid naming a chance detector get none."""
    from bench import suites
    from bench.cell import Protocol
    from bench.plugins import get_manager

    m = get_manager()
    cells, suite = suites.for_run(m, None, ["synthetic"], ["iforest"], (), Protocol())
    got = sorted((c.detector.name, c.seed) for c in cells)
    assert suite is None and [c.index for c in cells] == list(range(12))
    assert got == sorted([("iforest", 0), ("constant", 0)] + [("random", s) for s in range(10)])
    plain, _ = suites.for_run(m, None, ["synthetic"], ["iforest"], (), Protocol(), chance=False)
    assert [c.detector.name for c in plain] == ["iforest"]
    own, _ = suites.for_run(m, None, ["synthetic"], ["iforest", "random"], (1,), Protocol())
    assert sorted((c.detector.name, c.seed) for c in own) == [("iforest", 1), ("random", 1)]
