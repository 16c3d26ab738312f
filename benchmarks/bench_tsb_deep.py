"""bench's JAX ``tsb_autoencoder`` / ``tsb_lstmad`` against TSB-AD's own PyTorch AutoEncoder /
LSTMAD on the same TSB-AD NAB files: time and VUS-PR side by side, in one run.

    python benchmarks/bench_tsb_deep.py [--files 'PATTERN'] [--epochs N] [--standardize]
        [--tsbad-python /work/tsbad-venv/bin/python] [--threads 2] [--skip-tsbad] [--json OUT]

bench's side: ``api.plan(["tsb-ad:files=PATTERN"], [tsb_autoencoder, tsb_lstmad],
protocol=Protocol("tsb-ad", standardize=False))``, fitted on each file's ``tr_N`` prefix, every row
scored, VUS-PR at the file's dominant period (the ``tsb-ad`` protocol).  ``--standardize`` gives
bench's usual per-series standardisation instead of TSB-AD's raw inputs.  Its time: the cell's
fit + score seconds (XLA compilation included; ``compile_s`` beside it).

TSB-AD's side: the same series written as TSB-AD CSVs (``Data,Label``) and given to
``benchmarks/tsbad_driver.py`` in TSB-AD's own virtual environment (it pins numpy < 2; never a
dependency of bench): ``python3 -m venv /work/tsbad-venv && /work/tsbad-venv/bin/pip install
--find-links /opt/wheels torch TSB-AD==1.5``.  Its scores are evaluated with bench's ``vus_pr``
at the same window, so the two columns differ only by the models.  Its time: fit + score seconds
per file (PyTorch CPU, ``--threads`` threads).  ``published`` is TSB-AD's table (2024-11 code).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench.datasets.tsb_ad import tsb_ad

from bench import api
from bench.cell import Protocol
from bench.metrics import vus_pr

HERE = Path(__file__).resolve().parent
#: bench detector per TSB-AD column
PAIRS = {"AutoEncoder": "tsb_autoencoder", "LSTMAD": "tsb_lstmad"}


def run_bench(files: str, epochs: int | None, standardize: bool) -> dict:
    """{column: {"vus": {file: value}, "seconds": s, "compile_s": s, "error": str}}."""
    extra = "" if epochs is None else f":epochs={epochs}"
    cells = api.plan([f"tsb-ad:files={files}"], [d + extra for d in PAIRS.values()],
                     protocol=Protocol("tsb-ad", standardize=standardize))
    rec = api.run(cells, out=None, reuse=False)
    out = {}
    for col, det in PAIRS.items():
        c = next(c for c in rec["cells"] if c["detector"] == det)
        vus = {}
        if c["status"] == "ok":
            vus = {p["series"]: p["metrics"]["vus_pr"] for p in c["evaluations"][0]["per_series"]}
        out[col] = {"vus": vus, "seconds": float(c.get("fit_s") or 0) + float(c.get("score_s")
                                                                            or 0),
                    "compile_s": float(c.get("compile_s") or 0), "error": c.get("error", "")}
    return out


def run_tsbad(ds, python: str, epochs: int | None, threads: int) -> dict:
    """{column: {"vus": {file: value}, "seconds": s, "per_file_s": {...}}} from TSB-AD's code."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="tsbad-") as tmp:
        paths = []
        for s in ds.series:
            p = Path(tmp) / f"{s.name}.csv"
            with open(p, "w") as f:
                f.write("Data,Label\n")
                for v, y in zip(s.values[:, 0].astype(np.float64), s.labels, strict=True):
                    f.write(f"{float(v)!r},{int(y)}\n")
            paths.append(str(p))
        for col in PAIRS:
            prefix = str(Path(tmp) / col)
            cmd = [python, str(HERE / "tsbad_driver.py"), "--model", col, "--out", prefix,
                   "--threads", str(threads), *paths]
            if epochs is not None:
                cmd[4:4] = ["--epochs", str(epochs)]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode != 0:
                out[col] = {"vus": {}, "seconds": float("nan"),
                            "error": (r.stderr.strip().splitlines() or ["?"])[-1]}
                continue
            scores = np.load(prefix + ".npz")
            meta = json.loads(Path(prefix + ".json").read_text())
            vus = {s.name: vus_pr(s.labels.astype(bool), scores[s.name],
                                  window=int(s.meta["period"])) for s in ds.series}
            out[col] = {"vus": vus, "per_file_s": {k: v["seconds"] for k, v in
                                                   meta["files"].items()},
                        "seconds": sum(v["seconds"] for v in meta["files"].values()),
                        "epochs_run": {k: v["epochs_run"] for k, v in meta["files"].items()},
                        "versions": {k: meta[k] for k in ("torch", "numpy", "tsb_ad")},
                        "error": ""}
    return out


