"""Executors: same results everywhere, Ctrl-C and SIGTERM, no process left behind, progress,
options, a real `dask scheduler`."""

from __future__ import annotations

import io
import json
import os
import re
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

import bench
from bench import api, progress
from bench.errors import BenchError
from bench.executors import (
    InlineExecutor,
    ProcessExecutor,
    _worker_env,
    default_executor,
    parse_size,
)
from bench.plugins import get_manager, set_manager
from bench.progress import Progress
from bench.session import run_one

TESTS = Path(__file__).parent
TIMING = ("wall_s", "fit_s", "score_s", "peak_mem_mb", "retained_mem_mb", "device", "load_s")


@pytest.fixture
def manager():
    m, old = fault_plugins.manager(), get_manager()
    set_manager(m)
    try:
        yield m
    finally:
        set_manager(old)


def small_grid(manager):
    return api.plan(["tiny:n_series=2", "tiny:seed=3"], ["zscore_progress", "iforest"],
                    seeds=[1], manager=manager)


def comparable(record):
    """The cells without what legitimately differs between executors (timings, device)."""
    return [{k: v for k, v in c.to_json().items() if k not in TIMING} for c in record["cells"]]


# ----------------------------------------------------------------------------- results


def test_every_executor_gives_the_same_results_and_forwards_progress(manager):
    """inline and process (dask: test_dask_against_a_separate_scheduler_and_workers)."""
    cells = small_grid(manager)
    runs, shown = {}, {}
    for name, opts in [("inline", {}), ("process", {"jobs": 2})]:
        events, stream = Events(), io.StringIO()
        with Progress(len(cells), mode="plain", verbose=True, stream=stream) as prog:
            runs[name] = api.run(cells, out=None, executor=name, manager=manager,
                                 executor_options=opts, listeners=[prog, events])
        steps = [(e["done"], e["total"]) for kind, e in events.got
                 if kind == "task" and e["label"].startswith("tiny:n_series=2 x zscore_progress")]
        assert steps == [(1, 3), (2, 3), (3, 3)] * 2, name  # one fit per series
        assert {e["index"] for kind, e in events.got if kind == "started"} == set(range(4))
        shown[name] = stream.getvalue()
    base = comparable(runs["inline"])
    assert [c["status"] for c in base] == ["ok"] * len(cells)
    assert [c["index"] for c in base] == list(range(len(cells)))
    assert comparable(runs["process"]) == base
    for name, text in shown.items():
        assert "tiny:n_series=2 x zscore_progress seed=1: epoch 3/3" in text, (name, text)
    # listeners are registered for the run only
    assert not [n for n, _ in manager.pm.list_name_plugin() if n.startswith("session-listener")]


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
    procs.append(subprocess.Popen([dask_cli, "worker", address, "--nworkers", "1", "--nthreads",
                                   "1", "--no-dashboard", "--host", "127.0.0.1"],
                                  env=env, stdout=log, stderr=log))
    try:
        cells = small_grid(manager)
        faulty = api.plan(["tiny"], ["fault_fit", "fault_hang"], manager=manager)
        for i, c in enumerate(faulty):
            c.index = len(cells) + i
        from bench.executors import DaskExecutor

        ex = DaskExecutor(scheduler=address, manager=manager, timeout=3)
        ex.client.wait_for_workers(1, timeout=60)
        try:
            out = {o["index"]: o for o in ex.map(run_one, cells + faulty)}
        finally:
            ex.close()
        # the executors' own results (a Session adds the run-level chance test afterwards)
        inline = {"cells": list(InlineExecutor(manager=manager).map(run_one, cells))}
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


# ----------------------------------------------------------------------------- Ctrl-C, SIGTERM


def test_inline_a_plugins_keyboard_interrupt_or_sys_exit_costs_only_its_cell(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "fault_ctrl_c", "fault_sys_exit", "zscore_ok"],
                     manager=manager)
    record = api.run(cells, out=None, manager=manager)
    got = [(c.index, c.status) for c in record.cells]
    assert got == [(0, "ok"), (1, "error"), (2, "error"), (3, "ok")]
    assert "raised KeyboardInterrupt" in record.cells[1].error
    assert "sys.exit(5)" in record.cells[2].error
    assert record.status == "finished"


