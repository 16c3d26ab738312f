"""Training and scoring machinery shared by the JAX detectors (imports JAX; loaded lazily).

* One :class:`Program` per model configuration (:class:`Task`), cached for the process, so every
  series of a dataset reuses the same compiled functions.  Array shapes are bucketed (powers of
  two and 1.5 x powers of two, :func:`bench.detectors.jax.config.bucket`), so a dataset of series of
  many lengths costs a handful of XLA compilations, and compiled programs persist between
  processes in JAX's compilation cache (:func:`bench.detectors.jax.cache.setup_jax`).
  :data:`COMPILES` counts traces per program function.
* A whole epoch is one compiled ``jax.lax.scan`` over shuffled batches (pure functions of the
  parameter pytree, split from the NNX model once); Optax Adam.
* Early stopping on a validation loss with patience, restoring the best weights: one rule
  (:class:`.early_stopping.EarlyStopping`) for single models and fleets.
* Scoring runs in fixed-size chunks: only one chunk's activations exist at a time.
* Fleets (:func:`train_fleet`, :func:`errors_fleet`): the models of many series (one
  :class:`Task`) trained and scored together, parameters stacked on a leading model axis and the
  single-model functions ``jax.vmap``-ed over it.  Each model keeps its own data, padding
  masks, seed, optimiser state and early stopping, and ends as :func:`train` would leave it.

The compiled programs (:class:`Task`, :class:`Program`, :func:`program`) live in
:mod:`bench.detectors.jax.program`; every name of it is re-exported here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import jax
import numpy as np

from . import cache as _cache
from .config import TrainConfig, bucket
from .early_stopping import EarlyStopping
from .program import (  # noqa: F401 - re-exported: detectors, tests and benchmarks use them
    COMPILER_OPTIONS,
    COMPILES,
    Program,
    Task,
    _diag_sum,
    _elem,
    _gather,
    program,
    to_device,
)

#: Above this many batches per epoch the batch count is not bucketed (see :func:`train`).
EXACT_BATCHES = 64


def compile_count() -> int:
    """Total traces of the JAX detectors' programs in this process (a trace is followed by an
    XLA compilation or a persistent-cache hit; see :func:`stats`)."""
    return sum(COMPILES.values())


stats = _cache.compile_stats
stats_since = _cache.stats_since


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{d.id}"


# ---------------------------------------------------------------------- host-side helpers


def pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) == n:
        return np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros((n, *x.shape[1:]), np.float32)
    out[:len(x)] = x
    return out


def batches(starts: np.ndarray, batch: int, n_batches: int) -> tuple[np.ndarray, np.ndarray]:
    """``starts`` (already shuffled) as ``[n_batches, batch]`` indices and 0/1 weights; padding
    entries point at row 0 with weight 0."""
    idx = np.zeros(n_batches * batch, np.int32)
    w = np.zeros(n_batches * batch, np.float32)
    idx[:len(starts)] = starts
    w[:len(starts)] = 1.0
    return idx.reshape(n_batches, batch), w.reshape(n_batches, batch)


def to_numpy(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def from_numpy(prog: Program, leaves: list[np.ndarray]):
    return jax.tree.unflatten(prog.treedef, [to_device(x) for x in leaves])


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1


def train(prog: Program, data: np.ndarray, starts: np.ndarray, *, val_data: np.ndarray | None,
          val_starts: np.ndarray | None, cfg: TrainConfig, seed: int,
          shapes: dict | None = None) -> tuple[list[np.ndarray], History]:
    """Adam on the samples ``data[s : s + length]`` for ``s`` in ``starts``, shuffled each epoch
    (numpy, seeded), ``cfg.batch`` samples per step, at most ``cfg.epochs`` epochs; early
    stopping (:class:`.early_stopping.EarlyStopping`, ``cfg.patience``) on the mean loss of the
    ``val_starts`` samples of ``val_data``, restoring the best weights.  Returns the fitted
    parameter leaves (numpy) and the loss history.  ``shapes`` (from :func:`train_fleet`) pads to
    a fleet's common shapes, so its models share one program."""
    epochs, batch, patience = int(cfg.epochs), int(cfg.batch), int(cfg.patience)
    params, opt_state = prog.init(seed)
    rng = np.random.default_rng(seed)
    d = to_device(pad_rows(data, shapes["rows"] if shapes else bucket(len(data), 64)))
    # few batches (a short series): bucket their count so series of many lengths share one
    # program, skipping the empty batches; many: the exact count, no skipping branch
    exact = math.ceil(len(starts) / batch)
    n_batches = exact if exact > EXACT_BATCHES else bucket(exact)
    padded = n_batches * batch > len(starts) and n_batches > exact
    if shapes:
        n_batches, padded = shapes["batches"], True
    use_val = val_starts is not None and len(val_starts) > 0 and patience > 0
    if use_val:
        vd = to_device(pad_rows(val_data, shapes["val_rows"] if shapes else
                                bucket(len(val_data), 64)))
        vb = 256
        vidx, vw = batches(val_starts, vb, shapes["val_batches"] if shapes else
                           bucket(math.ceil(len(val_starts) / vb)))
    stop, best_params, losses = EarlyStopping(1, patience, [use_val]), params, []
    for epoch in range(epochs):
        if not stop.running:
            break
        idx, w = batches(rng.permutation(starts), batch, n_batches)
        if use_val:  # training and validation loss in one program
            params, opt_state, loss, vl = prog.epoch_eval(
                params, opt_state, d, idx, w, np.uint32(seed), np.int32(epoch), vd, vidx, vw,
                padded=padded)
        else:
            params, opt_state, loss = prog.epoch(params, opt_state, d, idx, w, np.uint32(seed),
                                                 np.int32(epoch), padded=padded)
            vl = None  # nothing read back: the next epoch is dispatched without waiting
        losses.append(loss)
        if stop.update(epoch, None if vl is None else [float(vl)])[0]:
            best_params = params
    hist = History([float(x) for x in losses], stop.val_loss[0], int(stop.best_epoch[0]))
    return to_numpy(best_params), hist


