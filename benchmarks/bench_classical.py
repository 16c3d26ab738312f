"""Fit + score wall time of each classical detector on one ~10k-row real series (issue 21's
target: under 1 s on 2 cores, the matrix profile included).

    python benchmarks/bench_classical.py [--csv ../shared/data/nab/data/realKnownCause/nyc_taxi.csv]
        [--detectors lof,sub_knn,...] [--repeat 3] [--threads 2] [--json OUT]

Each detector is built from the registry with TSB-AD's hyper-parameters (its defaults; ``iforest``
with ``n_estimators=200`` as the reproduction runs it), fitted on the whole series and asked for
the whole series' scores (TSB-AD's unsupervised protocol, what ``tsb_ad_reproduce.py`` times):
best of ``--repeat`` wall times, each after one untimed warm-up (imports, first-call caches), and
beside it the best CPU seconds of the process (all its threads): on a loaded machine the wall
time measures the load as much as the detector, the CPU time does not.
``--threads`` caps the BLAS / OpenMP pools (set before numpy is imported).  The load average is
printed before and after: the 2-core development VM is shared, so a figure is only as good as the
load beside it.
"""

from __future__ import annotations

import argparse
import os
import sys


def _args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--csv", default=os.path.join(here, "..", "..", "shared", "data", "nab", "data",
                                                  "realKnownCause", "nyc_taxi.csv"),
                    help="a NAB csv (timestamp,value)")
    ap.add_argument("--detectors", default="lof,sub_lof,sub_knn,sub_hbos,sub_pca,poly,"
                    "matrix_profile,sr,kmeans_ad,iforest", help="comma separated")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per detector (best kept)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS / OpenMP threads")
    ap.add_argument("--json", default=None, help="write the figures here")
    return ap.parse_args(argv)


PARAMS = {"iforest": {"n_estimators": 200}}


def main(argv=None) -> int:
    a = _args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import json
    import time

    import numpy as np
    import pandas as pd

    from bench.plugins import get_manager

    values = pd.read_csv(a.csv)["value"].to_numpy(np.float64)
    X = values[:, None]
    print(f"{os.path.basename(a.csv)}: {len(values)} rows; {a.threads} threads; best of "
          f"{a.repeat}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(f"{'detector':16} {'best s':>7} {'all s':>24} {'cpu s':>6} {'window':>6} {'< 1 s':>5}")
    out = {"csv": a.csv, "rows": len(values), "threads": a.threads, "load_before":
           os.getloadavg(), "detectors": {}}
    manager = get_manager()
    for name in a.detectors.split(","):
        factory = manager.get("detector", name).factory
        times, cpus, det = [], [], None
        for i in range(a.repeat + 1):
            t, c = time.perf_counter(), time.process_time()
            det = factory(**PARAMS.get(name, {}))
            det = det.fit(X, seed=0) or det
            s = det.score(X)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            if i:
                times.append(dt)
                cpus.append(dc)
        if len(s) != len(values) or not np.isfinite(s).all():
            print(f"{name}: bad scores ({len(s)} values, finite {np.isfinite(s).all()})")
            return 1
        w = getattr(det, "window_", "")
        best = min(times)
        print(f"{name:16} {best:7.3f} {' '.join(f'{t:.3f}' for t in times):>24} "
              f"{min(cpus):6.3f} {w!s:>6} {'yes' if best < 1 else 'NO':>5}", flush=True)
        out["detectors"][name] = {"best_s": best, "all_s": times, "cpu_s": min(cpus),
                                  "window": w}
    out["load_after"] = os.getloadavg()
    print(f"load average after: {out['load_after'][0]:.2f} {out['load_after'][1]:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
