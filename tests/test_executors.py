"""Executors: same results everywhere, Ctrl-C, progress, options, a real `dask scheduler`."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import fault_plugins
import psutil
import pytest

from bench import api, progress
from bench.errors import BenchError
from bench.executors import (
    InlineExecutor,
    ProcessExecutor,
    _worker_env,
    default_executor,
    parse_size,
    run_all,
)
from bench.plugins import get_manager, set_manager
from bench.progress import Progress
from bench.runner import run_cell

TESTS = Path(__file__).parent
TIMING = ("wall_s", "fit_s", "score_s", "peak_mem_mb", "device")


@pytest.fixture
def manager():
    m, old = fault_plugins.manager(), get_manager()
    set_manager(m)
    try:
        yield m
    finally:
        set_manager(old)


def small_grid(manager):
    return api.plan(["tiny:n_series=2", "tiny:seed=3"], ["zscore_ok", "iforest"], seeds=[0, 1],
                    manager=manager)


def comparable(record):
    """The cells without what legitimately differs between executors (timings, device)."""
    return [{k: v for k, v in c.items() if k not in TIMING} for c in record["cells"]]


# ----------------------------------------------------------------------------- results


def test_every_executor_gives_the_same_results(manager):
    cells = small_grid(manager)
    runs = {name: api.run(cells, out=None, executor=name, manager=manager,
                          executor_options=opts)
            for name, opts in [("inline", {}), ("process", {"jobs": 2}),
                               ("dask", {"jobs": 2})]}
    base = comparable(runs["inline"])
    assert [c["status"] for c in base] == ["ok"] * len(cells)
    assert [c["index"] for c in base] == list(range(len(cells)))
    for name in ("process", "dask"):
        assert comparable(runs[name]) == base, name


@pytest.mark.slow
def test_dask_against_a_separate_scheduler_and_workers(manager, tmp_path):
    """As a user with a cluster would: `dask scheduler` and `dask worker` processes."""
    dask_cli = shutil.which("dask")
    if dask_cli is None:
        pytest.skip("the dask command is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS),
                                                         os.environ.get("PYTHONPATH", "")])}
    log = open(tmp_path / "dask.log", "w")  # noqa: SIM115
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=log, stderr=log)]
    procs.append(subprocess.Popen([dask_cli, "worker", address, "--nworkers", "2", "--nthreads",
                                   "1", "--no-dashboard", "--host", "127.0.0.1"],
                                  env=env, stdout=log, stderr=log))
    try:
        cells = small_grid(manager)
        faulty = api.plan(["tiny"], ["fault_fit", "fault_hang"], manager=manager)
        for i, c in enumerate(faulty):
            c.index = len(cells) + i
        from bench.executors import DaskExecutor

        ex = DaskExecutor(scheduler=address, manager=manager, timeout=3)
        ex.client.wait_for_workers(2, timeout=60)
        try:
            out = {o["index"]: o for o in ex.map(run_cell, cells + faulty)}
        finally:
            ex.close()
        inline = api.run(cells, out=None, executor="inline", manager=manager)
        remote = {"cells": [out[c.index] for c in cells]}
        assert comparable(remote) == comparable(inline)
        assert out[len(cells)]["status"] == "error"
        assert "fit exploded" in out[len(cells)]["error"]
        assert out[len(cells) + 1]["status"] == "timeout"
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


# ----------------------------------------------------------------------------- Ctrl-C


def test_inline_ctrl_c_records_finished_cells_and_marks_the_running_one(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "fault_ctrl_c", "zscore_ok"], seeds=[0],
                     manager=manager)
    got = []
    with pytest.raises(KeyboardInterrupt):
        run_all(InlineExecutor(), run_cell, cells, got.append)
    assert [(o["index"], o["status"]) for o in got] == [(0, "ok"), (1, "interrupted")]


CTRL_C_SCRIPT = """
import json, os, sys
sys.path.insert(0, {tests!r})
import fault_plugins
from bench import api
from bench.executors import run_all
from bench.plugins import set_manager
from bench.runner import run_cell

def save(out):
    got.append(out)
    with open({out!r} + ".tmp", "w") as f:
        json.dump(got, f)
    os.replace({out!r} + ".tmp", {out!r})


if __name__ == "__main__":  # dask's LocalCluster spawns processes that import this file
    m = fault_plugins.manager()
    set_manager(m)
    cells = api.plan(["tiny"], ["zscore_ok", "fault_hang", "fault_hang", "zscore_ok"], manager=m)
    for i, c in enumerate(cells):
        c.index = i
    got = []
    ex = m.get("executor", sys.argv[1]).factory(jobs=2, manager=m)
    try:
        run_all(ex, run_cell, cells, save)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    finally:
        ex.close()