def errors(prog: Program, leaves: list[np.ndarray], series: np.ndarray, n_samples: int, *,
           chunk: int, mode: str, proj: np.ndarray | None = None,
           c: int | None = None) -> np.ndarray:
    """Run :meth:`Program._errors` over the stride-1 samples ``0 .. n_samples - 1`` of
    ``series`` in chunks of at most ``chunk`` samples (bucketed; or of ``c``), and stitch the
    results: ``[n_samples(+length-1)]`` (score) or ``[..., F]`` (explain), float64.  Windowed
    results are per-row sums over the covering windows (divide by :func:`window_counts`); the
    ``"_window"`` modes give one mean error per sample (window), ``[n_samples(, F)]``."""
    params = from_numpy(prog, leaves)
    length = prog.task.length
    c = c or min(bucket(chunk), bucket(n_samples, 16))
    per_row = _per_row(prog, mode)
    n_out = n_samples + length - 1 if per_row else n_samples
    width = () if mode.startswith("score") else ((proj.shape[1],) if proj is not None else
                                                 (series.shape[1],))
    out = np.zeros((n_out, *width), np.float64)
    pj = None if proj is None else to_device(proj)
    pending, ones = None, to_device(np.ones(c, np.float32))

    def collect(p):
        s0, n, res = p
        res = np.asarray(res, np.float64)
        if per_row:
            out[s0:s0 + n + length - 1] += res[:n + length - 1]
        else:
            out[s0:s0 + n] = res[:n]

    for s0 in range(0, n_samples, c):
        n = min(c, n_samples - s0)
        block = pad_rows(series[s0:s0 + n + length - 1], c + length - 1)
        valid = ones if n == c else to_device((np.arange(c) < n).astype(np.float32))
        res = prog.errors(params, block, valid, pj, mode=mode)
        if pending is not None:
            collect(pending)
        pending = (s0, n, res)
    collect(pending)
    return out


def _per_row(prog: Program, mode: str) -> bool:
    """Whether ``mode``'s results are per-row sums over covering windows (else per sample)."""
    return prog.task.windowed and not mode.endswith("_window")


