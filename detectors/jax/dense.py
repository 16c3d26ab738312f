"""The dense autoencoder of ``dense_ae``: its config and its Flax NNX module.  Imported lazily (it
imports JAX).

Every model maps a batch of samples ``x [B, L, F]`` (``L`` rows per sample) to its difference from
the target, ``diff [B, P, F]`` (reconstruction or prediction minus truth, ``P`` positions scored
per sample), plus a per-sample penalty ``[B]`` added to the training loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from . import init
from .config import ModelConfig

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "leaky_relu": jax.nn.leaky_relu,
    "sigmoid": jax.nn.sigmoid,
    "linear": lambda x: x,
}


def _dropout(h: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate <= 0:
        return h
    keep = jax.random.bernoulli(key, 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


class DenseAE(nnx.Module):
    """``n_in -> hidden[0] -> ... -> hidden[-1] -> ... -> hidden[0] -> n_in``; ``hidden[-1]`` is
    the code.  Glorot-uniform kernels, zero biases (Keras' defaults)."""

    def __init__(self, n_in: int, hidden: tuple[int, ...], activation: str, out_activation: str,
                 dropout: float, l1: float, *, rngs: nnx.Rngs):
        sizes = (n_in, *hidden, *hidden[-2::-1], n_in)
        self.layers = nnx.List([nnx.Linear(a, b, kernel_init=init.glorot_uniform,
                                           bias_init=init.zeros, rngs=rngs)
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


@dataclass(frozen=True)
class DenseConfig(ModelConfig):
    """``n_in -> hidden[0] -> ... -> hidden[-1] (the code) -> ... -> hidden[0] -> n_in``."""

    kind: ClassVar[str] = "dense"
    module: ClassVar[type] = DenseAE
    hidden: tuple[int, ...] = (32, 16, 8)
    activation: str = "relu"
    out_activation: str = "linear"
    dropout: float = 0.0
    l1: float = 0.0

    def floats_per_row(self, n_in: int, length: int) -> float:
        """Activations kept per sample row for the backward pass: about 4 x the layers' widths
        (``n_in`` counts the whole flattened sample, so per row it is divided by ``length``)."""
        return 4 * (2 * n_in + 2 * sum(self.hidden)) / length
