"""HDFS log parsing speed and memory: Drain over generated HDFS-like logs of 1M and 10M lines.

    python benchmarks/bench_hdfs_parse.py                 # 1M and 10M lines
    python benchmarks/bench_hdfs_parse.py --sizes 100000  # a quick look

For each size the log is generated once (``bench.datasets._hdfs_gen``, seed 0) into a temporary
folder, then parsed twice, each in a fresh process so that its peak memory is its own:

* ``stream``: ``hdfs.iter_events`` only (template per line, nothing kept): the parser's own cost;
* ``sessions``: ``hdfs.parse_log`` (the loader's path: the block x event count matrix as well).

Columns: lines, blocks, seconds, lines per second, peak resident memory of the process (MB) and
its growth during the parse (MB above the resident size after imports).  The full HDFS_v1 log is
11.2M lines.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child(mode: str, log: str) -> None:
    from bench.datasets import hdfs

    base = _rss_mb()
    t0 = time.perf_counter()
    if mode == "stream":
        parser = hdfs.TemplateParser()
        n = sum(1 for _ in hdfs.iter_events(Path(log), parser))
        blocks = 0
    else:
        sessions, parser = hdfs.parse_log(Path(log))
        n, blocks = None, sessions.n_blocks
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": dt, "peak_mb": peak, "growth_mb": peak - base, "events": n,
                      "blocks": blocks, "templates": len(parser.templates)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="comma-separated line counts")
    ap.add_argument("--dir", default=None, help="folder for the generated logs (default: tmp)")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "LOG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    from bench.datasets import _hdfs_gen
    from tabulate import tabulate

    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-hdfs-bench-") as tmp:
        for size in (int(float(s)) for s in args.sizes.split(",")):
            log, lab = Path(tmp) / f"HDFS_{size}.log", Path(tmp) / f"labels_{size}.csv"
            t0 = time.perf_counter()
            st = _hdfs_gen.write_log(log, lab, n_lines=size, seed=0)
            gen_s = time.perf_counter() - t0
            print(f"generated {st['lines']:,} lines ({log.stat().st_size / 2**20:.0f} MB, "
                  f"{st['blocks']:,} blocks) in {gen_s:.1f} s", file=sys.stderr)
            for mode in ("stream", "sessions"):
                out = subprocess.run([sys.executable, __file__, "--child", mode, str(log)],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                rows.append([mode, f"{st['lines']:,}", f"{st['blocks']:,}",
                             f"{r['seconds']:.1f}", f"{st['lines'] / r['seconds']:,.0f}",
                             f"{r['peak_mb']:.0f}", f"{r['growth_mb']:.0f}", r["templates"]])
                print(f"  {mode}: {r['seconds']:.1f} s", file=sys.stderr)
            log.unlink()
            lab.unlink()
    print(tabulate(rows, headers=["mode", "lines", "blocks", "seconds", "lines/s",
                                  "peak RSS MB", "growth MB", "templates"],
                   tablefmt="github"))


if __name__ == "__main__":
    main()
