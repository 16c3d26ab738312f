"""The LSTM forecaster of ``lstm_forecast`` (Flax NNX; imported lazily)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from .lstm import LSTM

_glorot = nnx.initializers.glorot_uniform()


class LSTMForecast(nnx.Module):
    """LSTM over the previous ``L - 1`` rows -> last hidden state -> Dense: the next row.
    ``noise``: standard deviation of Gaussian noise added to the inputs in training."""

    def __init__(self, n_in: int, hidden: int, noise: float, *, rngs: nnx.Rngs):
        self.lstm = LSTM(n_in, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_in, kernel_init=_glorot, rngs=rngs)
        self.noise = noise

    def __call__(self, past: jax.Array) -> jax.Array:
        h = self.lstm(jnp.swapaxes(past, 0, 1), last_only=True)
        return self.out(h)

    def diff(self, x: jax.Array, key: jax.Array | None):
        past, target = x[:, :-1], x[:, -1]
        if key is not None and self.noise > 0:
            past = past + self.noise * jax.random.normal(key, past.shape, past.dtype)
        return (self(past) - target)[:, None, :], jnp.zeros(x.shape[0], x.dtype)
