"""Hardening (issue 14): bad data, fuzzed command lines and unwritable outputs fail in one line
naming the thing and the fix, before any cell runs; none of them is a traceback or a silent
"ok".  Each case is one row of the table in the issue's closing note."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run_cli

import bench
from bench.data import DataError
from bench.errors import BenchError
from bench.params import bind, parse_spec

# ----------------------------------------------------------------------------- bad data


def _values(n: int = 200, f: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.zeros(n, dtype=np.int8)
    labels[160:165] = 1
    return rng.normal(size=(n, f)), labels


BAD_VALUES = [  # (row, feature, value): train rows are < 100, test rows >= 150
    ("nan in train", 10, 1, np.nan),
    ("nan in test", 170, 0, np.nan),
    ("+inf in train", 3, 2, np.inf),
    ("-inf in test", 199, 1, -np.inf),
    ("1e38 in train", 42, 0, 1e38),
    ("-1e38 in test", 180, 2, -1e38),
    ("1e40 (beyond float32) in test", 151, 0, 1e40),
]


@pytest.mark.parametrize("what,row,feature,value", BAD_VALUES, ids=[c[0] for c in BAD_VALUES])
def test_non_finite_or_huge_values_name_the_series_row_and_feature(what, row, feature, value):
    x, y = _values()
    x[row, feature] = value
    series = bench.Series(x, y, name="probe-7", meta={"features": ["cpu", "mem", "disk"]})
    with pytest.raises(DataError) as exc:
        bench.Dataset("mine", [series])
    msg = str(exc.value)
    assert "\n" not in msg
    assert ("dataset 'mine': series 'probe-7': 1 value(s)" in msg
            and f"(first at row {row})" in msg
            and f"feature {feature} ('{['cpu', 'mem', 'disk'][feature]}')" in msg), msg


def test_every_bad_value_is_counted_and_the_first_is_named():
    x, y = _values()
    x[50:60, 2] = np.nan
    with pytest.raises(DataError, match=r"10 value\(s\) .*\(first at row 50\), the first in "
                                        r"feature 2: nan"):
        bench.Dataset("d", [bench.Series(x, y, name="s")])


@pytest.mark.parametrize("n,split,empty", [
    (2, bench.Split(1, 2), "test"),          # a length-2 series: nothing left to test on
    (200, bench.Split(100, 100), "val"),
    (200, bench.Split(100, 200), "test"),
])
def test_a_series_too_short_for_its_split_is_an_error(n, split, empty):
    x, y = _values(n)
    with pytest.raises(DataError, match=f"series 's' \\({n} rows\\): empty {empty} range"):
        bench.Dataset("d", [bench.Series(x, y, name="s", split=split)])


def test_a_good_dataset_still_builds():
    x, y = _values()
    ds = bench.Dataset("d", [bench.Series(x, y, name="s")])
    assert len(ds) == 1 and len(ds.fingerprint()) == 16


# ----------------------------------------------------------------------------- parameters


class Det:
    def __init__(self, *, n_estimators: int = 100, bandwidth: float | None = None,
                 length: int = 10, anything=1.0):
        pass


@pytest.mark.parametrize("key,raw", [
    ("n_estimators", "1e400"), ("n_estimators", "-inf"), ("n_estimators", "inf"),
    ("n_estimators", "nan"), ("length", "1e400"), ("bandwidth", "nan"), ("bandwidth", "inf"),
    ("bandwidth", "-1e400"), ("anything", "nan"),
])
def test_numbers_out_of_range_are_one_line_errors_not_overflow(key, raw):
    with pytest.raises(BenchError, match=f"parameter '{key}' expects .*, got '{raw}'"):
        bind("detector", "det", Det, {key: raw})


def test_a_nan_value_given_through_the_api_is_rejected_too():
    with pytest.raises(BenchError, match="'bandwidth' expects a finite number, got nan"):
        bind("detector", "det", Det, {"bandwidth": float("nan")})


def test_integers_in_any_finite_spelling_still_parse():
    assert bind("detector", "det", Det, {"n_estimators": "1e2", "length": "12"}) == {
        "n_estimators": 100, "bandwidth": None, "length": 12, "anything": 1.0}


def test_a_key_given_twice_is_an_error_not_last_wins():
    with pytest.raises(BenchError, match="parameter 'n' is given twice"):
        parse_spec("synthetic:n=1,length=5,n=2")


# ----------------------------------------------------------------------------- the CLI

QUICK = ["-d", "synthetic:n_series=1,length=400", "-m", "iforest:n_estimators=10", "-q"]

CLI_CASES = [  # (id, argv, text in the one-line error)
    # issue 22: declared constraints and checks, all before any cell
    ("kde:bandwidth=-1", ["run", "-d", "synthetic:n_series=1", "-m", "kde:bandwidth=-1"],
     "detector 'kde': parameter 'bandwidth' = -1.0 is out of range"),
    ("iforest:n_estimators=0", ["run", "-d", "synthetic:n_series=1", "-m",
                                "iforest:n_estimators=0"],
     "parameter 'n_estimators' = 0 is out of range: it must be a whole number in [1, inf)"),
    ("dense_ae:epochs=-1", ["run", "-d", "synthetic:n_series=1", "-m", "dense_ae:epochs=-1"],
     "detector 'dense_ae': parameter 'epochs' = -1 is out of range"),
    ("dense_ae:lr=0", ["run", "-d", "synthetic:n_series=1", "-m", "dense_ae:lr=0"],
     "parameter 'lr' = 0.0 is out of range: it must be a number in (0, inf)"),
    ("--seed -1", ["run", *QUICK, "--seed", "-1"], "--seed -1: a seed must be a whole number"),
    ("--cost event:c_alarm=-1", ["run", *QUICK, "--cost", "event:c_alarm=-1"],
     "cost 'event': parameter 'c_alarm' = -1.0 is out of range"),
    ("-p no:typo", ["-p", "no:typo", "list", "datasets"], "-p no:typo: no plugin named 'typo'"),
    ("--tolerance typo=0.1", ["compare", "RECORD", "RECORD", "--tolerance", "typo=0.1"],
     "no metric or cost model 'typo'"),
    ("n_series=99999999999999999999999", ["run", "-d", "synthetic:n_series=9999999999999999"
                                          "9999999", "-m", "iforest"],
     "'n_series' expects int, got '99999999999999999999999' (an integer of magnitude"),
    ("min_cost grid 1e12", ["run", *QUICK, "--threshold", "min_cost:grid=logspace:1:2:1e12"],
     "threshold grid 'logspace:1:2:1e12': N = 1e12 must be a whole number from 1 to"),
    ("--scheduler 'not a url'", ["run", *QUICK, "--executor", "dask", "--scheduler",
                                 "not a url"], "--scheduler 'not a url': write the scheduler's"),
    ("history --plot /proc/x.png", ["history", "f1", "--plot", "/proc/x.png", "--dir",
                                    "RECORD_DIR"], "--plot /proc/x.png: cannot write in /proc"),
    ("n_estimators=1e400", ["run", "-d", "synthetic:n_series=1", "-m",
                            "iforest:n_estimators=1e400"],
     "'n_estimators' expects int, got '1e400'"),
    ("n_estimators=-inf", ["run", "-d", "synthetic:n_series=1", "-m",
                           "iforest:n_estimators=-inf"], "'n_estimators' expects int, got '-inf'"),
    ("length=1e400", ["run", "-d", "synthetic:length=1e400", "-m", "iforest"],
     "'length' expects int, got '1e400'"),
    ("duplicate key", ["run", "-d", "synthetic:n_series=1,n_series=2", "-m", "iforest"],
     "'n_series' is given twice"),
    ("period=0", ["run", "-d", "synthetic:period=0,n_series=1", "-m", "iforest"],
     "parameter 'period' = 0 is out of range"),
    ("length=0", ["run", "-d", "synthetic:length=0", "-m", "iforest"],
     "parameter 'length' = 0 is out of range"),
    ("vus_pr:window=-1", ["run", *QUICK, "--metric", "vus_pr:window=-1"],
     "metric 'vus_pr': parameter 'window' = -1 is out of range"),
    ("nab_score:profile", ["run", *QUICK, "--metric", "nab_score:profile=typo"],
     "metric 'nab_score': parameter 'profile' = typo is out of range"),
    ("--timeout nan", ["run", *QUICK, "--executor", "process", "--timeout", "nan"],
     "--timeout nan: must be a number of seconds above 0"),
    ("--timeout 0", ["run", *QUICK, "--executor", "process", "--timeout", "0"],
     "--timeout 0.0: must be a number of seconds above 0"),
    ("-j -3", ["run", *QUICK, "-j", "-3"], "--jobs -3: must be a whole number of at least 1"),
    ("-j 0 process", ["run", *QUICK, "--executor", "process", "-j", "0"],
     "--jobs 0: must be a whole number"),
    ("--out /dev/null", ["run", *QUICK, "--out", "/dev/null"],
     "--out /dev/null: exists and is not a directory"),
    ("--out /proc/x", ["run", *QUICK, "--out", "/proc/x"], "--out /proc/x: cannot create"),
    ("report -o /proc/x.html", ["report", "RECORD", "-o", "/proc/x.html"], "-o /proc/x.html: "),
    ("baseline update --dir /proc/x", ["baseline", "update", "--dir", "/proc/x"],
     "--dir /proc/x: cannot create"),
    ("history nosuchmetric", ["history", "nosuchmetric", "--dir", "RECORD_DIR"],
     "no metric 'nosuchmetric'"),
    ("history --plot x.txt", ["history", "f1", "--dir", "RECORD_DIR", "--plot", "x.txt"],
     "--plot x.txt: write the plot as one of .png"),  # matplotlib's ValueError traced back
    ("history --format typo", ["history", "f1", "--dir", "RECORD_DIR", "--format", "typo"],
     "--format typo: not a table format"),  # tabulate fell back to its default, silently
    ("--tolerance f1=nan", ["compare", "RECORD", "RECORD", "--tolerance", "f1=nan"],
     "--tolerance 'f1=nan': the tolerance must be a finite number"),
    ("--tolerance f1=-1", ["compare", "RECORD", "RECORD", "--tolerance", "f1=-1"],
     "--tolerance 'f1=-1': the tolerance must be a finite number"),
]


@pytest.fixture(scope="module")
def a_record(tmp_path_factory):
    """A real one-cell record to point report/history at."""
    from bench import api
    from bench.plugins import Manager

    out = tmp_path_factory.mktemp("rec")
    m = Manager()
    api.run(api.plan(["synthetic:n_series=1,length=400"], ["iforest:n_estimators=10"],
                     manager=m), out=out, manager=m)
    return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # synthetic's period=0 divides by 0
@pytest.mark.parametrize("case,argv,text", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_fuzzed_command_lines_fail_in_one_line_before_any_cell(case, argv, text, capsys,
                                                                 a_record, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray default results/ would land here
    argv = [str(a_record) if a == "RECORD_DIR" else
            str(next(a_record.glob("*.json"))) if a == "RECORD" else a for a in argv]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1, (code, err)
    lines = [ln for ln in err.splitlines() if ln.startswith("bench: error:")]
    assert len(lines) == 1 and text in lines[0], err
    assert "Traceback" not in err and "cells (" not in err  # no cell was planned to run
    assert not list(tmp_path.glob("results/*.json"))  # and no record was written


def test_history_names_the_metrics_it_knows(capsys, a_record):
    code, _, err = run_cli(capsys, "history", "nosuchmetric", "--dir", str(a_record))
    assert code == 1 and "known: " in err and "roc_auc" in err and "cost:event" in err
    code, out, _ = run_cli(capsys, "history", "roc_auc", "--dir", str(a_record))
    assert code == 0 and "synthetic" in out


def test_csv_value_beyond_float_range_fails_naming_file_row_and_feature(capsys, tmp_path):
    rng = np.random.default_rng(1)
    rows = ["timestamp,value,label"] + [f"{t},{rng.normal():.4f},{int(150 <= t < 155)}"
                                        for t in range(200)]
    rows[121] = "120,1e400,0"
    f = tmp_path / "probe.csv"
    f.write_text("\n".join(rows) + "\n")
    code, _, err = run_cli(capsys, "run", "-d", f"csv:path={f}", "-m", "iforest", "-q",
                           "--out", str(tmp_path / "out"))
    assert code == 1, err
    assert "series 'probe'" in err and "(first at row 120)" in err and "feature 0" in err, err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- wider fuzz

FUZZ = [  # command lines a careless user types; each must end in a usage error or one line
    ["run", "-d", ""], ["run", "-d", ":"],
    ["run", "-d", "synthetic:=1"], ["run", "-d", "synthetic:length="],
    ["run", "-d", "synthetic:length=abc"], ["run", "-d", "synthetic:n_series=1e400"],
    ["run", "-d", "synthetic:seed=nan"], ["run", "-d", "synthetic:seed=-inf"],
    ["run", "-d", "nosuch"], ["run", "-d", "synthetic", "-m", "nosuch"],
    ["run", "-d", "synthetic", "-m", "iforest:nosuch=1"],
    ["run", "-d", "synthetic", "-m", "kde:bandwidth=abc"],
    ["run", "-d", "synthetic", "-m", "kde:bandwidth=nan"],
    ["run", "-d", "synthetic", "-m", "kde:bandwidth=1e400"],
    ["run", "-d", "synthetic", "-m", "iforest:n_estimators=2.5"],
    ["run", "-d", "synthetic", "-m", "iforest", "--seed", "abc"],
    ["run", "-d", "synthetic", "-m", "iforest", "--seed", "1e400"],
    ["run", "-d", "synthetic", "-m", "iforest", "--threshold", "nosuch"],
    ["run", "-d", "synthetic", "-m", "iforest", "--threshold", "percentile:q=nan"],
    ["run", "-d", "synthetic", "-m", "iforest", "--cost", "event:c_alarm=nan"],
    ["run", "-d", "synthetic", "-m", "iforest", "--cost", "event:tolerance=1e400"],
    ["run", "-d", "synthetic", "-m", "iforest", "--metric", "nosuch"],
    ["run", "-d", "synthetic", "-m", "iforest", "--memory-limit", "0"],
    ["run", "-d", "synthetic", "-m", "iforest", "--memory-limit", "-1GB"],
    ["run", "-d", "synthetic", "-m", "iforest", "--executor", "process", "--timeout", "-1"],
    ["run", "-d", "synthetic", "-m", "iforest", "--timeout", "5"],
    ["run", "-d", "synthetic", "-m", "iforest", "--executor", "nosuch"],
    ["run", "-d", "synthetic", "-m", "iforest", "--scheduler", "tcp://x:1"],
    ["run", "-d", "synthetic", "-m", "iforest", "--format", "nosuch"],
    ["run", "-d", "synthetic", "-m", "iforest", "-j", "0"],
    ["leaderboard", "/nonexistent"], ["leaderboard", "/dev/null"], ["leaderboard", "/proc"],
    ["report", "/nonexistent"], ["compare", "/nonexistent", "/nonexistent"],
    ["compare", "RECORD", "RECORD", "--tolerance", "f1"],
    ["compare", "RECORD", "RECORD", "--tolerance", "f1=abc"],
    ["history", "f1", "--dir", "/nonexistent"], ["list", "nosuch"], ["-p", "nosuch", "list",
                                                                       "datasets"],
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("argv", FUZZ, ids=[" ".join(a) or "empty" for a in FUZZ])
def test_fuzzed_invocations_end_in_one_line_never_a_traceback(argv, capsys, a_record, tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = str(next(a_record.glob("*.json")))
    code, _, err = run_cli(capsys, *[record if a == "RECORD" else a for a in argv])
    assert "Traceback" not in err, err
    assert code in (1, 2), (code, err)  # 2: click's usage errors
    if code == 1:
        assert len([ln for ln in err.splitlines() if ln.startswith("bench: error:")]) == 1, err
    assert not list(tmp_path.glob("results/*.json"))  # nothing ran


def test_kde_bandwidth_zero_is_rejected_not_recorded_as_zero_while_scott_is_used():
    from bench import api
    from bench.plugins import Manager

    m = Manager()
    with pytest.raises(BenchError, match=r"detector 'kde': parameter 'bandwidth' = 0.0 is out "
                                         r"of range: it must be a number in \(0, inf\) or None"):
        api.plan(["synthetic:n_series=1,length=400"], ["kde:bandwidth=0"], manager=m)
    cells = api.plan(["synthetic:n_series=1,length=400"], ["kde"], manager=m)
    (scott,) = api.run(cells, out=None, manager=m).cells
    assert scott.status == "ok" and scott.params["bandwidth"] is None


# ----------------------------------------------------------------------------- issue 22: storage

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

from bench import api, report, store  # noqa: E402


def _file_limit(n_bytes):
    def limit():  # in the child: writes past n_bytes fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))
    return limit


@pytest.mark.slow
@pytest.mark.parametrize("limit", [3000, 12_000])
def test_a_full_disk_during_the_record_write_is_one_line_and_loses_nothing(tmp_path, limit):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "bench.cli", "run", "-d",
                        "synthetic:n_series=1,length=600", "-m", "iforest", "-m", "kde",
                        "-m", "random", "--out", str(out), "-q"],
                       capture_output=True, text=True, preexec_fn=_file_limit(limit), timeout=300)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("bench: error: cannot write the run record ") and \
        "File too large" in last and "rerun the same command" in last, last
    assert not list(out.rglob("*.tmp"))
    for rec in out.glob("*.json"):  # whatever was written is whole
        assert json.loads(rec.read_text())["cells"]


def test_a_score_file_that_cannot_be_written_is_a_warning(tmp_path, capsys):
    (tmp_path / "scores").write_text("not a folder")  # the store cannot be created
    cells = api.plan(["synthetic:n_series=1,length=600"], ["random"])
    rec = api.run(cells, out=tmp_path)
    (cell,) = rec.cells
    assert cell.status == "ok" and not cell.scores_file
    assert "scores not stored in" in cell.store_note and "result is kept" in cell.store_note
    assert "bench: warning: scores not stored" in capsys.readouterr().err


def _run_once(out):
    cells = api.plan(["synthetic:n_series=1,length=600"], ["random"])
    return api.run(cells, out=out)


def test_a_fifo_at_a_score_path_does_not_hang_run_or_report(tmp_path):
    rec = _run_once(tmp_path)
    (cell,) = rec.cells
    path = Path(cell.scores_file)
    path.unlink()
    os.mkfifo(path)
    signal.alarm(60)  # a hang fails the test instead of blocking the suite
    try:
        (again,) = _run_once(tmp_path).cells
        assert again.status == "ok" and not again.reused
        assert "is not a regular file" in again.store_note
        path.unlink()
        os.mkfifo(path)
        (record,) = sorted(tmp_path.glob("*.json"))[-1:]
        page = report.write(record, tmp_path / "r.html")
        assert "no plots" in page.read_text()
    finally:
        signal.alarm(0)


def test_score_files_are_read_only_from_the_records_store_by_fit_key(tmp_path):
    rec = _run_once(tmp_path / "a")
    (cell,) = rec.cells
    assert store.path_in(tmp_path / "a" / "scores", cell.fit_key) == Path(cell.scores_file)
    for bad in ("../../etc/passwd", "/etc/passwd", "ABC", "", None, "0" * 65, "abc/../def0123"):
        assert store.path_in(tmp_path, bad) is None, bad
    # a record whose scores_file names another store's file gets no plots from it
    (path,) = (tmp_path / "a").glob("*.json")
    data = json.loads(path.read_text())
    data["cells"][0]["fit_key"] = "../" * 6 + "etc/passwd"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "r.json").write_text(json.dumps(data))
    page = report.write(tmp_path / "b" / "r.json", tmp_path / "r.html").read_text()
    assert "no plots" in page


def test_a_score_file_that_would_decompress_too_far_is_refused_before_reading(tmp_path):
    """About 60 kB on disk, 60 MB once decompressed, for a series of 600 rows (4.8 kB)."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("scores/s0.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.zeros(60 * 2**20 // 8))
        z.writestr("header.npy", b"")
    assert path.stat().st_size < 200_000
    t0 = time.perf_counter()
    stored, why = store.load_file(path, {"s0": 600}, "0" * 24)
    assert stored is None and "member scores/s0.npy would decompress to 62914688 bytes, " \
                              "more than the 8896 its series can need" in why, why
    assert time.perf_counter() - t0 < 1.0


def test_stale_tmp_files_are_swept_fresh_ones_kept(tmp_path):
    (tmp_path / "scores").mkdir()
    old = [tmp_path / ".r.json.abc.tmp", tmp_path / "scores" / ".k.x.npz.tmp"]
    fresh = tmp_path / ".r2.json.def.tmp"
    for f in [*old, fresh]:
        f.write_text("half")
    for f in old:
        os.utime(f, (time.time() - 3600, time.time() - 3600))
    _run_once(tmp_path)
    assert not any(f.exists() for f in old) and fresh.exists()
