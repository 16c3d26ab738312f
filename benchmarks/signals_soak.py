"""Signals soak (issue 22): SIGTERM (to the bench process, as a job scheduler sends it) and SIGINT
(to its whole process group, as a terminal's Ctrl-C sends it) at random moments of a run with
JAX detectors; after each, the same command is rerun to resume.

The command is ``python -m bench`` (the same entry point as the ``bench`` script, which
installs its flag handler before bench's imports); a share of the moments (``--early``) is drawn
in the first 0.6 s, while the command is still importing.

Each trial also notes whether the kernel was already ending the process when the signal was sent
(PF_EXITING in /proc/PID/stat): such a signal is dropped by the kernel and the command exits 0
with a finished record, which is not an ignored signal.  ``--end`` draws a share of the moments
in the reference run's last 0.5 s to look at exactly that.

Counts, per signal: stopped with 128 + signum, ended by the signal itself (while the interpreter
exits after the work is done, or before Python ran bench's entry point: a shell's $? is
128 + signum too), ignored (exit 0: the run went on), other exit
statuses, runs that did not stop within the limit, and cells whose resumed results differ from
an uninterrupted reference run (lost cells).  A signal that lands after the last cell's record
write still stops the command with 128 + signum; the record then says ``finished``.

    nice -n 10 python benchmarks/signals_soak.py --n 50 --out /tmp/soak

Prints one JSON line per trial and a summary; exits 1 if any trial failed its checks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

GRID = "-d synthetic -m iforest -m kde -m dense_ae"


def bench_cmd(out: Path, extra: list[str]) -> list[str]:
    """``extra``: the grid and any other `bench run` options."""
    return [sys.executable, "-m", "bench", "run", *extra, "--out", str(out), "-q"]


def records(out: Path) -> list[dict]:
    found = []
    for p in sorted(out.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            found.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            pass
    return found


def results(record: dict) -> dict[tuple, object]:
    """(dataset, detector, seed) -> the evaluations of each ok cell."""
    return {(c["dataset"], c["detector"], c["seed"]): c.get("evaluations")
            for c in record["cells"] if c["status"] == "ok"}


def exiting(pid: int) -> bool:
    """Whether the kernel has begun ending process ``pid`` (PF_EXITING in /proc/PID/stat's
    flags): a signal sent then is ignored by the kernel, whatever the program does."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    flags = int(stat[stat.rindex(")") + 2:].split()[6])
    return bool(flags & 0x4)


def run(cmd: list[str], limit_s: float) -> tuple[int, str]:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s,
                       start_new_session=True)
    return p.returncode, p.stderr