def test_memory_error_is_labelled_oom_by_its_type(manager):
    cells = api.plan(["tiny"], ["fault_memory_error"], manager=manager)
    (cell,) = api.run(cells, out=None, manager=manager).cells
    assert cell.status == "oom" and "Unable to allocate" in cell.error


RUN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import fault_plugins
from bench import api

if __name__ == "__main__":  # dask's LocalCluster spawns processes that import this file
    executor, out, detectors = sys.argv[1], sys.argv[2], sys.argv[3].split(";")
    m = fault_plugins.manager()
    cells = api.plan(["tiny"], detectors, manager=m)
    try:
        api.run(cells, out=out, executor=executor, manager=m,
                executor_options={{"jobs": 2}} if executor != "inline" else {{}})
    except KeyboardInterrupt as exc:
        print("interrupted", getattr(exc, "signum", None), flush=True)
        sys.exit(128 + getattr(exc, "signum", 2))
"""


def start_run(tmp_path, executor, detectors):
    """A run in a child process (its own session): (process, record directory)."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT.format(tests=str(TESTS))))
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, str(script), executor, str(out), ";".join(detectors)],
                         start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    return p, out


def read_record(out):
    paths = list(out.glob("*.json"))
    if not paths:
        return None
    try:
        return json.loads(paths[0].read_text())
    except (OSError, json.JSONDecodeError):
        return None


def wait_for_cells(p, out, n, limit_s=120):
    """Wait until the run's record holds ``n`` cells (no assumption on the machine's speed
    beyond a generous limit)."""
    deadline = time.time() + limit_s
    while time.time() < deadline and p.poll() is None:
        rec = read_record(out)
        if rec and len(rec["cells"]) >= n:
            return rec
        time.sleep(0.1)
    raise AssertionError(p.stderr.read() if p.poll() is not None else "no cell finished")


def tree(pid):
    """Every process of ``pid``'s tree (found now), with the process groups of each."""
    procs = psutil.Process(pid).children(recursive=True)
    groups = {os.getpgid(q.pid) for q in procs if q.is_running()}
    return procs, groups


def survivors(procs, groups, pidfile=None, wait_s=10.0):
    """Which of ``procs``, of the processes in ``groups`` and of the pids in ``pidfile`` are
    still running after up to ``wait_s`` seconds (zombies count as gone)."""
    if pidfile is not None and pidfile.exists():
        procs = procs + [psutil.Process(int(x)) for x in pidfile.read_text().split()
                         if psutil.pid_exists(int(x))]

    def alive():
        out = []
        for q in procs:
            try:
                if q.is_running() and q.status() != psutil.STATUS_ZOMBIE:
                    out.append(q)
            except psutil.Error:
                pass
        for q in psutil.process_iter():
            try:
                if os.getpgid(q.pid) in groups and q.status() != psutil.STATUS_ZOMBIE \
                        and q.pid not in {x.pid for x in out}:
                    out.append(q)
            except (OSError, psutil.Error):
                pass
        return out

    deadline = time.time() + wait_s
    while alive() and time.time() < deadline:
        time.sleep(0.1)
    left = alive()
    names = [" ".join(q.cmdline()) for q in left]
    for q in left:  # the test fails, but leaves nothing behind either
        q.kill()
    return names


