"""The compiled programs of the JAX detectors (imports JAX; loaded lazily, through
:mod:`bench.detectors.jax.train`, which re-exports every name here).

* :class:`Task`: a model configuration, everything that changes the compiled program (hashable).
* :class:`Program`: the compiled functions of one task, cached for the process (:func:`program`):
  a whole epoch is one compiled ``jax.lax.scan`` over shuffled batches (pure functions of the
  parameter pytree, split from the NNX model once), Optax Adam on one flat parameter vector, the
  validation loss, the per-sample / per-row scoring errors, and the same ``jax.vmap``-ed over a
  fleet's stacked models.  :data:`COMPILES` counts traces per program function.
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

import bench

from . import init
from .cache import setup_jax
from .config import ModelConfig, build

setup_jax()

#: Options for every XLA compilation here: skipping LLVM's expensive passes cuts the compile
#: time of the LSTM programs by about 40 % on CPU without slowing their steps (measured with
#: benchmarks/bench_autoencoders.py); ignored by backends that do not know it.
COMPILER_OPTIONS = {"xla_llvm_disable_expensive_passes": True}

#: XLA compilations (traces) per program function, for this process.
COMPILES: Counter[str] = Counter()

@dataclass(frozen=True)
class Task:
    """A model configuration: everything that changes the compiled program (hashable).

    model:  the architecture (:class:`bench.detectors.jax.config.ModelConfig`).
    n_in:   features per row of the model's input; ``length``: rows per sample (1, the window,
            or window + 1).
    loss:   ``"mse"`` or ``"mae"``; ``lr``: Adam's learning rate.
    """

    model: ModelConfig
    n_in: int
    length: int
    loss: str
    lr: float

    @property
    def kind(self) -> str:
        return self.model.kind

    def build(self, rngs: nnx.Rngs) -> nnx.Module:
        """The model's NNX module, initialised by its own initialisers from ``rngs``."""
        return build(self.model, self.n_in, rngs)

    @property
    def windowed(self) -> bool:
        """Each sample scores ``length`` positions (mapped back to steps by averaging)."""
        return self.model.reconstructs and self.length > 1


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
    #: build models with :class:`.init.HostRngs` (else ``nnx.Rngs``; see :meth:`init_leaves`)
    host_rngs: bool = True
    graphdef: object = field(init=False)
    treedef: object = field(init=False)
    n_params: int = field(init=False)

    def __post_init__(self) -> None:
        abstract = nnx.eval_shape(lambda: self.task.build(nnx.Rngs(0)))
        self.graphdef, self.abstract = nnx.split(abstract)
        _check_params_only(self.task, self.abstract)
        leaves, self.treedef = jax.tree.flatten(self.abstract)
        self.n_params = int(sum(math.prod(x.shape) for x in leaves))
        # Adam on one flat vector of every parameter (optax.flatten; elementwise, so the same
        # updates): a few update kernels instead of a few per parameter array, which cuts
        # about 0.4 s of CPU from each training program's XLA compilation (measured: dense
        # epoch with validation 2.17 -> 1.76 s, LSTM autoencoder 3.28 -> 2.88 s)
        self.opt = optax.flatten(optax.adam(self.task.lr))
        self.opt_shapes = jax.eval_shape(self.opt.init, self.abstract)
        self.epoch = self._jit("epoch", self._epoch, static_argnames=("padded",))
        self.evaluate = self._jit("evaluate", self._evaluate)
        self.epoch_eval = self._jit("epoch_eval", self._epoch_eval, static_argnames=("padded",))
        self.errors = self._jit("errors", self._errors, static_argnames=("mode",))
        self.fleet_epoch = self._jit("fleet_epoch", self._fleet_epoch)
        self.fleet_evaluate = self._jit("fleet_evaluate", jax.vmap(self._evaluate))
        self.fleet_epoch_eval = self._jit("fleet_epoch_eval", self._fleet_epoch_eval)
        self.fleet_errors = self._jit("fleet_errors", self._fleet_errors,
                                      static_argnames=("mode",))

    def _jit(self, name: str, fn: Callable, **kw) -> Callable:
        tag = f"{self.task.kind}.{name}"

        @functools.wraps(fn)
        def counted(*args, **kwargs):
            COMPILES[tag] += 1  # runs only while tracing
            return fn(*args, **kwargs)

        return jax.jit(counted, compiler_options=COMPILER_OPTIONS, **kw)

    def init_leaves(self, seed: int) -> list[np.ndarray]:
        """Fresh parameters as numpy leaves (in :attr:`treedef` order): the model built eagerly
        on the host CPU, each module initialising itself from ``rngs`` (:class:`.init.HostRngs`
        of ``seed``, or ``nnx.Rngs(seed)`` for a module that needs one); the built-in modules
        use :mod:`.init`'s host-drawn initialisers: no XLA compilation at all."""
        want = [tuple(x.shape) for x in jax.tree.leaves(self.abstract)]
        with jax.default_device(jax.devices("cpu")[0]):
            if self.host_rngs:
                try:
                    leaves = self._built(init.HostRngs(seed))
                    if [x.shape for x in leaves] == want:
                        return leaves
                except Exception:  # noqa: BLE001 - a module that needs a real nnx.Rngs
                    pass
                self.host_rngs = False  # this model: nnx.Rngs from now on (same values each time)
            leaves = self._built(nnx.Rngs(int(seed)))
        if [x.shape for x in leaves] != want:
            raise AssertionError(f"{self.task.kind}: built parameters {[x.shape for x in leaves]}"
                                 f", expected {want}")
        return leaves

    def _built(self, rngs) -> list[np.ndarray]:
        state = nnx.split(self.task.build(rngs))[1]
        return [np.asarray(x, np.float32) for x in jax.tree.leaves(state)]

    def init_fleet(self, seeds: list[int]) -> list[np.ndarray]:
        """Fresh parameters of one model per seed, stacked on a leading model axis (numpy
        leaves): model ``i`` is exactly :meth:`init_leaves` of ``seeds[i]``.  Built in one
        construction with stacked host keys (:class:`.init.HostRngs`) when every initialiser
        takes them, else one model after another; not by ``nnx.vmap`` over the constructor: an
        eager ``nnx.vmap`` compiles a few programs per parameter shape (5 s for the first dense
        fleet on a loaded CPU, measured), a jitted one about 1-2 s per model configuration."""
        seeds = [int(s) for s in seeds]
        if self.host_rngs and seeds:  # one construction: 367 dense models 1.45 -> 0.12 s
            want = [(len(seeds), *x.shape) for x in jax.tree.leaves(self.abstract)]
            try:
                with jax.default_device(jax.devices("cpu")[0]):
                    leaves = self._built(init.HostRngs(seeds))
                if [x.shape for x in leaves] == want:
                    return leaves
            except Exception:  # noqa: BLE001 - initialisers that do not take stacked keys
                pass
        members = [self.init_leaves(s) for s in seeds]
        return [np.stack(ls) for ls in zip(*members, strict=True)]

    def init(self, seed: int):
        """Fresh parameters (on the default device) and Adam state."""
        params = jax.tree.unflatten(self.treedef, [to_device(x) for x in self.init_leaves(seed)])
        return params, self.opt_zeros()

    def opt_zeros(self, n_models: int | None = None):
        """Adam's initial state (a zero step count and zero moments), built on the host: no
        compilation.  With ``n_models``, stacked on a leading model axis."""
        lead = () if n_models is None else (n_models,)
        return jax.tree.map(lambda s: to_device(np.zeros(lead + s.shape, s.dtype)),
                            self.opt_shapes)

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

    def _epoch_eval(self, params, opt_state, data, idx, w, seed, epoch, vdata, vidx, vw,
                    padded=True):
        """:meth:`_epoch`, then :meth:`_evaluate` of the new parameters on ``vdata`` /
        ``vidx`` / ``vw``: one compiled program per epoch of early stopping instead of two (the
        same values; one XLA compilation fewer per cell).  Returns parameters, optimiser state,
        the mean batch loss and the validation loss."""
        params, opt_state, loss = self._epoch(params, opt_state, data, idx, w, seed, epoch,
                                              padded=padded)
        return params, opt_state, loss, self._evaluate(params, vdata, vidx, vw)

    def _errors(self, params, block, valid, proj, mode):
        """Errors of the ``C`` stride-1 samples of ``block [C + length - 1, F]``.

        ``mode="score"``: per-sample (or, windowed, per-row summed over windows) score ``[C]`` /
        ``[C + L - 1]``; ``mode="explain"``: the same per feature, ``[..., F_in]``.
        ``"score_window"`` / ``"explain_window"``: one value per sample, its mean over the
        sample's positions, ``[C]`` / ``[C, F_in]`` (a causal window score: see
        :func:`errors`).  ``proj`` (``[F, F_in]`` or None) maps the difference back to input
        features (PCA).  ``valid [C]`` zeroes padded samples.
        """
        length = self.task.length
        c = block.shape[0] - length + 1
        if self.task.kind == "dense" and length > 1:
            # one gather: under a fleet's vmap XLA:CPU compiles it in 0.3-0.5 s where the
            # static slices below take 1.0-1.75 s (Yahoo A1 fleet, same errors, same run time)
            x = block[jnp.arange(c)[:, None] + jnp.arange(length)[None, :]]
        else:
            # the LSTMs' stride-1 windows as static slices (no compile gain from a gather there)
            x = jnp.stack([block[j:j + c] for j in range(length)], axis=1)
        diff, _ = nnx.merge(self.graphdef, params).diff(x, None)
        if proj is not None:
            diff = diff @ proj
        e = _elem(self.task.loss, diff)
        if mode.startswith("score"):
            e = e.sum(-1) if self.task.loss == "mse" else e.mean(-1)
        e = e * valid.reshape((c,) + (1,) * (e.ndim - 1))
        if mode.endswith("_window"):
            return e.mean(axis=1)
        return _diag_sum(e) if self.task.windowed else e[:, 0]


    # ------------------------------------------------------------------ fleets (vmapped)
    def _fleet_epoch(self, params, opt_state, data, idx, w, seeds, epoch):
        """:meth:`_epoch` of every model of a fleet: each argument but ``epoch`` has a leading
        model axis.  An empty batch (all weights 0) leaves its model unchanged, so models with
        fewer batches, and models that stopped early (given no batch), do not move."""

        def one(p, s, d, i, ww, sd):
            return self._epoch(p, s, d, i, ww, sd, epoch, padded=True)

        return jax.vmap(one)(params, opt_state, data, idx, w, seeds)

    def _fleet_epoch_eval(self, params, opt_state, data, idx, w, seeds, epoch, vdata, vidx,
                          vw):
        """:meth:`_fleet_epoch` then every model's validation loss (:meth:`_epoch_eval` of each
        model): one program instead of two."""

        def one(p, s, d, i, ww, sd, vd, vi, vww):
            return self._epoch_eval(p, s, d, i, ww, sd, epoch, vd, vi, vww, padded=True)

        return jax.vmap(one)(params, opt_state, data, idx, w, seeds, vdata, vidx, vw)

    def _fleet_errors(self, params, midx, blocks, valid, projs, mode):
        """:meth:`_errors` of ``G`` chunks at once: chunk ``g`` is ``blocks[g]`` scored by model
        ``midx[g]`` of the stacked ``params`` (with projection ``projs[midx[g]]``)."""
        p = jax.tree.map(lambda a: a[midx], params)
        pj = None if projs is None else projs[midx]
        return jax.vmap(lambda q, b, v, r: self._errors(q, b, v, r, mode))(p, blocks, valid, pj)


