"""Initialisers for the JAX detectors' modules (Keras' defaults), drawn on the host with numpy.

Each has the signature of a Flax initialiser, ``init(key, shape, dtype) -> array``, so a module
passes it where Flax takes one (``nnx.Linear(..., kernel_init=glorot_uniform,
bias_init=zeros)``) and initialises itself in its constructor.  With a concrete key (a model
built eagerly, as :meth:`bench.detectors.jax.program.Program.init` does) the values are drawn by
a numpy generator seeded with the key's bits: no XLA compilation per parameter shape (JAX's own
initialisers compile a few small programs per shape when run eagerly: about 0.3-1.5 s per new
model configuration on a CPU, measured; a jitted orthogonal initialiser about 2 s).  Under a
trace (``jax.jit``, ``nnx.vmap``, ``nnx.eval_shape``) the same numpy function runs through
``jax.pure_callback``, so a model built inside ``nnx.vmap`` gets the very values an eager build
with the same key gets.

Any Flax initialiser works in a module too (``nnx.LayerNorm``'s ones, ``lecun_normal``...); these
are only cheaper on a first run.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def host_initializer(draw: Draw) -> Callable:
    """A Flax initialiser ``(key, shape, dtype) -> array`` from ``draw(generator, shape)``, a numpy
    function: the generator is seeded with the key's bits (see the module docstring)."""

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        shape = tuple(int(s) for s in shape)
        if isinstance(key, np.ndarray):  # raw key(s) from HostRngs: no JAX operation at all
            if key.ndim == 2:  # one key per model of a fleet: the models' draws, stacked
                return np.stack([np.asarray(draw(_generator(k), shape), dtype) for k in key])
            return np.asarray(draw(_generator(key), shape), dtype)
        if not isinstance(key, jax.core.Tracer):
            return np.asarray(draw(_generator(jax.random.key_data(key)), shape), dtype)

        def host(bits):
            return np.asarray(draw(_generator(bits), shape), dtype)

        return jax.pure_callback(host, jax.ShapeDtypeStruct(shape, dtype),
                                 jax.random.key_data(key), vmap_method="sequential")

    init.__doc__ = draw.__doc__
    init.__name__ = draw.__name__
    return init


class HostRngs:
    """What :meth:`bench.detectors.jax.program.Program.init_leaves` passes a module as ``rngs``:
    ``rngs.params()``, ``rngs()`` or any ``rngs.STREAM()`` returns a raw key (``uint32[2]``,
    numpy) derived on the host from (seed, stream, call count), so building a model of host
    initialisers compiles nothing (``nnx.Rngs`` compiles 5 small programs per process when used
    eagerly: 0.2-0.9 s of a first run, measured).  Flax's own initialisers accept raw keys too.
    A module that needs a real ``nnx.Rngs`` (one that forks or keeps it) is built with one.

    ``HostRngs([s0, s1, ...])`` gives one key per seed (``uint32[n, 2]``): this module's
    initialisers then return the models' draws stacked, ``[n, *shape]``, each exactly what
    ``HostRngs(s_i)`` gives (a fleet built in one construction; Flax's initialisers do not take
    stacked keys, and such a model is built once per seed)."""

    def __init__(self, seed):
        self._seeds = [int(s) for s in np.atleast_1d(seed)]
        self._stacked, self._counts = np.ndim(seed) > 0, {}

    def __getattr__(self, stream: str):
        if stream.startswith("_"):
            raise AttributeError(stream)
        return lambda: self._next(stream)

    def __call__(self) -> np.ndarray:
        return self._next("default")

    def _next(self, stream: str) -> np.ndarray:
        count = self._counts.get(stream, 0)
        self._counts[stream] = count + 1
        keys = [np.random.SeedSequence([seed, *stream.encode(), 0, count]).generate_state(
            2, np.uint32) for seed in self._seeds]
        return np.stack(keys) if self._stacked else keys[0]


def _generator(bits) -> np.random.Generator:
    return np.random.default_rng(np.asarray(bits, np.uint32).ravel().tolist())


def _glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Glorot-uniform: ``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))`` (``shape [in, out]``;
    Keras' default kernel initialiser)."""
    fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else shape[0]
    lim = np.sqrt(6.0 / (fan_in + shape[-1]))
    return rng.uniform(-lim, lim, shape)


def _orthogonal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Orthogonal ``[n, m]``: orthonormal rows (``n <= m``) or columns (Keras' default
    recurrent kernel initialiser; the QR of a Gaussian matrix, signs fixed by ``R``'s diagonal)."""
    n, m = shape[0], int(np.prod(shape[1:]))
    a = rng.normal(size=(max(n, m), min(n, m)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return (q.T if n < m else q).reshape(shape)


def _zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Zeros (Keras' default bias)."""
    return np.zeros(shape)


def _ones(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Ones (a normalisation layer's scale)."""
    return np.ones(shape)


def _lstm_bias(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """LSTM bias ``[4H]`` in gate order ``i, f, g, o``: zeros, the forget gate's ones (Keras'
    ``unit_forget_bias``)."""
    h = shape[0] // 4
    return np.r_[np.zeros(h), np.ones(h), np.zeros(2 * h)]


glorot_uniform = host_initializer(_glorot_uniform)
orthogonal = host_initializer(_orthogonal)
zeros = host_initializer(_zeros)
ones = host_initializer(_ones)
lstm_bias = host_initializer(_lstm_bias)
