"""Training and scoring speed of the JAX detectors against PyTorch (CPU), side by side.

    pip install torch==2.13.0      # the benchmark's peer only, never a project dependency
    python benchmarks/bench_autoencoders.py [--only dense|lstm] [--repeat 2] [--scale 1.0]

Same model, data, batch size, epochs and optimiser (Adam, lr 1e-3) in both frameworks:

* dense: the log seed's autoencoder 128 -> 32 -> 16 -> 8 -> 16 -> 32 -> 128 (ReLU, linear
  output), MAE, batch 512, 8 epochs over 80,000 x 128 rows (no early stopping); then scoring
  1,000,000 rows.
* lstm: LSTM autoencoder on windows of 30 x 1 (encoder LSTM 64 -> last hidden state repeated ->
  decoder LSTM 64 -> Dense 1), MSE, batch 256, 5 epochs over 50,000 windows; then scoring
  200,000 windows.

JAX runs through the detectors themselves (``DenseAE`` / ``LSTMAE`` with ``stop_on="none"``):
"warm" is a second identical fit in the same process (every program already compiled), "cold" the
first fit, compile included (the persistent compilation cache starts empty). Scoring runs in
chunks of each of two sizes in both frameworks; the table shows each one's faster chunk, the last
lines both ratios. PyTorch runs eagerly with its
default thread count; its best of ``--repeat`` runs is reported. Peak memory is the growth of the
process's resident set during the phase (sampled every 10 ms). GFLOP/s count the model's nominal
multiply-adds x 2 (training = 3 x forward), against the float32 matmul peak measured here (best
square matmul, JAX).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from bench.detectors.autoencoders import LSTMAE, DenseAE
from tabulate import tabulate

from bench.memory import PeakMemory


def matmul_peak() -> float:
    """Best float32 GFLOP/s of square matmuls (1024, 2048) in JAX, best of 10 each."""
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x: x @ x)
    best = 0.0
    for n in (1024, 2048):
        a = jnp.asarray(np.random.default_rng(0).normal(size=(n, n)), jnp.float32)
        f(a).block_until_ready()
        for _ in range(10):
            t = time.perf_counter()
            f(a).block_until_ready()
            best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def timed(fn):
    with PeakMemory() as mem:
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
    return dt, mem.peak_mb, out


# ----------------------------------------------------------------------------- PyTorch peers


def torch_dense(sizes):
    import torch.nn as nn

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_lstm_ae(hidden: int, n_in: int = 1):
    import torch
    import torch.nn as nn

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(n_in, hidden, batch_first=True)
            self.dec = nn.LSTM(hidden, hidden, batch_first=True)
            self.out = nn.Linear(hidden, n_in)

        def forward(self, x):
            _, (h, _) = self.enc(x)
            z = h[-1].unsqueeze(1).expand(-1, x.shape[1], -1)
            y, _ = self.dec(z)
            return self.out(y)

    torch.manual_seed(0)
    return AE()


def torch_train(model, X, loss_name: str, batch: int, epochs: int) -> None:
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.L1Loss() if loss_name == "mae" else torch.nn.MSELoss()
    n = len(X)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            xb = X[perm[i:i + batch]]
            opt.zero_grad()
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()


def torch_score(model, X, batch: int, loss_name: str) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            xb = X[i:i + batch]
            d = model(xb) - xb
            e = d.abs() if loss_name == "mae" else d * d
            out.append(e.reshape(len(xb), -1).mean(1) if loss_name == "mae"
                       else e.reshape(len(xb), -1).sum(1))
    return torch.cat(out).numpy()


def torch_windows(series: np.ndarray, window: int):
    import torch

    from bench.windows import sliding_windows

    return torch.from_numpy(np.ascontiguousarray(sliding_windows(series, window)))


# ----------------------------------------------------------------------------- the runs


def dense_flops(sizes) -> float:
    return 2.0 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def lstm_flops(window: int, hidden: int, n_in: int = 1) -> float:
    g = 4 * hidden
    enc = window * (n_in * g + hidden * g)
    dec = window * (hidden * g + hidden * g + hidden * n_in)
    return 2.0 * (enc + dec)


def run_case(name, make_det, X_train, X_score, n_train, n_score, flops, torch_model,
             torch_train_data, torch_score_data, loss, batch, epochs, score_batches, repeat,
             peak):
    import torch

    rows = []
    # JAX: cold fit (compiles), then warm fits
    cold_fit, cold_mem, det = timed(lambda: make_det().fit(X_train, seed=0))
    compiles_fit = det.compiles_
    warm = [timed(lambda: make_det().fit(X_train, seed=0)) for _ in range(repeat)]
    warm_fit, warm_mem = min(w[0] for w in warm), max(w[1] for w in warm)
    cold_score = 0.0
    jax_scores = {}  # chunk -> (best seconds, peak MB)
    for chunk in score_batches:
        det.score_batch = chunk
        cold_score += timed(lambda c=chunk: det.score(X_score[:c * 2]))[0]  # compile the chunk
        ws = [timed(lambda: det.score(X_score)) for _ in range(repeat)]
        jax_scores[chunk] = (min(w[0] for w in ws), max(w[1] for w in ws))
    j_chunk = min(jax_scores, key=lambda c: jax_scores[c][0])
    score_s, score_mem = jax_scores[j_chunk]
    samples = n_train * epochs
    rows.append([name, "jax (warm)", f"{warm_fit:.2f}", f"{samples / warm_fit:,.0f}",
                 f"{3 * flops * samples / warm_fit / 1e9:.1f}",
                 f"{100 * 3 * flops * samples / warm_fit / 1e9 / peak:.1f}",
                 f"{warm_mem:.0f}", f"{score_s:.2f}", f"{n_score / score_s:,.0f}",
                 f"{100 * flops * n_score / score_s / 1e9 / peak:.1f}", f"{score_mem:.0f}",
                 f"{j_chunk}"])
    rows.append([name, f"jax (cold: {compiles_fit} compiles)", f"{cold_fit:.2f}",
                 f"{samples / cold_fit:,.0f}", "", "", f"{cold_mem:.0f}",
                 f"+{cold_score:.2f}", "", "", "", ""])
    # PyTorch
    tt, tm = [], []
    for _ in range(repeat):
        model = torch_model()
        dt, mem, _ = timed(lambda m=model: torch_train(m, torch_train_data, loss, batch, epochs))
        tt.append(dt)
        tm.append(mem)
    torch_scores = {}
    for chunk in score_batches:
        ts = [timed(lambda m=model, c=chunk: torch_score(m, torch_score_data, c, loss))
              for _ in range(repeat)]
        torch_scores[chunk] = (min(t[0] for t in ts), max(t[1] for t in ts))
    t_chunk = min(torch_scores, key=lambda c: torch_scores[c][0])
    t_fit, (t_score, t_score_mem) = min(tt), torch_scores[t_chunk]
    rows.append([name, f"pytorch {torch.__version__} ({torch.get_num_threads()} threads)",
                 f"{t_fit:.2f}", f"{samples / t_fit:,.0f}",
                 f"{3 * flops * samples / t_fit / 1e9:.1f}",
                 f"{100 * 3 * flops * samples / t_fit / 1e9 / peak:.1f}", f"{max(tm):.0f}",
                 f"{t_score:.2f}", f"{n_score / t_score:,.0f}",
                 f"{100 * flops * n_score / t_score / 1e9 / peak:.1f}",
                 f"{t_score_mem:.0f}", f"{t_chunk}"])
    same = ", ".join(f"{torch_scores[c][0] / jax_scores[c][0]:.2f}x at chunk {c}"
                     for c in score_batches)
    ratio = (f"{name}: JAX / PyTorch samples/s: training {t_fit / warm_fit:.2f}x warm, "
             f"{t_fit / cold_fit:.2f}x with compile; scoring {t_score / score_s:.2f}x "
             f"(each at its best chunk; same chunk: {same})")
    return rows, ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["dense", "lstm"])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the LSTM case's window counts (the full case takes minutes)")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="PyTorch threads (0: its default; on a loaded machine 1 is faster)")
    ap.add_argument("--xla-option", action="append", default=[], metavar="KEY=VALUE",
                    help="an experiment: this XLA compile option added to every JAX program "
                         "(program.COMPILER_OPTIONS) of the run; the output says so")
    args = ap.parse_args()
    # an empty persistent compilation cache, before the detectors load JAX: "cold" fits
    # compile, as a first run does
    cache = tempfile.TemporaryDirectory(prefix="bench-jit-")
    os.environ["BENCH_JIT_CACHE_DIR"] = cache.name
    import jax
    import torch
    from bench.detectors.jax import train as jt

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    from bench_fleet import set_options, xla_options

    options = xla_options(args.xla_option)
    set_options(options)
    if options:
        print(f"JAX programs compiled with {options} added")

    rng = np.random.default_rng(0)
    peak = matmul_peak()
    rows, ratios = [], []
    if args.only in (None, "dense"):
        sizes = [128, 32, 16, 8, 16, 32, 128]
        X = rng.normal(size=(80_000, 128)).astype(np.float32)
        X1m = rng.normal(size=(1_000_000, 128)).astype(np.float32)

        def make_dense():
            return DenseAE(hidden=(32, 16, 8), window=0, loss="mae", batch=512, epochs=8,
                           stop_on="none")

        r, ratio = run_case("dense AE", make_dense, X, X1m, len(X), len(X1m), dense_flops(sizes),
                            lambda: (torch.manual_seed(0), torch_dense(sizes))[1],
                            torch.from_numpy(X), torch.from_numpy(X1m), "mae", 512, 8,
                            (4096, 16384), args.repeat, peak)
        rows += r
        ratios.append(ratio)
        del X1m
    if args.only in (None, "lstm"):
        w, h = 30, 64
        n_fit, n_score = int(50_000 * args.scale), int(200_000 * args.scale)
        s_train = np.sin(np.arange(n_fit + w - 1) / 7.0)[:, None].astype(np.float32)
        s_train += 0.1 * rng.normal(size=s_train.shape).astype(np.float32)
        s_score = np.sin(np.arange(n_score + w - 1) / 7.0)[:, None].astype(np.float32)

        def make_lstm():
            return LSTMAE(window=w, hidden=h, stride=1, batch=256, epochs=5, stop_on="none")

        r, ratio = run_case("LSTM AE", make_lstm, s_train, s_score, n_fit, n_score,
                            lstm_flops(w, h), lambda: torch_lstm_ae(h),
                            torch_windows(s_train, w), torch_windows(s_score, w), "mse", 256, 5,
                            (1024, 4096), args.repeat, peak)
        rows += r
        ratios.append(ratio)
    print(f"machine: {os.cpu_count()} CPUs; JAX {jax.__version__} on {jt.device_name()}; "
          f"float32 matmul peak {peak:.1f} GFLOP/s (best square matmul, JAX); "
          f"load average {os.getloadavg()[0]:.1f}")
    print(tabulate(rows, headers=["model", "framework", "fit s", "train samples/s",
                                  "train GFLOP/s", "% peak", "fit mem MB", "score s",
                                  "score rows/s", "% peak", "score mem MB", "score chunk"],
                   tablefmt="github", disable_numparse=True))
    for r in ratios:
        print(r)
    print(f"JAX compilations in this process: {dict(jt.COMPILES)}")


if __name__ == "__main__":
    main()
