"""A Yahoo-shaped cell, side by side: JAX fleets, the JAX per-series path and PyTorch series by
series, same models, data, batches and epochs, compile included.

    pip install torch==2.13.0      # the benchmark's peer only, never a project dependency
    # or outside the venv: pip install --no-deps --target DIR torch-2.13.0+cpu-*.whl, then
    # pip install --target DIR2 sympy mpmath networkx filelock; PYTHONPATH=DIR:DIR2
    python benchmarks/bench_fleet.py [--only dense|lstm] [--scale 1.0] [--epochs-dense 10]
                                     [--benchmarks A1] [--quick] [--xla-option KEY=VALUE]

The workload: ``yahoo-synthetic`` series (datasets/yahoo.py's generator: trend, seasons, noise,
outliers) with the 367 lengths of Yahoo S5 A1-A4 (``../shared/data/yahoo_shape/lengths.csv``;
A1's real series are generated like A2's), split 50 / 25 / 25 %, standardised with the training
rows' statistics, as the runner does.  ``--scale 0.25`` keeps every 4th series; ``--benchmarks A1``
only A1's 67 lengths (the issue-23 "real Yahoo A1" cell).

* dense: ``dense_ae`` defaults on a univariate series (windows of 32 rows, 32-32-16-8-16-32-32,
  ReLU, MSE, batch 64, training windows every row), ``stop_on=none`` and a fixed number of
  epochs, so every framework does the same steps.
* lstm: ``lstm_ae`` defaults (windows of 32, 32 LSTM units, training windows every 4 rows,
  batch 64, MSE), ``stop_on=none``.

Each JAX path runs the runner's ``_fit_all`` on the whole dataset (one cell) with a fresh,
empty persistent compilation cache: wall time includes every compilation (seconds per
compiled program are listed); the fleet cell then runs again in the same process ("warm": its
programs compiled, nothing traced).  PyTorch trains a
fresh model per series (Adam, lr 1e-3, shuffled batches) and scores every stride-1 window,
eagerly, with its default threads.  Then a default fleet cell (early stopping, explanations)
runs twice more in fresh processes sharing one cache folder (one epoch each: shapes do not
depend on epochs): the second must compile nothing.  samples/s count training samples (windows)
x epochs over the fit time; the % of peak counts the models' nominal multiply-adds x 2 (training
= 3 x forward) against the best float32 matmul measured here.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

HERE = Path(__file__).resolve().parent
LENGTHS = HERE.parent.parent / "shared" / "data" / "yahoo_shape" / "lengths.csv"
CASES = {
    "dense": ("dense_ae", {"stop_on": "none"}),
    "lstm": ("lstm_ae", {"stop_on": "none"}),
}


def yahoo_shaped(scale: float = 1.0, seed: int = 0, benchmarks: tuple[str, ...] = ()):
    """The Yahoo-shaped dataset: one generated S5-like series per row of lengths.csv (only the
    rows of ``benchmarks``, e.g. ``("A1",)``, when given; the generator's draws do not depend
    on the choice: the series are the same as in the full set)."""
    from bench.datasets.yahoo import read_file, write_series

    import bench

    if not LENGTHS.is_file():
        raise SystemExit(f"{LENGTHS} is missing: the Yahoo shape file of ../shared/data")
    rows = list(csv.DictReader(open(LENGTHS)))
    step = max(1, round(1 / scale))
    rows = rows[::step]
    known = {r["benchmark"] for r in rows}
    if set(benchmarks) - known:
        raise SystemExit(f"--benchmarks {','.join(benchmarks)}: not in {LENGTHS.name} "
                         f"(it has {', '.join(sorted(known))})")
    rng = np.random.default_rng(seed)
    series = []
    with tempfile.TemporaryDirectory(prefix="bench-yahoo-shape-") as tmp:
        for i, r in enumerate(rows):
            kind = "A2" if r["benchmark"] in ("A1", "A2") else r["benchmark"]
            f = Path(tmp) / f"{i}.csv"
            write_series(f, rng, kind, int(r["rows"]))
            if benchmarks and r["benchmark"] not in benchmarks:
                continue
            s = read_file(f, kind, 0.5, 0.75, False)
            s.name = f"{r['benchmark']}/{r['file']}"
            series.append(s)
    return bench.Dataset("yahoo-shaped", series, description="Yahoo-shaped synthetic",
                         license="CC0-1.0 (generated)", provenance="bench_fleet.py")


def run_cell(ds, name: str, params: dict, fleet: bool, explain: bool = False,
             stacked: bool | None = None) -> dict:
    """The runner's ``_fit_all`` on ``ds`` (``fleet=False``: the per-series path; ``explain``:
    the test ranges explained too, as a default cell does; ``stacked``: force the fleet's
    models into one program, or one after another; None: the device's default)."""
    from bench.detectors.autoencoders import LSTMAE, DenseAE
    from bench.detectors.jax import train as jt

    from bench.cell import Cell
    from bench.fitting import _fit_all
    from bench.params import Spec

    cls = {"dense_ae": DenseAE, "lstm_ae": LSTMAE}[name]
    old = cls.__bench_tags__
    cls.__bench_tags__ = dataclasses.replace(old, fleet=fleet)  # a bench.DetectorTags
    old_env = os.environ.pop(jt.FLEET_VMAP_ENV, None)
    if stacked is not None:
        os.environ[jt.FLEET_VMAP_ENV] = "1" if stacked else "0"
    try:
        cell = Cell(0, Spec(ds.name), Spec(name, params), seed=0, explain=explain)
        t = time.perf_counter()
        _, _, info = _fit_all(cls, params, ds, cell)
        info["wall_s"] = time.perf_counter() - t
    finally:
        cls.__bench_tags__ = old
        os.environ.pop(jt.FLEET_VMAP_ENV, None)
        if old_env is not None:
            os.environ[jt.FLEET_VMAP_ENV] = old_env
    return info


