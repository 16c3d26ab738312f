"""Training and scoring machinery shared by the JAX detectors (imports JAX; loaded lazily).

* One :class:`Program` per model configuration (:class:`Task`), cached for the process, so every
  series of a dataset reuses the same compiled functions.  Array shapes are bucketed (powers of
  two and 1.5 x powers of two), so a dataset of series of many lengths costs a handful of XLA
  compilations.  :data:`COMPILES` counts them (one per trace).
* A whole epoch is one compiled ``jax.lax.scan`` over shuffled batches (pure functions of the
  parameter pytree, split from the NNX model once); Optax Adam.
* Early stopping on a validation loss with patience, restoring the best weights.
* Scoring runs in fixed-size chunks: only one chunk's activations exist at a time.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from . import _jax_models as models

#: Options for every XLA compilation here: skipping LLVM's expensive passes cuts the compile
#: time of the LSTM programs by about 40 % on CPU without slowing their steps (measured with
#: benchmarks/bench_autoencoders.py); ignored by backends that do not know it.
COMPILER_OPTIONS = {"xla_llvm_disable_expensive_passes": True}

#: Above this many batches per epoch the batch count is not bucketed (see :func:`train`).
EXACT_BATCHES = 64

#: XLA compilations (traces) per program function, for this process.
COMPILES: Counter[str] = Counter()


def compile_count() -> int:
    """Total XLA compilations of the JAX detectors in this process."""
    return sum(COMPILES.values())


def bucket(n: int, lo: int = 1) -> int:
    """Smallest ``2**k`` or ``3 * 2**(k-1)`` that is ``>= max(n, lo)``."""
    n = max(int(n), lo, 1)
    p = 1 << (n - 1).bit_length()
    return 3 * p // 4 if 3 * p // 4 >= n and p >= 4 else p


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{d.id}"


@dataclass(frozen=True)
class Task:
    """A model configuration: everything that changes the compiled program (hashable).

    kind:   ``"dense"``, ``"lstm_ae"`` or ``"forecast"``.
    n_in:   features per row; ``length``: rows per sample (1, the window, or window + 1).
    arch:   the model's constructor arguments after ``n_in``.
    loss:   ``"mse"`` or ``"mae"``.
    """

    kind: str
    n_in: int
    length: int
    arch: tuple
    loss: str
    lr: float

    def build(self, rngs: nnx.Rngs) -> nnx.Module:
        cls = {"dense": models.DenseAE, "lstm_ae": models.LSTMAE,
               "forecast": models.LSTMForecast}[self.kind]
        return cls(self.n_in, *self.arch, rngs=rngs)

    @property
    def windowed(self) -> bool:
        """Each sample scores ``length`` positions (mapped back to steps by averaging)."""
        return self.kind == "lstm_ae" or (self.kind == "dense" and self.length > 1)


def _elem(loss: str, d: jax.Array) -> jax.Array:
    return jnp.square(d) if loss == "mse" else jnp.abs(d)


def _gather(data: jax.Array, starts: jax.Array, length: int) -> jax.Array:
    """``[B, length, F]`` samples starting at ``starts`` (a 1-row sample is a plain gather)."""
    if length == 1:
        return data[starts][:, None, :]
    return data[starts[:, None] + jnp.arange(length)[None, :]]


def _diag_sum(per_pos: jax.Array) -> jax.Array:
    """``[C, L, ...]`` per-window, per-position values -> ``[C + L - 1, ...]`` per-row sums (row
    ``t`` sums position ``j`` of window ``t - j``), by the skew trick: row ``j`` of the ``[L, C]``
    transpose, padded to ``C + L`` and re-read with rows of ``C + L - 1``, is shifted by ``j``."""
    c, length = per_pos.shape[:2]
    rest = per_pos.shape[2:]
    b = jnp.swapaxes(per_pos, 0, 1)  # [L, C, ...]
    b = jnp.pad(b, [(0, 0), (0, length)] + [(0, 0)] * len(rest))  # [L, C + L, ...]
    flat = b.reshape(length * (c + length), *rest)[:length * (c + length - 1)]
    return flat.reshape(length, c + length - 1, *rest).sum(axis=0)


@dataclass(eq=False)
class Program:
    """The compiled functions of one :class:`Task`."""

    task: Task
    graphdef: object = field(init=False)
    treedef: object = field(init=False)
    n_params: int = field(init=False)

    def __post_init__(self) -> None:
        abstract = nnx.eval_shape(lambda: self.task.build(nnx.Rngs(0)))
        self.graphdef, self.abstract = nnx.split(abstract)
        leaves, self.treedef = jax.tree.flatten(self.abstract)
        self.n_params = int(sum(math.prod(x.shape) for x in leaves))
        self.opt = optax.adam(self.task.lr)
        self.opt_init = self._jit("opt_init", self.opt.init)
        self.epoch = self._jit("epoch", self._epoch, static_argnames=("padded",))
        self.evaluate = self._jit("evaluate", self._evaluate)
        self.errors = self._jit("errors", self._errors, static_argnames=("mode",))

    def _jit(self, name: str, fn: Callable, **kw) -> Callable:
        tag = f"{self.task.kind}.{name}"

        @functools.wraps(fn)
        def counted(*args, **kwargs):
            COMPILES[tag] += 1  # runs only while tracing
            return fn(*args, **kwargs)

        return jax.jit(counted, compiler_options=COMPILER_OPTIONS, **kw)

    def init(self, seed: int):
        """Fresh parameters (numpy-drawn, see ``numpy_init``) and Adam state."""
        params = jax.tree.map(jnp.asarray, models.numpy_init(self.abstract, seed))
        return params, self.opt_init(params)

    # ------------------------------------------------------------------ pure functions
    def _sample_loss(self, params, x: jax.Array, key: jax.Array | None) -> jax.Array:
        model = nnx.merge(self.graphdef, params)
        diff, penalty = model.diff(x, key)
        return _elem(self.task.loss, diff).mean(axis=(1, 2)) + penalty

    def _batch_loss(self, params, data, idx, w, key):
        per = self._sample_loss(params, _gather(data, idx, self.task.length), key)
        return (per * w).sum() / jnp.maximum(w.sum(), 1.0)

    def _epoch(self, params, opt_state, data, idx, w, seed, epoch, padded=True):
        """One pass over ``idx [n_batches, batch]`` (weights ``w``; with ``padded``, a batch of
        zero weight is skipped); dropout / noise keys derive from ``(seed, epoch)``.  Returns
        the new parameters, optimiser state and the mean batch loss."""
        key = jax.random.fold_in(jax.random.key(seed), epoch)
        keys = jax.random.split(key, idx.shape[0])
        grad = jax.value_and_grad(self._batch_loss)

        def step(carry, inp):
            ib, wb, kb = inp

            def do(c):
                p, s = c
                loss, g = grad(p, data, ib, wb, kb)
                upd, s = self.opt.update(g, s, p)
                return (optax.apply_updates(p, upd), s), loss

            if not padded:  # every batch holds samples: no branch (about 7 % faster)
                return do(carry)
            return jax.lax.cond(wb.sum() > 0, do, lambda c: (c, jnp.float32(0.0)), carry)

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (idx, w, keys))
        n = jnp.maximum((w.sum(axis=1) > 0).sum(), 1)
        return params, opt_state, losses.sum() / n

    def _evaluate(self, params, data, idx, w):
        """Weighted mean per-sample loss (no dropout, noise or penalty) over ``idx [nb, B]``."""

        def step(tot, inp):
            ib, wb = inp
            x = _gather(data, ib, self.task.length)
            model = nnx.merge(self.graphdef, params)
            per = _elem(self.task.loss, model.diff(x, None)[0]).mean(axis=(1, 2))
            return tot + (per * wb).sum(), None

        tot, _ = jax.lax.scan(step, jnp.float32(0.0), (idx, w))
        return tot / jnp.maximum(w.sum(), 1.0)

    def _errors(self, params, block, valid, proj, mode):
        """Errors of the ``C`` stride-1 samples of ``block [C + length - 1, F]``.

        ``mode="score"``: per-sample (or, windowed, per-row summed over windows) score ``[C]`` /
        ``[C + L - 1]``; ``mode="explain"``: the same per feature, ``[..., F_in]``.  ``proj``
        (``[F, F_in]`` or None) maps the difference back to input features (PCA).  ``valid [C]``
        zeroes padded samples.
        """
        length = self.task.length
        c = block.shape[0] - length + 1
        # stride-1 windows as static slices (a gather with constant indices is slow to compile)
        x = jnp.stack([block[j:j + c] for j in range(length)], axis=1)
        diff, _ = nnx.merge(self.graphdef, params).diff(x, None)
        if proj is not None:
            diff = diff @ proj
        e = _elem(self.task.loss, diff)
        if mode == "score":
            e = e.sum(-1) if self.task.loss == "mse" else e.mean(-1)
        e = e * valid.reshape((c,) + (1,) * (e.ndim - 1))
        return _diag_sum(e) if self.task.windowed else e[:, 0]


@functools.lru_cache(maxsize=64)
def program(task: Task) -> Program:
    return Program(task)


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
    return jax.tree.unflatten(prog.treedef, [jnp.asarray(x) for x in leaves])


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1


def train(prog: Program, data: np.ndarray, starts: np.ndarray, *, val_data: np.ndarray | None,
          val_starts: np.ndarray | None, epochs: int, batch: int, patience: int,
          seed: int) -> tuple[list[np.ndarray], History]:
    """Adam on the samples ``data[s : s + length]`` for ``s`` in ``starts``, shuffled each epoch
    (numpy, seeded); early stopping on the mean loss of the ``val_starts`` samples of
    ``val_data`` (``patience`` epochs without improvement), restoring the best weights.
    Returns the fitted parameter leaves (numpy) and the loss history."""
    params, opt_state = prog.init(seed)
    rng = np.random.default_rng(seed)
    d = jnp.asarray(pad_rows(data, bucket(len(data), 64)))
    # few batches (a short series): bucket their count so series of many lengths share one
    # program, skipping the empty batches; many: the exact count, no skipping branch
    exact = math.ceil(len(starts) / batch)
    n_batches = exact if exact > EXACT_BATCHES else bucket(exact)
    padded = n_batches * batch > len(starts) and n_batches > exact
    use_val = val_starts is not None and len(val_starts) > 0 and patience > 0
    if use_val:
        vd = jnp.asarray(pad_rows(val_data, bucket(len(val_data), 64)))
        vb = 256
        vidx, vw = batches(val_starts, vb, bucket(math.ceil(len(val_starts) / vb)))
    hist, best, best_params, wait, losses = History(), np.inf, params, 0, []
    for epoch in range(epochs):
        idx, w = batches(rng.permutation(starts), batch, n_batches)
        params, opt_state, loss = prog.epoch(params, opt_state, d, idx, w, np.uint32(seed),
                                             np.int32(epoch), padded=padded)
        losses.append(loss)  # read back later: the next epoch is dispatched without waiting
        if not use_val:
            best_params, hist.best_epoch = params, epoch
            continue
        vloss = float(prog.evaluate(params, vd, vidx, vw))
        hist.val_loss.append(vloss)
        if vloss < best:
            best, best_params, hist.best_epoch, wait = vloss, params, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                break
    hist.train_loss = [float(x) for x in losses]
    return to_numpy(best_params), hist


def errors(prog: Program, leaves: list[np.ndarray], series: np.ndarray, n_samples: int, *,
           chunk: int, mode: str, proj: np.ndarray | None = None) -> np.ndarray:
    """Run :meth:`Program._errors` over the stride-1 samples ``0 .. n_samples - 1`` of
    ``series`` in chunks of at most ``chunk`` samples (bucketed), and stitch the results:
    ``[n_samples(+length-1)]`` (score) or ``[..., F]`` (explain), float64.  Windowed results are
    per-row sums over the covering windows (divide by :func:`window_counts`)."""
    params = from_numpy(prog, leaves)
    length = prog.task.length
    c = min(bucket(chunk), bucket(n_samples, 16))
    n_out = n_samples + length - 1 if prog.task.windowed else n_samples
    width = () if mode == "score" else ((proj.shape[1],) if proj is not None else
                                        (series.shape[1],))
    out = np.zeros((n_out, *width), np.float64)
    pj = None if proj is None else jnp.asarray(proj, jnp.float32)
    pending, ones = None, jnp.ones(c, jnp.float32)

    def collect(p):
        s0, n, res = p
        res = np.asarray(res, np.float64)
        if prog.task.windowed:
            out[s0:s0 + n + length - 1] += res[:n + length - 1]
        else:
            out[s0:s0 + n] = res[:n]

    for s0 in range(0, n_samples, c):
        n = min(c, n_samples - s0)
        block = pad_rows(series[s0:s0 + n + length - 1], c + length - 1)
        valid = ones if n == c else jnp.asarray((np.arange(c) < n).astype(np.float32))
        res = prog.errors(params, block, valid, pj, mode=mode)
        if pending is not None:
            collect(pending)
        pending = (s0, n, res)
    collect(pending)
    return out


def window_counts(length: int, window: int) -> np.ndarray:
    """How many stride-1 windows of ``window`` rows cover each of ``length`` rows."""
    t = np.arange(length)
    n_win = length - window + 1
    return (np.minimum(t, n_win - 1) - np.maximum(0, t - window + 1) + 1).astype(np.float64)
