"""The sequence-to-sequence LSTM autoencoder of ``lstm_ae`` (Flax NNX; imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from . import init
from .config import ModelConfig
from .lstm import LSTM


class LSTMAE(nnx.Module):
    """Encoder LSTM -> last hidden state (optionally a Dense to ``latent`` units) -> repeated
    ``L`` times -> decoder LSTM -> Dense to ``n_in`` per step."""

    def __init__(self, n_in: int, hidden: int, latent: int, *, rngs: nnx.Rngs):
        self.enc = LSTM(n_in, hidden, rngs=rngs)
        self.to_latent = nnx.Linear(hidden, latent, kernel_init=init.glorot_uniform,
                                    bias_init=init.zeros, rngs=rngs) if latent else None
        self.dec = LSTM(latent or hidden, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_in, kernel_init=init.glorot_uniform,
                              bias_init=init.zeros, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.enc(jnp.swapaxes(x, 0, 1), last_only=True)
        z = self.to_latent(h) if self.to_latent is not None else h
        hs = self.dec(z, length=x.shape[1])
        return jnp.swapaxes(self.out(hs), 0, 1)

    def diff(self, x: jax.Array, key: jax.Array | None):
        return self(x) - x, jnp.zeros(x.shape[0], x.dtype)


@dataclass(frozen=True)
class LSTMAEConfig(ModelConfig):
    """Encoder LSTM of ``hidden`` units -> (Dense to ``latent`` units, if > 0) -> decoder LSTM."""

    kind: ClassVar[str] = "lstm_ae"
    stack_on_cpu: ClassVar[bool] = False  # see bench.detectors.jax.train.vmapped_fleets
    module: ClassVar[type] = LSTMAE
    hidden: int = 32
    latent: int = 0

    def floats_per_row(self, n_in: int, length: int) -> float:
        """16 x the units of each of the two LSTMs (they keep their gates' local derivatives)
        plus 4 x the inputs."""
        return 16 * self.hidden * 2 + 4 * n_in
