"""Speed of every metric at 100k and 1M points, and of VUS against its reference implementation.

    python benchmarks/bench_metrics.py [--sizes 100000 1000000] [--ref-python PATH] [--no-ref]

Series: T points, 50 anomaly ranges of 10-300 steps at random places, uniform random scores,
alarms = the top 1 % of scores, window 100.  Each bench metric is timed as the best of
``--repeat`` calls.  The reference VUS (``vus`` 0.0.6, ``get_metrics(metric="vus")``, which
computes VUS-ROC and VUS-PR together) runs once per size in a separate interpreter (a virtual
environment used only for benchmarks: ``python -m venv /tmp/refenv && /tmp/refenv/bin/pip
install vus prts``); its wall time excludes interpreter start and imports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from tabulate import tabulate

from bench.metrics import BUILTIN
from bench.metrics.vus import vus

REF = r"""
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
from vus.metrics import get_metrics
y = np.load(sys.argv[1]); s = np.load(sys.argv[2]); w = int(sys.argv[3])
t = time.perf_counter()
r = get_metrics(s, y, metric="vus", slidingWindow=w)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "vus_roc": float(r["VUS_ROC"]), "vus_pr": float(r["VUS_PR"])}))
"""


def make_series(T: int, n_ranges: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.zeros(T, dtype=np.int8)
    for a in rng.choice(T - 400, n_ranges, replace=False):
        y[a:a + int(rng.integers(10, 300))] = 1
    s = rng.random(T)
    p = (s >= np.quantile(s, 0.99)).astype(np.int8)
    return y, s, p


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def reference_vus(y, s, window: int, python: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        yp, sp, script = (os.path.join(d, n) for n in ("y.npy", "s.npy", "ref.py"))
        np.save(yp, y.astype(np.int64))
        np.save(sp, s)
        with open(script, "w") as f:
            f.write(REF)
        out = subprocess.run([python, script, yp, sp, str(window)], capture_output=True,
                             text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ref-python", default=os.environ.get("BENCH_REF_PYTHON",
                                                           "/tmp/refenv/bin/python"))
    ap.add_argument("--no-ref", action="store_true", help="skip the reference implementation")
    args = ap.parse_args()
    rows, vus_rows = [], []
    for T in args.sizes:
        y, s, p = make_series(T)
        for fn in BUILTIN:
            x = s if fn.input == "scores" else p
            kw = {"window": args.window} if fn.__name__.startswith("vus") else {}
            secs = best_of(lambda fn=fn, x=x, kw=kw, y=y: fn(y, x, **kw), args.repeat)
            rows.append([T, fn.__name__, f"{secs:.4f}"])
        ours_s = best_of(lambda y=y, s=s: vus(y, s, window=args.window), args.repeat)
        roc, pr = vus(y, s, window=args.window)
        row = [T, f"{ours_s:.3f}", f"{roc:.9f}", f"{pr:.9f}"]
        if not args.no_ref and os.path.exists(args.ref_python):
            ref = reference_vus(y, s, args.window, args.ref_python)
            row += [f"{ref['seconds']:.1f}", f"{ref['seconds'] / ours_s:.0f}x",
                    f"{max(abs(ref['vus_roc'] - roc), abs(ref['vus_pr'] - pr)):.1e}"]
        vus_rows.append(row)
    print(f"bench metrics, best of {args.repeat} (seconds), 50 ranges, window {args.window}")
    print(tabulate(rows, headers=["T", "metric", "seconds"]))
    print("\nVUS-ROC and VUS-PR together, bench vs the reference implementation (vus 0.0.6)")
    print(tabulate(vus_rows, headers=["T", "bench s", "VUS-ROC", "VUS-PR", "reference s",
                                      "speed-up", "max |diff|"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