@pytest.mark.parametrize("executor,how", [
    ("process", signal.SIGTERM),
    # inline: the hung cell reaches no safe point, so the stop waits out the 10 s grace
    pytest.param("inline", signal.SIGINT, marks=pytest.mark.slow),
])
def test_a_signal_stops_the_run_cleanly(tmp_path, executor, how):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, or SIGTERM to the
    parent alone, as a job scheduler sends it: finished cells kept, the rest interrupted, the
    record final, no worker left."""
    dets = ["zscore_ok", "fault_hang", "fault_hang", "zscore_ok"]
    if executor == "inline":
        dets = ["zscore_ok", "fault_hang", "zscore_ok"]
    p, out = start_run(tmp_path, executor, dets)
    try:
        wait_for_cells(p, out, 1)
        time.sleep(0.5)  # the hanging cells are in flight
        procs, groups = tree(p.pid)
        if how == signal.SIGINT:
            os.killpg(p.pid, signal.SIGINT)
        else:
            p.send_signal(how)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 128 + how, stderr[-3000:]
    assert f"interrupted {int(how)}" in stdout
    rec = read_record(out)
    assert rec["status"] == "interrupted"
    got = {c["index"]: c["status"] for c in rec["cells"]}
    assert got == {0: "ok", **{i: "interrupted" for i in range(1, len(dets))}}
    assert how.name in rec["cells"][1]["error"]
    assert not survivors(procs, groups - {p.pid})


@pytest.mark.slow
def test_a_detectors_child_processes_do_not_outlive_its_cell(tmp_path, manager):
    """Whether the cell returns or kills its worker."""
    pidfile = tmp_path / "pids"
    cells = api.plan(["tiny"], [f"spawns_children:pidfile={pidfile},then_exit=true",
                                f"spawns_children:pidfile={pidfile}", "zscore_ok"],
                     manager=manager)
    ex = ProcessExecutor(jobs=1, manager=manager)
    try:
        out = list(ex.map(run_one, cells))
        assert [o.status for o in out] == ["crash", "ok", "ok"]
        pids = [int(x) for x in pidfile.read_text().split()]
        assert len(pids) == 4
        # the worker is still alive and reused, its cell's children (one in a session of its
        # own) are gone
        assert ex.workers[0].alive and ex.workers[0].restarts == 1
        assert not survivors([psutil.Process(x) for x in pids if psutil.pid_exists(x)], set(),
                             wait_s=5)
    finally:
        ex.close()


def test_inline_cells_child_processes_are_killed_when_the_cell_ends(tmp_path, manager):
    pidfile = tmp_path / "pids"
    cells = api.plan(["tiny"], [f"spawns_children:pidfile={pidfile}"], manager=manager)
    out = list(InlineExecutor(manager=manager).map(run_one, cells))
    assert [o.status for o in out] == ["ok"]
    pids = [int(x) for x in pidfile.read_text().split()]
    assert len(pids) == 2  # a plain child and one in a session of its own: both ours, both gone
    assert not survivors([psutil.Process(x) for x in pids if psutil.pid_exists(x)], set(),
                         wait_s=5)


@pytest.mark.slow
def test_sigkill_of_the_parent_leaves_no_process_of_the_run(tmp_path):
    """The parent dies without any clean-up: its workers die with it, and so do the processes
    their cells started."""
    pidfile = tmp_path / "pids"
    dets = ["zscore_ok", f"spawns_children:pidfile={pidfile},then_hang=true", "fault_hang"]
    p, out = start_run(tmp_path, "process", dets)
    try:
        wait_for_cells(p, out, 1)
        deadline = time.time() + 60
        while not (pidfile.exists() and len(pidfile.read_text().split()) == 2) \
                and time.time() < deadline:
            time.sleep(0.1)
        # a guard looks at its worker's tree every GUARD_LOOK_S (0.5 s): a process that left
        # the worker's session less than that before the parent died is the one it can miss
        time.sleep(1.0)
        procs, groups = tree(p.pid)
        assert len(procs) >= 4  # two workers (and their guards), the cell's children
        p.kill()
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert not survivors(procs, groups - {p.pid}, pidfile)


@pytest.mark.slow
def test_a_loader_that_segfaults_or_hangs_costs_its_cells_not_the_run(manager, tmp_path):
    cells = api.plan(["tiny", "segfault_loader", "hanging_loader"], ["zscore_ok"],
                     manager=manager)
    record = api.run(cells, out=tmp_path, executor="process", manager=manager,
                     executor_options={"jobs": 2, "timeout": 3})
    by = {c.dataset: c for c in record.cells}
    assert by["segfault_loader"].status == "crash"
    assert "SIGSEGV while loading the dataset" in by["segfault_loader"].error
    assert by["hanging_loader"].status == "timeout"
    assert "loading its dataset exceeded the wall-clock limit of 3 s" in \
        by["hanging_loader"].error
    assert by["tiny"].status == "ok" and record.status == "finished"
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["status"] == "finished"


@pytest.mark.slow
def test_loading_and_fitting_are_limited_on_separate_clocks(manager):
    """2 s of loading and 2 s of fitting against a 3 s limit: neither alone overruns it."""
    cells = api.plan(["slow_loader:seconds=2"], ["slow_fit:seconds=2"], manager=manager)
    record = api.run(cells, out=None, executor="process", manager=manager,
                     executor_options={"jobs": 1, "timeout": 3})
    (cell,) = record.cells
    assert cell.status == "ok", cell.error
    assert cell["load_s"] >= 2 and cell.fit_s >= 2


# ----------------------------------------------------------------------------- progress


def test_plain_progress_is_one_line_per_cell(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "fault_fit"], manager=manager)
    stream = io.StringIO()
    with Progress(len(cells), mode="auto", stream=stream) as prog:  # not a terminal: plain
        api.run(cells, out=None, manager=manager, listeners=[prog])
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\[1/2\] tiny x zscore_ok seed=0: ok \(\d+\.\d s\)", lines[0]), lines
    assert lines[1].startswith("[2/2] tiny x fault_fit seed=0: ERROR: detector 'fault_fit'")
    assert "fit exploded on purpose" in lines[1]
    assert prog.summary().startswith("2 cells, 1 failed")


def test_bar_progress_counts_done_running_and_failed(manager):
    cells = api.plan(["tiny"], ["zscore_ok", "fault_fit", "zscore_progress"], manager=manager)
    stream = io.StringIO()
    with Progress(len(cells), mode="bar", stream=stream) as prog:
        api.run(cells, out=None, manager=manager, listeners=[prog])
    text = stream.getvalue()
    assert "3/3" in text and "failed 1" in text and "running 0" in text
    assert "fit exploded on purpose" in text  # failures are printed above the bar


def test_quiet_progress_prints_nothing(manager):
    cells = api.plan(["tiny"], ["zscore_ok"], manager=manager)
    stream = io.StringIO()
    with Progress(len(cells), mode="quiet", stream=stream) as prog:
        api.run(cells, out=None, manager=manager, listeners=[prog])
    assert stream.getvalue() == ""


class Events:
    """A listener: every started and progress event of a run, through the session's hooks."""

    def __init__(self):
        self.got = []

    @bench.hookimpl
    def bench_cell_started(self, cell):
        self.got.append(("started", cell))

    @bench.hookimpl
    def bench_cell_progress(self, progress):
        self.got.append(("task", progress))