# ----------------------------------------------------------------------------- PyTorch


def _standardised(s) -> tuple[np.ndarray, np.ndarray]:
    r = s.split.ranges(len(s))
    tr = s.values[r["train"]].astype(np.float64)
    sd = tr.std(0)
    sd[~(sd > 0)] = 1.0
    X = ((s.values - tr.mean(0)) / sd).astype(np.float32)
    return X, X[r["train"]]


def torch_models(kind: str):
    import torch.nn as nn

    if kind == "dense":
        sizes = [32, 32, 16, 8, 16, 32, 32]
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
        return nn.Sequential(*layers)

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(1, 32, batch_first=True)
            self.dec = nn.LSTM(32, 32, batch_first=True)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            _, (h, _) = self.enc(x)
            y, _ = self.dec(h[-1].unsqueeze(1).expand(-1, x.shape[1], -1))
            return self.out(y)

    return AE()


def torch_cell(ds, kind: str, epochs: int) -> dict:
    """Series by series: a fresh model, ``epochs`` of shuffled batches of 64, then every
    stride-1 window scored and averaged back to rows."""
    import torch

    from bench.windows import sliding_windows, windows_to_steps

    stride = 1 if kind == "dense" else 4
    fit_s = score_s = 0.0
    samples = 0
    for i, s in enumerate(ds):
        X, Xtr = _standardised(s)
        win = torch.from_numpy(np.ascontiguousarray(sliding_windows(Xtr, 32)[::stride]))
        allw = torch.from_numpy(np.ascontiguousarray(sliding_windows(X, 32)))
        if kind == "dense":
            win, allw = win.reshape(len(win), -1), allw.reshape(len(allw), -1)
        torch.manual_seed(i)
        t = time.perf_counter()
        model = torch_models(kind)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(i)
        for _ in range(epochs):
            perm = torch.randperm(len(win), generator=g)
            for b in range(0, len(win), 64):
                xb = win[perm[b:b + 64]]
                opt.zero_grad()
                loss = ((model(xb) - xb) ** 2).mean()
                loss.backward()
                opt.step()
        fit_s += time.perf_counter() - t
        samples += len(win) * epochs
        t = time.perf_counter()
        with torch.no_grad():
            e = ((model(allw) - allw) ** 2).reshape(len(allw), 32, -1).sum(-1).numpy()
        windows_to_steps(e, len(X), 32)
        score_s += time.perf_counter() - t
    return {"fit_s": fit_s, "score_s": score_s, "wall_s": fit_s + score_s, "samples": samples,
            "threads": torch.get_num_threads(), "version": torch.__version__}