def window_counts(length: int, window: int) -> np.ndarray:
    """How many stride-1 windows of ``window`` rows cover each of ``length`` rows."""
    t = np.arange(length)
    n_win = length - window + 1
    return (np.minimum(t, n_win - 1) - np.maximum(0, t - window + 1) + 1).astype(np.float64)


# ---------------------------------------------------------------------- fleets

#: Memory for the activations of one fleet's training step, in MB: ``BENCH_FLEET_MB``, else
#: half of an accelerator's memory, else :data:`CPU_FLEET_MB` (on a CPU, fleets larger than the
#: caches gain nothing; measured with benchmarks/bench_fleet.py).
FLEET_MB_ENV = "BENCH_FLEET_MB"
CPU_FLEET_MB = 256


#: ``BENCH_FLEET_VMAP=1`` / ``0``: stack a fleet's models in one program, or train and score
#: them one after another, on any device; unset: see :func:`vmapped_fleets`.
FLEET_VMAP_ENV = "BENCH_FLEET_VMAP"


def vmapped_fleets(task: Task) -> bool:
    """Whether a fleet of ``task``'s models runs stacked in one program (else one model after
    another with the single-model programs, padded to the fleet's common shapes so that they
    share them: the same results, no more compilations).  Default: on accelerators, and on a
    CPU for models whose config says ``stack_on_cpu`` (all but the LSTMs: one LSTM at a batch
    of 64 is already compute-bound there, and stacked models ran 5-30 % slower per model;
    benchmarks/README.md, "JAX fleets")."""
    env = os.environ.get(FLEET_VMAP_ENV, "").strip()
    if env:
        return env not in ("0", "false", "no")
    return jax.devices()[0].platform != "cpu" or bool(task.model.stack_on_cpu)


def fleet_budget_mb() -> float:
    """Megabytes one fleet's training step may use (see :data:`FLEET_MB_ENV`)."""
    env = os.environ.get(FLEET_MB_ENV, "").strip()
    if env:
        return max(float(env), 1.0)
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        try:
            limit = (dev.memory_stats() or {}).get("bytes_limit", 0)
        except Exception:  # noqa: BLE001 - a backend without memory statistics
            limit = 0
        if limit:
            return 0.5 * limit / 1e6
    return float(CPU_FLEET_MB)


def model_step_mb(prog: Program, batch: int) -> float:
    """Rough megabytes one model of a fleet holds during a training step: parameters, their
    gradient and Adam's two moments, and the activations kept for the backward pass (float32;
    per sample row, the model config's ``floats_per_row``)."""
    task = prog.task
    per_row = task.model.floats_per_row(task.n_in, task.length)
    return 4 * (4 * prog.n_params + batch * task.length * per_row) / 1e6


def fleet_sizes(n_models: int, capacity: int) -> list[int]:
    """Split ``n_models`` into fleets of at most ``capacity`` models, all of one size (the last
    is filled up with idle models: one compiled shape); returns the fleets' sizes."""
    n_fleets = math.ceil(n_models / max(1, capacity))
    return [math.ceil(n_models / n_fleets)] * n_fleets