def test_report_goes_to_the_running_cells_sink_and_nowhere_outside_a_cell():
    cell = api.plan(["synthetic"], ["iforest"], manager=get_manager())[0]
    got = []
    progress.report(1, 2)  # outside a cell: nothing to send it to, no error
    with progress.running(cell, got.append):
        progress.report(1, 2, "epoch", every_s=0.0)
    progress.report(2, 2)
    assert [(e["done"], e["what"]) for e in got] == [(1, "epoch")]


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
    with pytest.raises(BenchError, match="--jobs -3: must be a whole number"):
        InlineExecutor(jobs=-3)
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
    """Not the process-wide one: plugins registered on it reach the cells (every process test
    here runs the 'faults' plugins in its workers)."""
    m = fault_plugins.manager()
    assert "tiny" not in get_manager().registry("dataset")
    cells = api.plan(["tiny"], ["zscore_ok"], manager=m)
    ex = InlineExecutor(manager=m)
    (out,) = list(ex.map(run_one, cells))
    assert out["status"] == "ok", out.get("error")
    assert ("faults", "fault_plugins") in ProcessExecutor(jobs=1, manager=m).setup["plugins"]


# ----------------------------------------------------------------------------- issue 22: processes


@pytest.fixture
def hygiene_manager(manager):
    import hygiene_plugins

    manager.register(hygiene_plugins, "hygiene")
    assert not manager.problems, manager.problems
    return manager


def _pids(pidfile):
    return [int(x) for x in pidfile.read_text().split()] if pidfile.exists() else []


@pytest.mark.slow
def test_inline_sweeps_a_daemon_that_a_cell_left(tmp_path, hygiene_manager):
    pidfile = tmp_path / "pids"
    pidfile.touch()
    cells = api.plan(["tiny"], [f"daemonizes:pidfile={pidfile}", "zscore_ok"],
                     manager=hygiene_manager)
    record = api.run(cells, out=None, manager=hygiene_manager)
    assert [c.status for c in record.cells] == ["ok", "ok"]
    (daemon,) = _pids(pidfile)
    assert not survivors([psutil.Process(daemon)] if psutil.pid_exists(daemon) else [], set(),
                         wait_s=5)


