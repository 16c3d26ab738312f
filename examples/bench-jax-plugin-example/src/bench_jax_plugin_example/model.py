"""The model: a small Transformer autoencoder over windows, as a Flax NNX module and its config.

Imported when the detector is fitted (it imports JAX), not when bench lists its plugins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from bench.detectors.jax import ModelConfig, init
from flax import nnx


def _positions(length: int, width: int) -> np.ndarray:
    """Sinusoidal position codes ``[length, width]`` (no parameters)."""
    pos = np.arange(length)[:, None] / (10000 ** (np.arange(0, width, 2) / width))[None, :]
    out = np.zeros((length, width), np.float32)
    out[:, 0::2], out[:, 1::2] = np.sin(pos), np.cos(pos[:, :width // 2])
    return out


class TransformerAE(nnx.Module):
    """Window ``[B, L, F]`` -> linear embedding + positions -> one self-attention block (with
    LayerNorm) -> mean over time -> a ``code``-unit bottleneck -> decoded at every position.
    The bottleneck makes an unusual window expensive to reconstruct: that error is the score.
    Flax's own initialisers (MultiHeadAttention's LeCun-normal, LayerNorm's ones) next to
    bench's host-drawn Glorot ones: each layer initialises itself."""

    def __init__(self, n_in: int, length: int, width: int, heads: int, code: int, *,
                 rngs: nnx.Rngs):
        dense = {"kernel_init": init.glorot_uniform, "bias_init": init.zeros, "rngs": rngs}
        self.embed = nnx.Linear(n_in, width, **dense)
        self.attn = nnx.MultiHeadAttention(num_heads=heads, in_features=width, decode=False,
                                           rngs=rngs)
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.encode = nnx.Linear(width, code, **dense)
        self.decode = nnx.Linear(code, width, **dense)
        self.out = nnx.Linear(width, n_in, **dense)
        self.pos = _positions(length, width)  # a constant, not a parameter

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.embed(x) + self.pos
        h = self.norm(h + self.attn(h))
        z = jnp.tanh(self.encode(h.mean(axis=1)))  # [B, code]
        return self.out(jax.nn.relu(self.decode(z)[:, None, :] + self.pos))

    def diff(self, x: jax.Array, key: jax.Array | None):
        """Reconstruction minus input ``[B, L, F]``, and no penalty."""
        return self(x) - x, jnp.zeros(x.shape[0], x.dtype)


@dataclass(frozen=True)
class TransformerConfig(ModelConfig):
    """The module's keyword arguments after ``n_in`` (hashable: it keys the compiled programs)."""

    kind: ClassVar[str] = "transformer_ae"
    module: ClassVar[type] = TransformerAE
    length: int = 16
    width: int = 16
    heads: int = 2
    code: int = 4

    def floats_per_row(self, n_in: int, length: int) -> float:
        """Activations kept per sample row for the backward pass (sizes a fleet)."""
        return 12.0 * self.width + 4.0 * n_in + 4.0 * length * self.heads