# ----------------------------------------------------------------------------- accounting


def train_samples(ds, kind: str, epochs: int) -> int:
    """Training windows x epochs of the cell (the same count in every framework)."""
    stride = 1 if kind == "dense" else 4
    n = 0
    for s in ds:
        rows = s.split.ranges(len(s))["train"].stop
        n += len(range(0, rows - 32 + 1, stride))
    return n * epochs


def flops_per_sample(kind: str) -> float:
    """Nominal FLOPs of one forward pass (2 x multiply-adds)."""
    if kind == "dense":
        sizes = [32, 32, 16, 8, 16, 32, 32]
        return 2.0 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    g = 4 * 32
    return 2.0 * 32 * ((1 * g + 32 * g) + (32 * g + 32 * g + 32))


def child(kind: str, scale: float, benchmarks: tuple[str, ...] = ()) -> None:
    """One fleet cell as a default run makes it (early stopping on the last 10 % of the training
    windows, test ranges explained), of one epoch, in this (fresh) process; prints JSON."""
    ds = yahoo_shaped(scale, benchmarks=benchmarks)
    name, _ = CASES[kind]
    info = run_cell(ds, name, {"epochs": 1}, fleet=True, explain=True)
    from bench.detectors.jax import cache as _config

    info.update(_config.compile_stats())
    print("RESULT " + json.dumps({k: info[k] for k in ("compiles", "cache_hits", "compile_s",
                                                       "wall_s") if k in info}))


def fresh_processes(kind: str, scale: float, benchmarks: tuple[str, ...] = ()) -> list[dict]:
    """The fleet cell in two fresh processes sharing one new cache folder."""
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-jit-") as cache:
        env = {**os.environ, "BENCH_JIT_CACHE_DIR": cache}
        env.pop("BENCH_NO_JIT_CACHE", None)
        for _ in range(2):
            p = subprocess.run([sys.executable, __file__, "--child", kind, "--scale", str(scale),
                                "--benchmarks", ",".join(benchmarks)],
                               env=env, capture_output=True, text=True, check=True)
            line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")][-1]
            out.append(json.loads(line[7:]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=list(CASES))
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the 367 series")
    ap.add_argument("--epochs-dense", type=int, default=10)
    ap.add_argument("--epochs-lstm", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="PyTorch threads (0: its default; on a loaded machine 1 is faster)")
    ap.add_argument("--benchmarks", default="",
                    help="only these Yahoo benchmarks' lengths, e.g. A1 (comma-separated)")
    ap.add_argument("--quick", action="store_true",
                    help="only the fleet (cold and warm) and PyTorch rows: no stacked or "
                         "per-series rows, no fresh processes")
    ap.add_argument("--xla-option", action="append", default=[], metavar="KEY=VALUE",
                    help="an experiment: this XLA compile option added to every JAX program "
                         "(program.COMPILER_OPTIONS) of the run; the output says so")
    ap.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.benchmarks = tuple(b for b in args.benchmarks.split(",") if b)
    if args.child:
        child(args.child, args.scale, args.benchmarks)
        return
    with tempfile.TemporaryDirectory(prefix="bench-jit-") as cache:
        # cold: every program compiled in this run (set before JAX's set-up reads it)
        os.environ["BENCH_JIT_CACHE_DIR"] = cache
        report(args)


def xla_options(items: list[str]) -> dict:
    """``KEY=VALUE`` items (``true``/``false``, integers, or strings) as compile options."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("xla_"):
            raise SystemExit(f"--xla-option {item!r}: expected xla_NAME=VALUE")
        low = value.lower()
        out[key] = (low == "true" if low in ("true", "false") else
                    int(value) if value.lstrip("-").isdigit() else value)
    return out


def set_options(options: dict) -> None:
    """Add ``options`` to every JAX program's compile options (before any is built)."""
    from bench.detectors.jax import program

    program.COMPILER_OPTIONS.update(options)


class CompileLog:
    """Seconds of XLA compilation per compiled program (JAX's monitoring events), since the
    last :meth:`take`."""

    def __init__(self) -> None:
        from jax import monitoring

        self.items: list[tuple[str, float]] = []
        monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event: str, duration: float, **kw) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            name = str(kw.get("fun_name", "?")).removeprefix("jit(").removesuffix(")")
            self.items.append((name.lstrip("_"), duration))

    def take(self) -> str:
        out = ", ".join(f"{n} {d:.2f} s" for n, d in self.items)
        self.items.clear()
        return out


