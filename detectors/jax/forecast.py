"""The LSTM forecaster of ``lstm_forecast`` (Flax NNX; imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from . import init
from .config import ModelConfig
from .lstm import LSTM


class LSTMForecast(nnx.Module):
    """LSTM over the previous ``L - 1`` rows -> last hidden state -> Dense: the next row.
    ``noise``: standard deviation of Gaussian noise added to the inputs in training."""

    def __init__(self, n_in: int, hidden: int, noise: float, *, rngs: nnx.Rngs):
        self.lstm = LSTM(n_in, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_in, kernel_init=init.glorot_uniform,
                              bias_init=init.zeros, rngs=rngs)
        self.noise = noise

    def __call__(self, past: jax.Array) -> jax.Array:
        h = self.lstm(jnp.swapaxes(past, 0, 1), last_only=True)
        return self.out(h)

    def diff(self, x: jax.Array, key: jax.Array | None):
        past, target = x[:, :-1], x[:, -1]
        if key is not None and self.noise > 0:
            past = past + self.noise * jax.random.normal(key, past.shape, past.dtype)
        return (self(past) - target)[:, None, :], jnp.zeros(x.shape[0], x.dtype)


@dataclass(frozen=True)
class ForecastConfig(ModelConfig):
    """LSTM of ``hidden`` units over the history -> Dense: the next row; ``noise``: Gaussian
    input noise (standard deviation) in training."""

    kind: ClassVar[str] = "forecast"
    stack_on_cpu: ClassVar[bool] = False  # see bench.detectors.jax.train.vmapped_fleets
    module: ClassVar[type] = LSTMForecast
    reconstructs: ClassVar[bool] = False
    hidden: int = 32
    noise: float = 0.0

    def floats_per_row(self, n_in: int, length: int) -> float:
        """16 x the LSTM's units (it keeps its gates' local derivatives) plus 4 x the inputs."""
        return 16 * self.hidden + 4 * n_in