def _check_params_only(task: Task, state) -> None:
    """Every variable of a model is a trained parameter (``nnx.Param``): the training programs
    differentiate the whole state.  A module that keeps ``nnx.Rngs`` (``nnx.Dropout(rngs=...)``)
    or batch statistics cannot be trained here; one clear line says so."""
    bad = sorted({type(v).__name__ for v in jax.tree.leaves(
        state, is_leaf=lambda x: isinstance(x, nnx.Variable)) if isinstance(v, nnx.Variable)
        and not isinstance(v, nnx.Param)})
    if bad:
        raise bench.BenchError(
            f"model {task.kind!r}: its module keeps {', '.join(bad)} variables; a JAX detector "
            f"trains every variable, so keep only nnx.Param (take dropout/noise keys from the "
            f"`key` argument of diff(), not from nnx.Rngs stored in the module)")


@functools.lru_cache(maxsize=64)
def program(task: Task) -> Program:
    return Program(task)


def to_device(x: np.ndarray) -> jax.Array:
    """A numpy array on JAX's default device, float64 cast to float32 on the host first
    (``jax.device_put`` transfers; ``jnp.asarray`` would compile a copy program per shape)."""
    x = np.asarray(x)
    return jax.device_put(x.astype(np.float32) if x.dtype == np.float64 else x)