def train_fleet(prog: Program, datas: list[np.ndarray], starts: list[np.ndarray], *,
                val_datas: list[np.ndarray | None], val_starts: list[np.ndarray | None],
                cfg: TrainConfig, seeds: list[int],
                capacity: int | None = None) -> list[tuple[list[np.ndarray], History]]:
    """:func:`train` for many series at once: model ``i`` trains on ``datas[i]`` /
    ``starts[i]`` with early stopping on ``val_datas[i]`` / ``val_starts[i]`` and seed
    ``seeds[i]``, and ends with the parameters and history :func:`train` gives it (to float
    rounding).  Models are trained in fleets of at most ``capacity`` (default: as many as
    :func:`fleet_budget_mb` holds); all fleets of a call share one set of array shapes."""
    n, batch, patience = len(datas), int(cfg.batch), int(cfg.patience)
    exact = [math.ceil(len(s) / batch) for s in starts]
    shapes = {
        "rows": bucket(max(len(d) for d in datas), 64),
        "batches": max(e if e > EXACT_BATCHES else bucket(e) for e in exact),
        "val_rows": 0, "val_batches": 0}
    use_val = [vs is not None and len(vs) > 0 and patience > 0 for vs in val_starts]
    if any(use_val):
        shapes["val_rows"] = bucket(max(len(val_datas[i]) for i in range(n) if use_val[i]), 64)
        shapes["val_batches"] = bucket(max(math.ceil(len(val_starts[i]) / 256)
                                           for i in range(n) if use_val[i]))
    # early stopping on held-out samples of each training series itself: no second copy
    shapes["shared_val"] = all(val_datas[i] is datas[i] for i in range(n) if use_val[i])
    if not vmapped_fleets(prog.task):  # one after another, in the fleet's common shapes
        return [train(prog, d, s, val_data=vd, val_starts=vs, cfg=cfg, seed=int(seed),
                      shapes=shapes)
                for d, s, vd, vs, seed in zip(datas, starts, val_datas, val_starts, seeds,
                                              strict=True)]
    if capacity is None:
        capacity = int(fleet_budget_mb() // max(model_step_mb(prog, batch), 1e-6))
    out, lo = [], 0
    for size in fleet_sizes(n, capacity):
        members = list(range(lo, min(lo + size, n)))
        lo += size
        out += _train_one_fleet(prog, members, size, datas, starts, val_datas, val_starts,
                                use_val, cfg, seeds, shapes)
    return out


def _stack(arrays: list[np.ndarray], size: int, rows: int) -> np.ndarray:
    """``[size, rows, F]``: each array zero-padded to ``rows``, zero arrays after the last."""
    f = arrays[0].shape[1]
    out = np.zeros((size, rows, f), np.float32)
    for j, a in enumerate(arrays):
        out[j, :len(a)] = a
    return out


def _train_one_fleet(prog, members, size, datas, starts, val_datas, val_starts, use_val, cfg,
                     seeds, shapes):
    """Train the models ``members`` in one fleet of ``size`` slots (idle slots after them)."""
    k, batch = len(members), int(cfg.batch)
    init = prog.init_fleet([int(seeds[i]) for i in members])
    init = [np.concatenate([x, np.repeat(x[:1], size - k, axis=0)]) for x in init]  # idle slots
    params = jax.tree.unflatten(prog.treedef, [to_device(x) for x in init])
    opt_state = prog.opt_zeros(size)
    d = to_device(_stack([datas[i] for i in members], size, shapes["rows"]))
    val = [use_val[i] for i in members]
    if any(val):
        if shapes["shared_val"]:
            vd = d
        else:
            vd = to_device(_stack([val_datas[i] if v else np.zeros((1, d.shape[2]))
                                     for i, v in zip(members, val, strict=True)],
                                    size, shapes["val_rows"]))
        vidx = np.zeros((size, shapes["val_batches"], 256), np.int32)
        vw = np.zeros((size, shapes["val_batches"], 256), np.float32)
        for j, i in enumerate(members):
            if val[j]:
                vidx[j], vw[j] = batches(val_starts[i], 256, shapes["val_batches"])
    seed_arr = np.zeros(size, np.uint32)
    seed_arr[:k] = [int(seeds[i]) for i in members]
    rngs = [np.random.default_rng(int(seeds[i])) for i in members]
    stop = EarlyStopping(k, cfg.patience, val)
    best_leaves = init  # host copy, stacked like params
    ran, losses = [], []
    nb = shapes["batches"]
    for epoch in range(int(cfg.epochs)):
        if not stop.running:
            break
        active = list(stop.active)
        idx = np.zeros((size, nb, batch), np.int32)
        w = np.zeros((size, nb, batch), np.float32)
        for j, i in enumerate(members):
            if active[j]:
                idx[j], w[j] = batches(rngs[j].permutation(starts[i]), batch, nb)
        vl = None
        if any(val):  # training and validation loss in one program
            params, opt_state, loss, vl = prog.fleet_epoch_eval(
                params, opt_state, d, idx, w, seed_arr, np.int32(epoch), vd, vidx, vw)
        else:
            params, opt_state, loss = prog.fleet_epoch(params, opt_state, d, idx, w, seed_arr,
                                                       np.int32(epoch))
        ran.append(active)
        losses.append(loss)
        improved = stop.update(epoch, None if vl is None else np.asarray(vl)[:k])
        improved &= np.array(val, bool)  # models not watched keep their final weights
        if improved.any():
            mask = np.r_[improved, np.zeros(size - k, bool)]
            for b, now in zip(best_leaves, to_numpy(params), strict=True):
                b[mask] = now[mask]
    final = to_numpy(params)
    loss_host = [np.asarray(x) for x in losses]
    out = []
    for j in range(k):
        hist = History([float(lo[j]) for lo, r in zip(loss_host, ran, strict=True) if r[j]],
                       stop.val_loss[j], int(stop.best_epoch[j]))
        src = best_leaves if val[j] else final
        out.append(([np.array(x[j]) for x in src], hist))
    return out


def fleet_chunk(chunk: int, n_samples: list[int], at_least: int = 0) -> int:
    """Samples per model-chunk of :func:`errors_fleet`: the longest series' count, bucketed, at
    least ``at_least`` (to reuse a program compiled for longer series), at most ``chunk``."""
    return min(bucket(chunk), max(bucket(max(n_samples), 16), at_least))


def errors_fleet(prog: Program, leaves: list[list[np.ndarray]], series: list[np.ndarray],
                 n_samples: list[int], *, chunk: int, mode: str,
                 projs: list[np.ndarray] | None = None, c: int | None = None) -> list[np.ndarray]:
    """:func:`errors` of many models, each on its own series (``leaves[i]`` scores the
    ``n_samples[i]`` samples of ``series[i]``), in calls of about ``chunk`` samples that mix
    chunks of ``c`` samples (default :func:`fleet_chunk`) of several models: one compiled shape
    for every call."""
    c = c or fleet_chunk(chunk, n_samples)
    if not vmapped_fleets(prog.task):  # one after another, in chunks of one shape
        return [errors(prog, lv, x, n, chunk=chunk, mode=mode, c=c,
                       proj=None if projs is None else projs[i])
                for i, (lv, x, n) in enumerate(zip(leaves, series, n_samples, strict=True))]
    length = prog.task.length
    items = [(i, s0, min(c, n - s0)) for i, n in enumerate(n_samples) for s0 in range(0, n, c)]
    g = min(max(1, bucket(chunk) // c), bucket(len(items)))
    params = jax.tree.unflatten(prog.treedef, [to_device(np.stack(ls)) for ls in zip(*leaves)])
    pj = None if projs is None else to_device(np.stack(projs))
    f = series[0].shape[1]
    width = () if mode.startswith("score") else ((projs[0].shape[1],) if projs is not None
                                                 else (f,))
    per_row = _per_row(prog, mode)
    outs = [np.zeros((n + length - 1 if per_row else n, *width), np.float64)
            for n in n_samples]

    def collect(batch_items, res):
        res = np.asarray(res, np.float64)
        for r, (i, s0, n) in zip(res, batch_items, strict=False):
            if per_row:
                outs[i][s0:s0 + n + length - 1] += r[:n + length - 1]
            else:
                outs[i][s0:s0 + n] = r[:n]

    pending = None
    for lo in range(0, len(items), g):
        part = items[lo:lo + g]
        blocks = np.zeros((g, c + length - 1, f), np.float32)
        valid = np.zeros((g, c), np.float32)
        midx = np.zeros(g, np.int32)
        for j, (i, s0, n) in enumerate(part):
            rows = series[i][s0:s0 + n + length - 1]
            blocks[j, :len(rows)] = rows
            valid[j, :n] = 1.0
            midx[j] = i
        res = prog.fleet_errors(params, midx, blocks, valid, pj, mode=mode)
        if pending is not None:
            collect(*pending)
        pending = (part, res)
    collect(*pending)
    return outs