def trial(i: int, how: signal.Signals, delay: float, base: Path, extra: list[str],
          reference: dict, limit_s: float) -> dict:
    out = base / f"t{i}"
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.Popen(bench_cmd(out, extra), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(delay)
    sent = time.perf_counter()
    if p.poll() is not None:  # the run was over before the signal: not a trial
        p.communicate()
        return {"trial": i, "signal": how.name, "delay_s": round(delay, 2), "sent": False}
    was_exiting = exiting(p.pid)
    if how == signal.SIGINT:
        os.killpg(p.pid, signal.SIGINT)
    else:
        p.send_signal(how)
    try:
        _, err = p.communicate(timeout=limit_s)
        stop_s = time.perf_counter() - sent
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        stop_s = None
    recs = records(out)
    status = recs[-1]["status"] if recs else "no record"
    interrupted_cells = sum(c["status"] == "interrupted" for c in recs[-1]["cells"]) if recs \
        else 0
    other_failed = [c["status"] for c in recs[-1]["cells"]
                    if c["status"] not in ("ok", "interrupted")] if recs else []
    rc2, err2 = run(bench_cmd(out, extra), limit_s * 4)
    resumed = records(out)[-1] if records(out) else None
    got = results(resumed) if resumed and resumed["status"] == "finished" else {}
    lost = sorted(str(k) for k in reference if got.get(k) != reference[k])
    return {"trial": i, "signal": how.name, "delay_s": round(delay, 2), "sent": True,
            "rc": p.returncode, "exiting_when_sent": was_exiting,
            "stop_s": None if stop_s is None else round(stop_s, 2), "record": status,
            "interrupted_cells": interrupted_cells, "other_failed": other_failed,
            "ignored_msg": "Exception ignored" in err, "traceback": "Traceback" in err,
            "resume_rc": rc2, "lost_cells": lost, "stderr_tail": err[-300:] if p.returncode
            not in (130, 143) else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="trials per signal")
    ap.add_argument("--out", default="/tmp/bench-signals-soak")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=60.0, help="seconds a run may take to stop")
    ap.add_argument("--grid", default=GRID, help="the `bench run` grid and options")
    ap.add_argument("--early", type=float, default=0.2,
                    help="share of the moments drawn in the first 0.6 s (while importing)")
    ap.add_argument("--end", type=float, default=0.0,
                    help="share of the moments drawn in the reference run's last 0.5 s")
    args = ap.parse_args()
    base = Path(args.out)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    extra = args.grid.split()
    t0 = time.perf_counter()
    rc, err = run(bench_cmd(base / "reference", extra), args.limit * 4)
    if rc != 0:
        print(f"reference run failed ({rc}): {err[-500:]}", file=sys.stderr)
        return 1
    span = time.perf_counter() - t0
    reference = results(records(base / "reference")[-1])
    rng = random.Random(args.seed)
    rows, skipped, i = [], 0, 0
    for how in [signal.SIGTERM, signal.SIGINT] * args.n:
        while True:  # a moment when the run is still going (retried: runs vary in length)
            i += 1
            u = rng.random()
            delay = rng.uniform(0.0, 0.6) if u < args.early else \
                rng.uniform(span - 0.5, span + 0.1) if u < args.early + args.end else \
                rng.uniform(0.2, span)
            row = trial(i, how, delay, base, extra, reference, args.limit)
            print(json.dumps(row), flush=True)
            if row["sent"]:
                break
            skipped += 1
        rows.append(row)
    summary = {"command": " ".join(bench_cmd(Path("OUT"), extra)[1:]),
               "reference_s": round(span, 1), "reference_cells": len(reference),
               "moments_after_the_run_ended_redrawn": skipped,
               "early_moments_sent": sum(r["delay_s"] < 0.6 for r in rows)}
    bad = 0
    for how in (signal.SIGTERM, signal.SIGINT):
        mine = [r for r in rows if r["signal"] == how.name]
        # a signal during the interpreter's exit (the work done) ends it by the signal itself:
        # the shell's $? is 128 + signum as well
        stopped = [r for r in mine if r["rc"] in (128 + how, -how)]
        stops = sorted(r["stop_s"] for r in stopped if r["stop_s"] is not None)
        s = {"sent": len(mine), f"exit_{128 + how}": sum(r["rc"] == 128 + how for r in mine),
             "ended_by_the_signal": sum(r["rc"] == -how for r in mine),
             "ignored_exit_0": sum(r["rc"] == 0 for r in mine),
             "of_which_sent_while_the_kernel_was_ending_it": sum(
                 r["rc"] == 0 and r["exiting_when_sent"] for r in mine),
             "other_exit": sorted({r["rc"] for r in mine} - {0, 128 + how, -how}),
             "not_stopped_in_limit": sum(r["stop_s"] is None for r in mine),
             "exception_ignored_msgs": sum(r["ignored_msg"] for r in mine),
             "tracebacks": sum(r["traceback"] for r in mine),
             "record_interrupted": sum(r["record"] == "interrupted" for r in mine),
             "record_finished": sum(r["record"] == "finished" for r in mine),
             "no_record_yet": sum(r["record"] == "no record" for r in mine),
             "resume_failed": sum(r["resume_rc"] != 0 for r in mine),
             "lost_cells_after_resume": sum(len(r["lost_cells"]) for r in mine),
             "stop_s_median": stops[len(stops) // 2] if stops else None,
             "stop_s_max": stops[-1] if stops else None}
        bad += len(mine) - len(stopped) + s["lost_cells_after_resume"] + s["resume_failed"]
        summary[how.name] = s
    print(json.dumps(summary, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
