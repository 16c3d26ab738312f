"""Fault tests: real misbehaving plugins (tests/fault_plugins.py) cost only their own cell.

Each executor runs a grid holding every fault it can survive next to well-behaved cells; every
fault gets its status and message, the other cells finish, and the results hold all cells.

No check here depends on the machine's speed: the cells that must time out never end (they
sleep forever), and the well-behaved cells next to them take milliseconds against a limit that
only starts counting when their fit starts (worker start-up and imports are not counted).
"""

from __future__ import annotations

import json

import fault_plugins
import pytest

from bench import api
from bench.executors import DaskExecutor, InlineExecutor, ProcessExecutor
from bench.plugins import get_manager, set_manager
from bench.session import run_one

# detector -> (status, part of the message); the loader fault is a dataset, below
RAISES = {
    "fault_fit": ("error", "fit exploded on purpose"),
    "fault_score": ("error", "score exploded on purpose"),
    "fault_nan": ("error", "NaN or infinite"),
    "fault_length": ("error", "shape (399,) for 400 rows"),
}
KILLS = {
    "fault_hang": ("timeout", "the cell exceeded the wall-clock limit of 3 s (--timeout"),
    "fault_memory": ("oom", "exceeded the limit of 400 MB (--memory-limit)"),
    "fault_exit": ("crash", "exited with code 3"),
}
LOADER = ("error", "loader exploded on purpose")
# generous: the machine running the tests may be busy, and a fresh worker imports sklearn
ISOLATED = {"timeout": 3.0, "memory_limit": "400MB"}


@pytest.fixture
def manager():
    m, old = fault_plugins.manager(), get_manager()
    set_manager(m)
    try:
        yield m
    finally:
        set_manager(old)


def grid(manager, faults, real=("iforest",)):
    """Faults between well-behaved cells; ``real`` detectors too where no clock runs.  Faults
    that kill their process come last, so that few cells need a fresh worker after them."""
    killing = [f for f in faults if f in KILLS]
    cells = api.plan(["tiny"], ["zscore_ok", *(f for f in faults if f not in KILLS), *real],
                     manager=manager)
    cells += api.plan(["fault_loader"], ["zscore_ok"], manager=manager)
    cells += api.plan(["tiny:seed=1"], ["zscore_ok"], manager=manager)
    if killing:
        cells += api.plan(["tiny"], killing, manager=manager)
    for i, c in enumerate(cells):
        c.index = i
    return cells


def run_with(executor, cells):
    try:
        return {out["index"]: out for out in executor.map(run_one, cells)}
    finally:
        executor.close()


def check(cells, results, expected):
    assert sorted(results) == [c.index for c in cells]  # every cell is in the results
    for c in cells:
        out = results[c.index]
        if c.dataset.name == "fault_loader":
            want = LOADER
        elif c.detector.name in expected:
            want = expected[c.detector.name]
        else:
            assert out["status"] == "ok", out.get("error")
            assert out["evaluations"][0]["metrics"]
            continue
        assert (out["status"], c.detector.name) == (want[0], c.detector.name), out.get("error")
        assert want[1] in out["error"], out["error"]
        assert out["dataset"] == c.dataset.name and out["detector"] == c.detector.name
        if want[0] == "error":
            assert "Traceback" in out["traceback"]


def test_inline_records_plugin_errors_and_goes_on(manager):
    cells = grid(manager, RAISES)
    check(cells, run_with(InlineExecutor(manager=manager), cells), RAISES)


@pytest.mark.slow
def test_process_survives_every_fault_and_the_record_holds_every_cell(manager, tmp_path):
    faults = {**RAISES, **KILLS}
    cells = grid(manager, faults, real=())
    record = api.run(cells, out=tmp_path, executor="process", manager=manager,
                     executor_options={"jobs": 2, **ISOLATED})
    check(cells, {c.index: c for c in record.cells}, faults)
    saved = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert saved["status"] == "finished" and record.status == "finished"
    assert [(c["index"], c["status"]) for c in saved["cells"]] == \
        [(c.index, c.status) for c in record.cells]


@pytest.mark.slow
def test_dask_without_isolation_records_a_dead_worker_as_crash(manager):
    """(Isolated Dask cells: test_executors.py::test_dask_against_a_separate_scheduler...)"""
    faults = {"fault_fit": RAISES["fault_fit"], "fault_exit": ("crash", "KilledWorker")}
    cells = api.plan(["tiny"], ["zscore_ok", *faults], manager=manager)
    check(cells, run_with(DaskExecutor(jobs=2, manager=manager), cells), faults)


@pytest.mark.slow
def test_process_workers_are_reused_when_healthy_and_replaced_after_a_crash(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "zscore_ok", "fault_exit", "zscore_ok"],
                     manager=manager)
    for i, c in enumerate(cells):
        c.index = i
    ex = ProcessExecutor(jobs=1, manager=manager)
    out = sorted(ex.map(run_one, cells), key=lambda o: o["index"])
    ex.close()
    assert [o["status"] for o in out] == ["ok", "ok", "crash", "ok"]
    assert ex.workers[0].restarts == 1  # two cells in the first process, then one new one
