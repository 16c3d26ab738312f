"""A new user's first `bench run`, side by side: the quick suite with an empty JAX compilation
cache (cold) and again with the cache that run filled (warm), each in a fresh process.

    python benchmarks/bench_first_run.py [--suite quick] [--runs 1] [--json out.json]

Each run is ``bench run --suite SUITE --force -q`` in a child process with
``BENCH_JIT_CACHE_DIR`` pointing at a new empty folder (cold) and then at the same, filled
folder (warm); ``--force`` refits every cell (no score store reuse), ``-q`` drops progress.
Reported per run: wall seconds, CPU seconds of the child (user + system, from ``wait4``), the
1-minute load average before and after (other processes share the cores: on a loaded machine
the wall time grows, the CPU time much less), and from the run record the profile of where the
time went: seconds before the first cell (imports, planning, loading the datasets), cells'
fit / score / evaluation seconds, XLA compilations and their seconds (``compile_s``: tracing,
lowering and compiling, or loading from the cache), by detector.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def one_run(suite: str, cache: str, out: str) -> dict:
    """Run the suite once in a child process; wall and CPU seconds, load, and the record."""
    env = {**os.environ, "BENCH_JIT_CACHE_DIR": cache}
    env.pop("BENCH_NO_JIT_CACHE", None)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "run", "--suite", suite,
                             "--force", "-q", "--out", out], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench run failed:\n{err}")
    record = json.loads(max(Path(out).glob("*.json")).read_text())
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "load_before": load0, "load_after": os.getloadavg()[0],
            "profile": profile(record, t0_wall=wall)}


def profile(record: dict, t0_wall: float) -> dict:
    """Where the run's time went, from its record."""
    cells = record["cells"]
    by = defaultdict(lambda: defaultdict(float))
    for c in cells:
        d = by[c["detector"]]
        d["cells"] += 1
        for k in ("wall_s", "fit_s", "score_s", "compile_s", "compiles", "load_s"):
            d[k] += float(c.get(k) or 0.0)
    cell_wall = sum(c["wall_s"] for c in cells)
    first = datetime.fromisoformat(record["created"])
    return {"cells": len(cells), "cells_wall_s": cell_wall,
            "outside_cells_s": t0_wall - cell_wall,
            "compile_s": sum(float(c.get("compile_s") or 0) for c in cells),
            "compiles": int(sum(int(c.get("compiles") or 0) for c in cells)),
            "by_detector": {k: dict(v) for k, v in by.items()},
            "created": first.isoformat()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--runs", type=int, default=1, help="cold + warm pairs (default 1)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-first-run-") as tmp:
            cache = str(Path(tmp) / "jax-cache")
            pair = {"cold": one_run(args.suite, cache, str(Path(tmp) / "cold")),
                    "warm": one_run(args.suite, cache, str(Path(tmp) / "warm"))}
            results.append(pair)
    print(f"bench run --suite {args.suite}: {os.cpu_count()} CPUs")
    print(f"{'run':<5} {'wall s':>7} {'CPU s':>7} {'load':>9} {'cells':>5} {'compiles':>8} "
          f"{'compile s':>9} {'outside cells s':>15}")
    for pair in results:
        for kind in ("cold", "warm"):
            r = pair[kind]
            p = r["profile"]
            print(f"{kind:<5} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} "
                  f"{r['load_before']:4.1f}-{r['load_after']:<4.1f} {p['cells']:5d} "
                  f"{p['compiles']:8d} {p['compile_s']:9.1f} {p['outside_cells_s']:15.1f}")
    print("\nby detector (last pair): cells, wall s, fit s, score s, compile s, compiles")
    last = results[-1]
    for det in last["cold"]["profile"]["by_detector"]:
        row = []
        for kind in ("cold", "warm"):
            d = last[kind]["profile"]["by_detector"][det]
            row.append(f"{kind} {d['wall_s']:6.1f} {d['fit_s']:6.1f} {d['score_s']:6.1f} "
                       f"{d['compile_s']:6.1f} {int(d['compiles']):3d}")
        print(f"{det:<24} {int(last['cold']['profile']['by_detector'][det]['cells']):3d}  "
              + "  |  ".join(row))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
