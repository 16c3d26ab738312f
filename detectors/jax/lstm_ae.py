"""The sequence-to-sequence LSTM autoencoder of ``lstm_ae`` (Flax NNX; imported lazily)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from .lstm import LSTM

_glorot = nnx.initializers.glorot_uniform()


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
        h = self.enc(jnp.swapaxes(x, 0, 1), last_only=True)
        z = self.to_latent(h) if self.to_latent is not None else h
        hs = self.dec(z, length=x.shape[1])
        return jnp.swapaxes(self.out(hs), 0, 1)

    def diff(self, x: jax.Array, key: jax.Array | None):
        return self(x) - x, jnp.zeros(x.shape[0], x.dtype)
