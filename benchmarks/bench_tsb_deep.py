"""bench's JAX ``tsb_autoencoder`` / ``tsb_lstmad`` against TSB-AD's own PyTorch AutoEncoder /
LSTMAD on the same TSB-AD NAB files: time and VUS-PR side by side, in one run, file by file.

    python benchmarks/bench_tsb_deep.py [--files 'PATTERN'] [--epochs N] [--standardize]
        [--tsbad-python /work/tsbad-venv/bin/python] [--threads 2] [--skip-tsbad]
        [--jsonl OUT.jsonl] [--fresh] [--report]

Incremental: every (file, side, model) result is appended to ``--jsonl`` as soon as it exists
(default ``results/bench_tsb_deep.jsonl``, which git ignores) and a rerun with the same settings
skips what is there, so a long run resumes where it stopped; ``--fresh`` starts over, ``--report``
only prints the table of what the file holds.  A running side-by-side line is printed per file.

bench's side, per file and model: ``api.plan(["tsb-ad:files=STEM"], [tsb_autoencoder |
tsb_lstmad], protocol=Protocol("tsb-ad", standardize=False))`` in this process (so XLA's
in-process and persistent compile caches work as in a normal run), fitted on the file's ``tr_N``
prefix, every row scored, VUS-PR at the file's dominant period (the ``tsb-ad`` protocol).
``--standardize`` gives bench's usual per-series standardisation instead of TSB-AD's raw inputs.
Its time: the cell's fit + score seconds (XLA compilation included; ``compile_s`` beside it).
``--threads N`` is both sides' thread count: PyTorch ``torch.set_num_threads(N)`` (and
``OMP_NUM_THREADS``); JAX with ``N == 1`` gets ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`` (set before JAX is imported), otherwise XLA's intra-op pool
over every core the process may use (``os.sched_getaffinity``); recorded as ``jax_threads``.
On a loaded machine 1 thread each is the fair setting: PyTorch's OpenMP pool of 2 threads took
2.5-3x longer than 1 thread at load 7 (TSB-AD's AE, 10 epochs on file 010: 7.2-8.9 s against
2.9-3.0 s).

TSB-AD's side: the same series written as TSB-AD CSVs (``Data,Label``) and given, one path at a
time, to one ``benchmarks/tsbad_driver.py --serve`` process per model in TSB-AD's own virtual
environment (it pins numpy < 2; never a dependency of bench): ``python3 -m venv /work/tsbad-venv
&& /work/tsbad-venv/bin/pip install --find-links /opt/wheels torch TSB-AD==1.5
'scikit-learn<1.6'``.  Its scores are evaluated with bench's ``vus_pr`` at the same window, so the
two columns differ only by the models.  Its time: fit + score seconds per file (PyTorch CPU,
``torch.set_num_threads(--threads)``, ``OMP_NUM_THREADS`` the same).  ``published`` is TSB-AD's
table (2024-11 code).
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
SIDES = ("bench", "torch")


def _settings(a) -> dict:
    """What a stored result must match to be reused."""
    return {"epochs": a.epochs, "standardize": bool(a.standardize), "threads": a.threads}


def load(path: Path, settings: dict) -> dict:
    """{(file, side, column): record} of the JSONL lines written with ``settings``."""
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                if r.get("settings") == settings:
                    done[(r["file"], r["side"], r["column"])] = r
    return done


def append(path: Path, rec: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(rec, default=float) + "\n")


def run_bench_file(s, col: str, epochs: int | None, standardize: bool) -> dict:
    """One cell: bench's detector for ``col`` on series ``s``."""
    det = PAIRS[col] + ("" if epochs is None else f":epochs={epochs}")
    cells = api.plan([f"tsb-ad:files={s.name}"], [det],
                     protocol=Protocol("tsb-ad", standardize=standardize))
    c = api.run(cells, out=None, reuse=False)["cells"][0]
    out = {"seconds": float(c.get("fit_s") or 0) + float(c.get("score_s") or 0),
           "compile_s": float(c.get("compile_s") or 0), "compiles": int(c.get("compiles") or 0),
           "error": c.get("error", "")}
    if c["status"] == "ok":
        out["vus"] = float(c["evaluations"][0]["per_series"][0]["metrics"]["vus_pr"])
    return out