@pytest.mark.slow
def test_dask_sweeps_each_cells_processes_and_survives_a_group_kill(tmp_path, hygiene_manager):
    """A LocalCluster without --timeout: a cell's children (plain, setsid, daemon) are gone
    when its cell ends; a detector that kills its own process group costs its cell (its
    worker leads a group of its own), not the run."""
    from bench.executors import DaskExecutor

    pidfile = tmp_path / "pids"
    pidfile.touch()
    cells = api.plan(["tiny"], [f"spawns_children:pidfile={pidfile}",
                                f"daemonizes:pidfile={pidfile}", "kills_its_group", "zscore_ok"],
                     manager=hygiene_manager)
    ex = DaskExecutor(jobs=1, manager=hygiene_manager)
    try:
        workers = psutil.Process().children(recursive=True)
        assert {os.getpgid(w.pid) for w in workers if w.is_running()} - {os.getpgid(0)}, \
            "the Dask workers lead process groups of their own"
        out = {o.index: o for o in ex.map(run_one, cells)}
        assert [out[i].status for i in range(4)] == ["ok", "ok", "crash", "ok"], \
            [out[i].error for i in range(4)]
        pids = _pids(pidfile)
        assert len(pids) == 3
        assert not survivors([psutil.Process(x) for x in pids if psutil.pid_exists(x)], set(),
                             wait_s=5)
    finally:
        ex.close()


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_dask_cells_processes_go_when_bench_is_killed(tmp_path, how):
    """SIGKILL or SIGTERM of the bench process, or Ctrl-C (SIGINT to its group), while a Dask
    cell's children run: the worker's guard kills them (and the workers go with their
    nanny)."""
    pidfile = tmp_path / "pids"
    p, out = start_run(tmp_path, "dask", ["zscore_ok",
                                           f"spawns_children:pidfile={pidfile},then_hang=true"])
    try:
        deadline = time.time() + 120
        while len(_pids(pidfile)) < 2 and time.time() < deadline and p.poll() is None:
            time.sleep(0.1)
        assert len(_pids(pidfile)) == 2, p.stderr.read() if p.poll() is not None else "slow"
        time.sleep(2.0)  # the guard (it looks every 0.5 s) has seen the children
        procs, groups = tree(p.pid)
        if how == signal.SIGINT:
            os.killpg(p.pid, signal.SIGINT)
        else:
            os.kill(p.pid, how)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    kids = [psutil.Process(x) for x in _pids(pidfile) if psutil.pid_exists(x)]
    assert not survivors(procs + kids, groups - {p.pid}, wait_s=15)


def test_a_loaders_sys_exit_is_one_line_naming_the_dataset(tmp_path, hygiene_manager):
    cells = api.plan(["exits_loading"], ["zscore_ok"], manager=hygiene_manager)
    with pytest.raises(BenchError) as exc:
        api.run(cells, out=tmp_path, manager=hygiene_manager)
    assert str(exc.value).startswith("dataset 'exits_loading': its loader called sys.exit(3);")
    assert "\n" not in str(exc.value) and not list(tmp_path.glob("*.json"))
    # an isolating executor loads in its workers: the cell fails, naming the dataset
    record = api.run(cells, out=None, executor="process", executor_options={"jobs": 1},
                     manager=hygiene_manager)
    (cell,) = record.cells
    assert cell.status == "error" and cell.error.startswith(
        "load of dataset 'exits_loading': a plugin called sys.exit(3)"), cell.error


THREAD_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import fault_plugins, hygiene_plugins
import bench.cli as cli

Base = cli.Manager


def with_test_plugins(*args, **kwargs):
    m = Base(*args, **kwargs)
    m.register(fault_plugins, "faults")
    m.register(hygiene_plugins, "hygiene")
    return m


cli.Manager = with_test_plugins
sys.argv = ["bench", "run", "-d", "tiny", "-m", "leaves_thread", "-m", "zscore_ok",
            "--out", {out!r}, "-q"]
cli.main()
"""


@pytest.mark.slow
def test_the_bench_command_ends_when_a_plugin_leaves_a_thread(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(THREAD_SCRIPT.format(tests=str(TESTS), out=str(tmp_path / "out")))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "the detector left 1 thread(s) running after its cell ('plugin-forever')" in p.stderr
    assert read_record(tmp_path / "out")["status"] == "finished"
    assert time.perf_counter() - t0 < 100  # the thread sleeps for an hour