"""


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_ctrl_c_stops_cleanly(tmp_path, executor):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it."""
    out = tmp_path / "cells.json"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(CTRL_C_SCRIPT.format(tests=str(TESTS), out=str(out))))
    p = subprocess.Popen([sys.executable, str(script), executor], start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not out.exists() and time.time() < deadline and p.poll() is None:
            time.sleep(0.1)
        assert out.exists(), p.stderr.read() if p.poll() is not None else "no cell finished"
        time.sleep(1.0)  # both hanging cells are now in flight
        kids = psutil.Process(p.pid).children(recursive=True)
        os.killpg(p.pid, signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, stderr[-3000:]
    assert "interrupted" in stdout
    got = {o["index"]: o["status"] for o in json.loads(out.read_text())}
    assert got == {0: "ok", 1: "interrupted", 2: "interrupted"}
    time.sleep(0.5)
    alive = [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [k.cmdline() for k in alive]


# ----------------------------------------------------------------------------- progress


def test_plain_progress_is_one_line_per_cell(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "fault_fit"], manager=manager)
    stream = io.StringIO()
    with Progress(len(cells), mode="auto", stream=stream) as prog:  # not a terminal: plain
        api.run(cells, out=None, manager=manager, on_cell=prog.cell_finished)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/2] tiny x zscore_ok seed=0: ok (0.0 s)"
    assert lines[1].startswith("[2/2] tiny x fault_fit seed=0: ERROR: detector 'fault_fit'")
    assert "fit exploded on purpose" in lines[1]
    assert prog.summary().startswith("2 cells, 1 failed")


def test_bar_progress_counts_done_running_and_failed(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "fault_fit", "zscore_progress"], manager=manager)
    stream = io.StringIO()
    with Progress(len(cells), mode="bar", stream=stream) as prog:
        api.run(cells, out=None, manager=manager, on_cell=prog.cell_finished)
    text = stream.getvalue()
    assert "3/3" in text and "failed 1" in text and "running 0" in text
    assert "fit exploded on purpose" in text  # failures are printed above the bar


def test_quiet_progress_prints_nothing(manager):
    cells = api.plan(["tiny"], ["zscore_ok"], manager=manager)
    stream = io.StringIO()
    with Progress(len(cells), mode="quiet", stream=stream) as prog:
        api.run(cells, out=None, manager=manager, on_cell=prog.cell_finished)
    assert stream.getvalue() == ""


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_training_progress_reaches_the_parent(manager, executor):
    cells = api.plan(["tiny"], ["zscore_ok", "zscore_progress"], manager=manager)
    events = []
    progress.listen(events.append)
    stream = io.StringIO()
    try:
        with Progress(len(cells), mode="plain", verbose=True, stream=stream) as prog:
            api.run(cells, out=None, executor=executor, manager=manager,
                    on_cell=prog.cell_finished,
                    executor_options={"jobs": 2} if executor == "process" else {})
    finally:
        progress.unlisten(events.append)
    steps = [(e["done"], e["total"]) for e in events
             if e["kind"] == "task" and e["index"] == 1]
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert {e["index"] for e in events if e["kind"] == "started"} == {0, 1}
    assert "tiny x zscore_progress seed=0: epoch 3/3" in stream.getvalue()


def test_report_outside_a_cell_is_a_no_op():
    events = []
    progress.listen(events.append)
    try:
        progress.report(1, 2)
    finally:
        progress.unlisten(events.append)
    assert events == []


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize("text,size", [("2GB", 2 * 10**9), ("512MB", 512 * 10**6),
                                       ("1.5GiB", int(1.5 * 2**30)), ("2G", 2 * 2**30),
                                       ("100", 100), (" 64 mib ", 64 * 2**20)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["two gigs", "2XB", "-1GB", "0", ""])
def test_parse_size_rejects_nonsense(text):
    with pytest.raises(BenchError, match="--memory-limit"):
        parse_size(text)


def test_inline_refuses_options_it_cannot_honour():
    with pytest.raises(BenchError, match="--executor process"):
        InlineExecutor(timeout=5)
    with pytest.raises(BenchError, match="--executor process"):
        InlineExecutor(jobs=4)
    with pytest.raises(BenchError, match="--timeout"):
        ProcessExecutor(timeout=-1)


def test_default_executor():
    assert default_executor(None, None) == "inline"
    assert default_executor(None, 1) == "inline"
    assert default_executor(None, 4) == "process"
    assert default_executor("dask", 4) == "dask"


def test_workers_get_one_gpu_each_and_no_preallocation(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    envs = [_worker_env(i) for i in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]
    assert all(e["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" for e in envs)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert _worker_env(1)["CUDA_VISIBLE_DEVICES"] == "3"


def test_executors_are_registered():
    names = get_manager().registry("executor").names()
    assert {"inline", "process", "dask"} <= set(names)


def test_executors_use_the_manager_they_are_given():
    """Not the process-wide one: plugins registered on it reach the cells, also in workers."""
    m = fault_plugins.manager()
    assert "tiny" not in get_manager().registry("dataset")
    cells = api.plan(["tiny"], ["zscore_ok"], manager=m)
    for ex in (InlineExecutor(manager=m), ProcessExecutor(jobs=1, manager=m)):
        try:
            (out,) = list(ex.map(run_cell, cells))
        finally:
            ex.close()
        assert out["status"] == "ok", out.get("error")
