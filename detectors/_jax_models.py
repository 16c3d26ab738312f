"""Flax NNX models of the neural detectors: a dense autoencoder, an LSTM autoencoder and an LSTM
forecaster.  Imported lazily (it imports JAX); see :mod:`bench.detectors.autoencoders`.

Every model maps a batch of samples ``x [B, L, F]`` (``L`` rows per sample) to its difference from
the target, ``diff [B, P, F]`` (reconstruction or prediction minus truth, ``P`` positions scored
per sample), plus a per-sample penalty ``[B]`` added to the training loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "leaky_relu": jax.nn.leaky_relu,
    "sigmoid": jax.nn.sigmoid,
    "linear": lambda x: x,
}

_glorot = nnx.initializers.glorot_uniform()

#: time steps per iteration of the LSTM scan (partial unrolling; full unrolling compiles slowly)
UNROLL = 1


def _dropout(h: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate <= 0:
        return h
    keep = jax.random.bernoulli(key, 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


def numpy_init(state, seed: int):
    """Fresh parameters for ``state`` (a pytree of arrays or shapes) drawn with numpy, by name:
    ``kernel`` / ``wi`` Glorot-uniform, ``wh`` orthogonal, LSTM ``b`` zeros with forget-gate bias
    1, ``bias`` zeros (Keras' defaults, as the constructors below).  Numpy, not JAX: no XLA
    compilation (a jitted orthogonal initialiser costs about 2 s of compile on CPU)."""
    rng = np.random.default_rng(seed)

    def one(path, leaf):
        name = str(getattr(path[-1], "key", getattr(path[-1], "name", path[-1])))
        if name == "value" and len(path) > 1:
            name = str(getattr(path[-2], "key", getattr(path[-2], "name", path[-2])))
        shape = tuple(leaf.shape)
        if name in ("kernel", "wi"):
            lim = np.sqrt(6.0 / (shape[0] + shape[1]))
            return rng.uniform(-lim, lim, shape).astype(np.float32)
        if name == "wh":
            a = rng.normal(size=(shape[1], shape[0]))
            q, r = np.linalg.qr(a)
            return (q * np.sign(np.diag(r))).T.astype(np.float32)
        if name == "b":
            h = shape[0] // 4
            return np.r_[np.zeros(h), np.ones(h), np.zeros(2 * h)].astype(np.float32)
        if name == "bias":
            return np.zeros(shape, np.float32)
        raise ValueError(f"no initialiser for parameter {name!r}")

    return jax.tree_util.tree_map_with_path(one, state)


class DenseAE(nnx.Module):
    """``n_in -> hidden[0] -> ... -> hidden[-1] -> ... -> hidden[0] -> n_in``; ``hidden[-1]`` is
    the code.  Glorot-uniform kernels, zero biases (Keras' defaults)."""

    def __init__(self, n_in: int, hidden: tuple[int, ...], activation: str, out_activation: str,
                 dropout: float, l1: float, *, rngs: nnx.Rngs):
        sizes = (n_in, *hidden, *hidden[-2::-1], n_in)
        self.layers = nnx.List([nnx.Linear(a, b, kernel_init=_glorot, rngs=rngs)
                                for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.code_layer = len(hidden) - 1
        self.activation = activation
        self.out_activation = out_activation
        self.dropout = dropout
        self.l1 = l1

    def __call__(self, x: jax.Array, key: jax.Array | None = None):
        act = ACTIVATIONS[self.activation]
        h, code, last = x, x, len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i == last:
                return ACTIVATIONS[self.out_activation](h), code
            h = act(h)
            if i == self.code_layer:
                code = h
            if key is not None:
                key, sub = jax.random.split(key)
                h = _dropout(h, self.dropout, sub)
        raise AssertionError("unreachable")

    def diff(self, x: jax.Array, key: jax.Array | None):
        b, length, f = x.shape
        flat = x.reshape(b, length * f)
        out, code = self(flat, key)
        penalty = self.l1 * jnp.abs(code).sum(-1) if self.l1 > 0 else jnp.zeros(b, x.dtype)
        return (out - flat).reshape(b, length, f), penalty


class LSTM(nnx.Module):
    """One LSTM layer (gates i, f, g, o), run with ``jax.lax.scan`` over time.  Glorot-uniform
    input kernel, orthogonal recurrent kernel, forget-gate bias 1 (Keras' defaults).  The input
    projection of every step is one matmul before the recurrent scan."""

    def __init__(self, n_in: int, hidden: int, *, rngs: nnx.Rngs):
        self.wi = nnx.Param(_glorot(rngs.params(), (n_in, 4 * hidden)))
        self.wh = nnx.Param(nnx.initializers.orthogonal()(rngs.params(), (hidden, 4 * hidden)))
        self.b = nnx.Param(jnp.zeros(4 * hidden).at[hidden:2 * hidden].set(1.0))
        self.hidden = hidden

    def project(self, x: jax.Array) -> jax.Array:
        return x @ self.wi[...] + self.b[...]

    def run(self, proj: jax.Array, length: int | None = None):
        """``proj``: ``[B, L, 4H]`` projected inputs, or ``[B, 4H]`` repeated for ``length``
        steps.  Returns ``(hs [B, L, H], h_last [B, H])``."""
        wh = self.wh[...]
        n_b = proj.shape[0]
        h0 = jnp.zeros((n_b, self.hidden), proj.dtype)

        def step(carry, p):
            h, c = carry
            z = (proj if p is None else p) + h @ wh
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        xs = None if length is not None else jnp.swapaxes(proj, 0, 1)
        (h, _), hs = jax.lax.scan(step, (h0, h0), xs, length=length, unroll=UNROLL)
        return jnp.swapaxes(hs, 0, 1), h


class LSTMAE(nnx.Module):
    """Encoder LSTM -> last hidden state (optionally a Dense to ``latent`` units) -> repeated
    ``L`` times -> decoder LSTM -> Dense to ``n_in`` per step."""

    def __init__(self, n_in: int, hidden: int, latent: int, *, rngs: nnx.Rngs):
        self.enc = LSTM(n_in, hidden, rngs=rngs)
        self.to_latent = nnx.Linear(hidden, latent, kernel_init=_glorot, rngs=rngs) \
            if latent else None
        self.dec = LSTM(latent or hidden, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_in, kernel_init=_glorot, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        _, h = self.enc.run(self.enc.project(x))
        z = self.to_latent(h) if self.to_latent is not None else h
        hs, _ = self.dec.run(self.dec.project(z), length=x.shape[1])
        return self.out(hs)

    def diff(self, x: jax.Array, key: jax.Array | None):
        return self(x) - x, jnp.zeros(x.shape[0], x.dtype)


class LSTMForecast(nnx.Module):
    """LSTM over the previous ``L - 1`` rows -> last hidden state -> Dense: the next row.
    ``noise``: standard deviation of Gaussian noise added to the inputs in training."""

    def __init__(self, n_in: int, hidden: int, noise: float, *, rngs: nnx.Rngs):
        self.lstm = LSTM(n_in, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_in, kernel_init=_glorot, rngs=rngs)
        self.noise = noise

    def __call__(self, past: jax.Array) -> jax.Array:
        _, h = self.lstm.run(self.lstm.project(past))
        return self.out(h)

    def diff(self, x: jax.Array, key: jax.Array | None):
        past, target = x[:, :-1], x[:, -1]
        if key is not None and self.noise > 0:
            past = past + self.noise * jax.random.normal(key, past.shape, past.dtype)
        return (self(past) - target)[:, None, :], jnp.zeros(x.shape[0], x.dtype)