def _f(x) -> str:
    return "  -   " if x is None or not np.isfinite(x) else f"{x:.4f}"


def report(ds, ours: dict, theirs: dict | None) -> None:
    for col in PAIRS:
        print(f"\n## {col}: published | bench {PAIRS[col]} | TSB-AD's PyTorch code here")
        print(f"{'file':42s} {'pub':>7s} {'bench':>7s} {'torch':>7s}")
        rows = []
        for s in ds.series:
            pub = s.meta["published"][col]
            b = ours[col]["vus"].get(s.name)
            t = None if theirs is None else theirs[col]["vus"].get(s.name)
            rows.append((pub, b, t))
            print(f"{s.name[:42]:42s} {_f(pub):>7s} {_f(b):>7s} {_f(t):>7s}")
        arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)
        mean = [np.nanmean(c) if np.isfinite(c).any() else np.nan for c in arr.T]
        print(f"{'mean (' + str(len(rows)) + ' files)':42s} {_f(mean[0]):>7s} {_f(mean[1]):>7s} "
              f"{_f(mean[2]):>7s}")
        d = np.abs(arr[:, 1] - arr[:, 0])
        print(f"bench vs published: mean |diff| {np.nanmean(d):.4f}, within 0.03: "
              f"{int((d <= 0.03).sum())} of {len(d)}; mean diff {mean[1] - mean[0]:+.4f}")
        tb = ours[col]
        line = f"time: bench {tb['seconds']:.1f} s (compile {tb['compile_s']:.1f} s)"
        if theirs is not None:
            line += f", TSB-AD PyTorch {theirs[col]['seconds']:.1f} s"
            ep = list(theirs[col].get("epochs_run", {}).values())
            if ep:
                line += f" ({min(ep)}-{max(ep)} epochs per file)"
            if theirs[col].get("error"):
                line += f" [TSB-AD failed: {theirs[col]['error']}]"
        if tb["error"]:
            line += f" [bench failed: {tb['error']}]"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", default="*", help="fnmatch patterns over file stems, | separated")
    ap.add_argument("--epochs", type=int, default=None, help="default: TSB-AD's (AE 50, LSTMAD "
                    "49 + early stopping)")
    ap.add_argument("--standardize", action="store_true",
                    help="bench standardises each series (TSB-AD feeds them raw)")
    ap.add_argument("--tsbad-python", default="/work/tsbad-venv/bin/python")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    ap.add_argument("--skip-tsbad", action="store_true")
    ap.add_argument("--json", default=None, help="write the figures here")
    a = ap.parse_args()
    ds = tsb_ad(files=a.files)
    t0 = time.perf_counter()
    ours = run_bench(a.files, a.epochs, a.standardize)
    print(f"bench: {time.perf_counter() - t0:.1f} s wall", file=sys.stderr)
    theirs = None
    if not a.skip_tsbad:
        if not Path(a.tsbad_python).exists():
            sys.exit(f"bench_tsb_deep: no TSB-AD environment at {a.tsbad_python}; create it "
                     f"(see this file's docstring) or pass --skip-tsbad")
        t0 = time.perf_counter()
        theirs = run_tsbad(ds, a.tsbad_python, a.epochs, a.threads)
        print(f"TSB-AD: {time.perf_counter() - t0:.1f} s wall", file=sys.stderr)
    report(ds, ours, theirs)
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "bench": ours, "tsbad": theirs},
                                           indent=1, default=float))


if __name__ == "__main__":
    main()
