"""Wall time of a grid of cheap cells under each executor, and how it grows.

    python benchmarks/bench_grid.py                 # 200 cells: inline, process -j 2, dask 2
    python benchmarks/bench_grid.py --scaling       # also inline cost vs cells and vs series

A cell is one small synthetic series dataset (``synthetic:n_series=S,length=L,seed=k``) x one
cheap detector (a z-score detector registered by this file, and ``iforest`` with 20 trees) x one
seed.  ``overhead/cell`` is the time a cell costs beyond its own work::

    (wall * workers - sum of the cells' own wall_s) / cells

i.e. scheduling, pickling, result transfer, worker start-up and idle workers, per cell.
``first cell s`` is the time to the first finished cell (start-up: workers, imports).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from tabulate import tabulate

import bench


class ZScore:
    """Max absolute z-score over features (cheap)."""

    def __init__(self, *, k: float = 3.0):
        self.k = k

    def fit(self, X, *, X_val=None, seed=0):
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        return self

    def score(self, X):
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)


@bench.hookimpl
def bench_register_detectors(register):
    register("bench_zscore", ZScore)


def manager():
    import bench_grid  # this file under its own name, so worker processes can import it

    from bench.plugins import Manager

    m = Manager()
    m.register(bench_grid, "bench_grid")
    return m


def grid(m, cells: int, series: int, length: int):
    from bench import api

    dets = ["bench_zscore", "iforest:n_estimators=20"]
    seeds = [0, 1]
    n_data = max(1, cells // (len(dets) * len(seeds)))
    data = [f"synthetic:n_series={series},length={length},seed={k}" for k in range(n_data)]
    return api.plan(data, dets, seeds=seeds, manager=m)


def timed(m, cells, executor: str, jobs: int) -> dict:
    from bench import api
    from bench.plugins import set_manager
    from bench.runner import clear_cache

    set_manager(m)
    clear_cache()
    opts = {} if executor == "inline" else {"jobs": jobs}
    first: list[float] = []
    t0 = time.perf_counter()
    rec = api.run(cells, out=None, executor=executor, manager=m, executor_options=opts,
                  on_cell=lambda *_: first or first.append(time.perf_counter() - t0))
    wall = time.perf_counter() - t0
    work = sum(c.get("wall_s", 0.0) for c in rec["cells"])
    workers = 1 if executor == "inline" else jobs
    failed = sum(c["status"] != "ok" for c in rec["cells"])
    return {"executor": executor if executor == "inline" else f"{executor} ({jobs} workers)",
            "cells": len(cells), "failed": failed, "wall s": round(wall, 2),
            "first cell s": round(first[0], 2),
            "cells/s": round(len(cells) / wall, 1), "cell work s": round(work, 2),
            "overhead/cell ms": round(1000 * (wall * workers - work) / len(cells), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--series", type=int, default=1, help="series per dataset")
    ap.add_argument("--length", type=int, default=500, help="time steps per series")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--executors", default="inline,process,dask")
    ap.add_argument("--scaling", action="store_true",
                    help="also time inline at 50/100/200 cells and 1/2/4 series per dataset")
    args = ap.parse_args()
    m = manager()
    print(f"# {os.cpu_count()} CPU cores; python {sys.version.split()[0]}; "
          f"series length {args.length}")
    cells = grid(m, args.cells, args.series, args.length)
    rows = [timed(m, cells, ex, args.jobs) for ex in args.executors.split(",")]
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if args.scaling:
        rows = []
        for n, s in [(50, 1), (100, 1), (200, 1), (50, 2), (50, 4)]:
            r = timed(m, grid(m, n, s, args.length), "inline", 1)
            rows.append({"cells": r["cells"], "series/dataset": s, "wall s": r["wall s"],
                         "ms per cell": round(1000 * r["wall s"] / r["cells"], 1),
                         "ms per cell-series": round(1000 * r["wall s"] / r["cells"] / s, 1)})
        print()
        print(tabulate(rows, headers="keys", tablefmt="github"))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