class Driver:
    """One ``tsbad_driver.py --serve`` process for one TSB-AD model."""

    def __init__(self, python: str, col: str, epochs: int | None, threads: int, tmp: str):
        self.dir = Path(tmp) / col
        self.dir.mkdir()
        cmd = [python, str(HERE / "tsbad_driver.py"), "--model", col, "--serve", str(self.dir),
               "--threads", str(threads)]
        if epochs is not None:
            cmd += ["--epochs", str(epochs)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env)
        self.info = json.loads(self._line("READY "))

    def _line(self, prefix: str) -> str:
        for line in self.p.stdout:
            if line.startswith(prefix):
                return line[len(prefix):]
        raise RuntimeError(f"tsbad_driver.py ended (rc {self.p.wait()}); see its stderr above")

    def run(self, csv: Path) -> tuple[dict, np.ndarray | None]:
        self.p.stdin.write(f"{csv}\n")
        self.p.stdin.flush()
        r = json.loads(self._line("RESULT "))
        scores = None if r.get("error") else np.load(self.dir / (csv.stem + ".npy"))
        return r, scores

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def write_csv(s, tmp: str) -> Path:
    p = Path(tmp) / f"{s.name}.csv"
    with open(p, "w") as f:
        f.write("Data,Label\n")
        for v, y in zip(s.values[:, 0].astype(np.float64), s.labels, strict=True):
            f.write(f"{float(v)!r},{int(y)}\n")
    return p


def _f(x, fmt: str = ".4f") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, fmt)


def running_line(s, done: dict) -> str:
    parts = [s.name[:12]]
    for col in PAIRS:
        b, t = done.get((s.name, "bench", col), {}), done.get((s.name, "torch", col), {})
        parts.append(f"{col} pub {_f(s.meta['published'][col])} bench {_f(b.get('vus'))} "
                     f"({_f(b.get('seconds'), '.1f')} s) torch {_f(t.get('vus'))} "
                     f"({_f(t.get('seconds'), '.1f')} s, {t.get('epochs_run', '-')} ep)")
    return " | ".join(parts)


def report(series, done: dict) -> None:
    for col in PAIRS:
        print(f"\n## {col}: published | bench {PAIRS[col]} (s) | TSB-AD's PyTorch code here "
              f"(s, epochs)")
        rows = []
        for s in series:
            b = done.get((s.name, "bench", col), {})
            t = done.get((s.name, "torch", col), {})
            rows.append([s.meta["published"][col], b.get("vus", np.nan), t.get("vus", np.nan),
                         b.get("seconds", np.nan), t.get("seconds", np.nan),
                         b.get("compile_s", np.nan)])
            print(f"{s.name[:40]:40s} {_f(rows[-1][0])} | {_f(rows[-1][1])} "
                  f"{_f(rows[-1][3], '7.1f')} | {_f(rows[-1][2])} {_f(rows[-1][4], '7.1f')} "
                  f"{t.get('epochs_run', '-')}")
        a = np.array(rows, dtype=float)
        both = np.isfinite(a[:, 1]) & np.isfinite(a[:, 2])
        print(f"files with both sides: {int(both.sum())} of {len(a)}")
        if both.any():
            m = a[both]
            print(f"mean VUS-PR over them: published {m[:, 0].mean():.4f}, bench "
                  f"{m[:, 1].mean():.4f}, TSB-AD PyTorch {m[:, 2].mean():.4f}")
            print(f"time over them: bench {m[:, 3].sum():.1f} s (compile {m[:, 5].sum():.1f} s), "
                  f"TSB-AD PyTorch {m[:, 4].sum():.1f} s; bench faster on "
                  f"{int((m[:, 3] < m[:, 4]).sum())} of {len(m)} files")
        ob = np.isfinite(a[:, 1])
        if ob.any():
            d = np.abs(a[ob, 1] - a[ob, 0])
            print(f"bench vs published ({int(ob.sum())} files): mean {a[ob, 1].mean():.4f} vs "
                  f"{a[ob, 0].mean():.4f}, mean |diff| {d.mean():.4f}, within 0.03: "
                  f"{int((d <= 0.03).sum())}")