def report(args) -> None:
    import jax
    from bench.detectors.jax import train as jt
    from bench_autoencoders import matmul_peak

    options = xla_options(args.xla_option)
    set_options(options)
    load0 = os.getloadavg()
    ds = yahoo_shaped(args.scale, benchmarks=args.benchmarks)
    peak = matmul_peak()
    log = CompileLog()
    rows, notes = [], []
    for kind in [args.only] if args.only else list(CASES):
        name, params = CASES[kind]
        epochs = args.epochs_dense if kind == "dense" else args.epochs_lstm
        params = {**params, "epochs": epochs}
        n = train_samples(ds, kind, epochs)
        gf = 3 * flops_per_sample(kind) * n / 1e9
        log.take()  # what earlier rows compiled
        res = {"jax fleet": run_cell(ds, name, params, fleet=True)}
        notes.append(f"{kind}: XLA compilation of the fleet cell's programs: {log.take()}")
        res["jax fleet, warm (same process: programs compiled)"] = run_cell(ds, name, params,
                                                                            fleet=True)
        log.take()
        if kind != "dense" and jax.devices()[0].platform == "cpu" and not args.quick:
            # the default runs this fleet one model after another: show both
            res["jax fleet"]["label"] = "jax fleet (default here: one model after another)"
            res["jax fleet, stacked (BENCH_FLEET_VMAP=1)"] = run_cell(ds, name, params,
                                                                       fleet=True, stacked=True)
        if not args.quick:
            res["jax per series"] = run_cell(ds, name, params, fleet=False)
        torch_label = None
        if not args.no_torch:
            if args.torch_threads:
                import torch

                torch.set_num_threads(args.torch_threads)
            t = torch_cell(ds, kind, epochs)
            assert t["samples"] == n, (t["samples"], n)
            torch_label = f"pytorch {t['version']} ({t['threads']} threads), series by series"
            res[torch_label] = t
        for label, r in res.items():
            rows.append([kind, r.get("label", label), f"{r['wall_s']:.1f}", f"{r['fit_s']:.1f}",
                         f"{r['score_s']:.1f}", str(r.get("compiles", "")),
                         f"{r['compile_s']:.1f}" if "compile_s" in r else "",
                         f"{n / r['fit_s']:,.0f}", f"{100 * gf / r['fit_s'] / peak:.2f}"])
        fl = res["jax fleet"]["wall_s"]
        ratios = ", ".join(f"{r['wall_s'] / fl:.1f}x faster than {label}"
                           for label, r in res.items()
                           if label != "jax fleet" and not label.startswith("jax fleet, warm"))
        notes.append(f"{kind}: the fleet cell (compile included) is {ratios}")
        if torch_label:
            warm = res["jax fleet, warm (same process: programs compiled)"]["wall_s"]
            tw = res[torch_label]["wall_s"]
            notes.append(f"{kind}: PyTorch / JAX fleet: {tw / fl:.2f}x cold (empty compile "
                         f"cache), {tw / warm:.2f}x warm")
        if args.quick:
            continue
        runs = fresh_processes(kind, args.scale, args.benchmarks)
        notes.append(f"{kind}: default fleet cell in two fresh processes sharing a cache folder: "
                     + "; ".join(f"run {i + 1}: {r['compiles']} compilations, "
                                 f"{r['cache_hits']} cache hits, {r['compile_s']:.1f} s "
                                 f"compiling" for i, r in enumerate(runs)))
    load1 = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs; JAX {jax.__version__} on {jt.device_name()}; "
          f"float32 matmul peak {peak:.1f} GFLOP/s; {len(ds)} series, "
          f"{sum(len(s) for s in ds):,} rows; load average {load0[0]:.1f} before, "
          f"{load1[0]:.1f} after"
          + (f"; JAX programs compiled with {options} added" if options else ""))
    print(tabulate(rows, headers=["model", "path", "cell s", "fit s", "score s", "compiles",
                                  "compile s", "train samples/s", "% peak"],
                   tablefmt="github", disable_numparse=True))
    for line in notes:
        print(line)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
