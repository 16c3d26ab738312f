"""Loading time of each built-in dataset (what a cell pays once per process, before its cache).

    python benchmarks/bench_dataset_load.py            # shipped samples, and the full sets
                                                       # found in the cache or ../shared/data
    python benchmarks/bench_dataset_load.py --repeat 3 # best of 3

Each spec is loaded through the plugin registry exactly as ``bench run -d SPEC`` does (the
process cache is cleared first).  Columns: spec, series, rows, features (of the first series),
best wall seconds, and the dataset fingerprint.  A full set that is not available locally is
listed as ``skipped`` with the reason.
"""

from __future__ import annotations

import argparse
import time

SPECS = [
    "hdfs", "hdfs:source=100k", "hdfs:view=lines", "hdfs-synthetic", "nab:sample=true", "nab",
    "smap:sample=true", "smap", "msl:sample=true", "msl", "telemetry:sample=true", "telemetry",
    "telemetry:keys=split", "yahoo-synthetic", "yahoo",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("specs", nargs="*", default=SPECS)
    args = ap.parse_args()
    from tabulate import tabulate

    from bench import BenchError
    from bench.params import parse_spec
    from bench.plugins import Manager
    from bench.runner import clear_cache, load_dataset

    manager = Manager()
    rows = []
    for text in args.specs:
        spec = parse_spec(text)
        best, ds = float("inf"), None
        try:
            for _ in range(args.repeat):
                clear_cache()
                t0 = time.perf_counter()
                ds, _ = load_dataset(manager, spec)
                best = min(best, time.perf_counter() - t0)
        except BenchError as exc:
            rows.append([text, "skipped", "", "", "", str(exc)[:70]])
            continue
        n_rows = sum(len(s) for s in ds)
        rows.append([text, len(ds), f"{n_rows:,}", ds.series[0].n_features, f"{best:.2f}",
                     ds.fingerprint()])
    print(tabulate(rows, headers=["dataset", "series", "rows", "features", "seconds",
                                  "fingerprint"], tablefmt="github"))


if __name__ == "__main__":
    main()