def markdown(series, done: dict) -> None:
    """The side-by-side as one markdown table (VUS-PR, seconds; TSB-AD's epochs run)."""
    print("| file | rows / tr_N | AE pub | AE bench | AE PyTorch | AE s bench / PyTorch | "
          "LSTMAD pub | LSTMAD bench | LSTMAD PyTorch | LSTMAD s bench / PyTorch (epochs) |")
    print("|---" * 10 + "|")
    tot = {c: [[], [], [], [], []] for c in PAIRS}
    for s in series:
        cells = [s.name[:3], f"{len(s.values)} / {s.meta['tr']}"]
        for col in PAIRS:
            b = done.get((s.name, "bench", col), {})
            t = done.get((s.name, "torch", col), {})
            pub = s.meta["published"][col]
            ep = f" ({t['epochs_run']})" if col == "LSTMAD" and "epochs_run" in t else ""
            cells += [_f(pub), _f(b.get("vus")), _f(t.get("vus")),
                      f"{_f(b.get('seconds'), '.1f')} / {_f(t.get('seconds'), '.1f')}{ep}"]
            if "vus" in b and "vus" in t:
                for lst, v in zip(tot[col], (pub, b["vus"], t["vus"], b["seconds"],
                                             t["seconds"]), strict=True):
                    lst.append(v)
        print("| " + " | ".join(cells) + " |")
    cells = ["mean / total", f"{len(tot['AutoEncoder'][0])} files"]
    for col in PAIRS:
        p, b, t, bs, ts = tot[col]
        cells += [_f(np.mean(p) if p else None), _f(np.mean(b) if b else None),
                  _f(np.mean(t) if t else None), f"**{sum(bs):.1f} / {sum(ts):.1f}**"]
    print("| " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", default="*", help="fnmatch patterns over file stems, | separated")
    ap.add_argument("--epochs", type=int, default=None, help="default: TSB-AD's (AE 50, LSTMAD "
                    "49 + early stopping)")
    ap.add_argument("--standardize", action="store_true",
                    help="bench standardises each series (TSB-AD feeds them raw)")
    ap.add_argument("--tsbad-python", default="/work/tsbad-venv/bin/python")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads of each side (PyTorch; "
                    "JAX: 1 or all cores)")
    ap.add_argument("--skip-tsbad", action="store_true")
    ap.add_argument("--jsonl", default=str(HERE.parent / "results" / "bench_tsb_deep.jsonl"),
                    help="results, one line each (default: results/, which git ignores)")
    ap.add_argument("--fresh", action="store_true", help="ignore (and replace) --jsonl")
    ap.add_argument("--report", action="store_true", help="only print what --jsonl holds")
    ap.add_argument("--markdown", action="store_true", help="with --report: one markdown table")
    a = ap.parse_args()
    series = tsb_ad(files=a.files).series
    out, settings = Path(a.jsonl), _settings(a)
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.fresh and out.exists():
        out.unlink()
    done = load(out, settings)
    if a.report:
        (markdown if a.markdown else report)(series, done)
        return
    if not a.skip_tsbad and not Path(a.tsbad_python).exists():
        sys.exit(f"bench_tsb_deep: no TSB-AD environment at {a.tsbad_python}; create it "
                 f"(see this file's docstring) or pass --skip-tsbad")
    if a.threads == 1:
        if "jax" in sys.modules:
            sys.exit("bench_tsb_deep: JAX was imported before its thread flags could be set")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_"
                                   "eigen=false intra_op_parallelism_threads=1").strip()
        jax_threads = 1
    else:
        jax_threads = len(os.sched_getaffinity(0))
    print(f"bench_tsb_deep: {len(series)} files, {len(done)} results already in {out}; "
          f"JAX threads {jax_threads}; torch threads {a.threads}; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    drivers: dict[str, Driver] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tsbad-") as tmp:
        try:
            for s in series:
                csv = None
                for col in PAIRS:
                    for side in SIDES if not a.skip_tsbad else ("bench",):
                        if (s.name, side, col) in done:
                            continue
                        rec = {"file": s.name, "side": side, "column": col, "settings": settings,
                               "load_before": os.getloadavg()[0]}
                        if side == "bench":
                            rec.update(run_bench_file(s, col, a.epochs, a.standardize),
                                       jax_threads=jax_threads)
                        else:
                            if col not in drivers:
                                drivers[col] = Driver(a.tsbad_python, col, a.epochs, a.threads,
                                                      tmp)
                            csv = csv or write_csv(s, tmp)
                            r, scores = drivers[col].run(csv)
                            rec.update({k: r[k] for k in ("seconds", "epochs_run", "error")
                                        if k in r}, **drivers[col].info)
                            if scores is not None:
                                rec["vus"] = float(vus_pr(s.labels.astype(bool), scores,
                                                          window=int(s.meta["period"])))
                        rec["load_after"] = os.getloadavg()[0]
                        rec["time"] = time.strftime("%H:%M:%S", time.gmtime())
                        append(out, rec)
                        done[(s.name, side, col)] = rec
                print(running_line(s, done), f"[load {os.getloadavg()[0]:.1f}, "
                      f"{time.perf_counter() - t0:.0f} s]", flush=True)
        finally:
            for d in drivers.values():
                d.close()
    report(series, done)


if __name__ == "__main__":
    main()
