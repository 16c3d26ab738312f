"""The LSTM layer of the JAX detectors (Flax NNX): the recurrence :func:`lstm_scan` with its
hand-written gradient, and the layer :class:`LSTM` built on it.  Imported lazily (it imports JAX).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from . import init

#: time steps per iteration of the LSTM scan (partial unrolling; full unrolling compiles slowly)
UNROLL = 1


def _gate_scale(hidden: int) -> np.ndarray:
    """Per-column multipliers of the ``[i, f, g, o]`` pre-activations: ``sigmoid(x) = (tanh(x /
    2) + 1) / 2``, so with the ``i``, ``f``, ``o`` columns halved one ``tanh`` over all ``4H``
    columns gives every gate (``g`` is the ``tanh`` itself)."""
    return np.r_[np.full(2 * hidden, 0.5), np.ones(hidden), np.full(hidden, 0.5)].astype(
        np.float32)


def _sum_steps(x: jax.Array) -> jax.Array:
    """``x [L, ...]`` summed over its leading axis, as a matmul: XLA:CPU reduces over a major
    axis about 20x slower (7.8 ms against 0.37 ms for ``[30, 256, 256]``, measured)."""
    ones = jnp.ones((8, x.shape[0]), x.dtype)  # 8 rows: a 1-row dot is rewritten as a reduce
    return (ones @ x.reshape(x.shape[0], -1))[0].reshape(x.shape[1:])


#: Inputs this narrow are projected inside the recurrent loop, fused with the gates: hoisting
#: the projection out of the loop would write an ``[L, B, 4H]`` array (for ``n_in = 1``, 63 MB
#: and 20 ms per 2048 scored windows of 30 steps, measured) to save a few multiplies per step.
INLINE_INPUTS = 4


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def lstm_scan(whs: jax.Array, wis: jax.Array | None, bs: jax.Array | None, x: jax.Array,
              length: int | None, last_only: bool = False) -> jax.Array:
    """LSTM recurrence with zero initial state; returns ``hs [L, B, H]`` (time-major), or with
    ``last_only`` the last state ``[B, H]`` (an encoder's: no ``[L, B, H]`` written in
    inference).

    ``whs [H, 4H]``: recurrent kernel, ``wis [n_in, 4H]`` and ``bs [4H]``: input kernel and bias,
    all scaled by :func:`_gate_scale`.  ``x``: time-major inputs ``[L, B, n_in]``, or one
    ``[B, n_in]`` repeated ``length`` times; with ``wis`` and ``bs`` None, ``x`` holds the scaled
    pre-activations ``x @ wis + bs`` already (``[L, B, 4H]`` or ``[B, 4H]``).

    Its gradient is hand-written (as cuDNN's and oneDNN's are): the forward pass keeps each
    step's local derivatives, the reverse scan carries only the state gradients and emits the
    pre-activation gradients (a few multiplies and one matmul per step), and the kernels'
    gradients are one matmul each after the loop instead of ``L`` small ones inside it."""
    return _lstm_forward(whs, wis, bs, x, length, keep=False, last_only=last_only)


def _preact(wis, bs, x):
    return x if wis is None else x @ wis + bs


def _lstm_forward(whs, wis, bs, x, length, keep, last_only=False):
    n_b, hidden = x.shape[-2], whs.shape[0]
    h0 = jnp.zeros((n_b, hidden), x.dtype)
    const = _preact(wis, bs, x) if length is not None else None

    def step(carry, xt):
        h, c = carry
        t = jnp.tanh((const if length is not None else _preact(wis, bs, xt)) + h @ whs)
        ti, tf, g, to = jnp.split(t, 4, axis=-1)
        i, f, o = 0.5 * ti + 0.5, 0.5 * tf + 0.5, 0.5 * to + 0.5
        c2 = f * c + i * g
        tc = jnp.tanh(c2)
        h2 = o * tc
        if not keep:
            return (h2, c2), (None if last_only else h2)
        # local derivatives for the backward pass: d h / d c, and d (gate pre-activation) per
        # unit of the state gradient that reaches it (dc for i, f, g; dh for o); then d c_prev
        k = jnp.concatenate([0.5 * g * (1 - ti * ti), 0.5 * c * (1 - tf * tf), i * (1 - g * g),
                             0.5 * tc * (1 - to * to)], axis=-1)
        return (h2, c2), (h2, o * (1 - tc * tc), f, k)

    xs = None if length is not None else x
    (h, _), ys = jax.lax.scan(step, (h0, h0), xs, length=length, unroll=UNROLL)
    return h if last_only and not keep else ys


def _lstm_fwd(whs, wis, bs, x, length, last_only):
    hs, a, f, k = _lstm_forward(whs, wis, bs, x, length, keep=True)
    return (hs[-1] if last_only else hs), (whs, wis, x, hs, a, f, k)


def _shift(x: jax.Array) -> jax.Array:
    """``x [L, ...]`` one step later: ``[0, x_0, ..., x_{L-2}]`` (the zero initial state)."""
    return jnp.concatenate([jnp.zeros_like(x[:1]), x[:-1]], axis=0)


def _t_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a.T @ b`` for ``a [N, M]``, ``b [N, K]`` (the rows of both flattened first)."""
    a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    return jax.lax.dot_general(a, b, (((0,), (0,)), ((), ())))


def _lstm_bwd(length, last_only, res, dhs):
    whs, wis, x, hs, a_all, f_all, k_all = res
    wt = whs.T
    if last_only:
        dhs = jnp.zeros_like(hs).at[-1].set(dhs)

    def step(carry, inp):
        dh_next, dc_next = carry
        dh_out, a, f, k = inp
        dh = dh_out + dh_next
        dc = dc_next + dh * a
        dz = jnp.concatenate([dc, dc, dc, dh], axis=-1) * k
        return (dz @ wt, dc * f), dz

    zeros = jnp.zeros_like(hs[0])
    _, dz = jax.lax.scan(step, (zeros, zeros), (dhs, a_all, f_all, k_all), reverse=True,
                         unroll=UNROLL)
    dwhs = _t_matmul(_shift(hs), dz)
    dp = dz if length is None else _sum_steps(dz)  # gradient of the pre-activations
    if wis is None:
        return dwhs, None, None, dp
    # input kernel and bias in one matmul: [x, 1, 0...] (8 columns at least: a dot with a
    # 1- or 2-row result is rewritten by XLA as a slow reduce) transposed times dp
    x2 = x.reshape(-1, x.shape[-1])
    pad = max(8 - x2.shape[1] - 1, 0)
    aug = jnp.concatenate([x2, jnp.ones((len(x2), 1), x.dtype),
                           jnp.zeros((len(x2), pad), x.dtype)], axis=1)
    dwb = _t_matmul(aug, dp)
    dx = (dp.reshape(-1, dp.shape[-1]) @ wis.T).reshape(x.shape)
    return dwhs, dwb[:x2.shape[1]], dwb[x2.shape[1]], dx


lstm_scan.defvjp(_lstm_fwd, _lstm_bwd)


class LSTM(nnx.Module):
    """One LSTM layer (gates i, f, g, o), run with ``jax.lax.scan`` over time.  Glorot-uniform
    input kernel, orthogonal recurrent kernel, forget-gate bias 1 (Keras' defaults).  The
    recurrence is :func:`lstm_scan` (one ``tanh`` for the four gates, a hand-written gradient);
    wide inputs are projected by one matmul before it, narrow ones (``<= INLINE_INPUTS``
    features) inside each step."""

    def __init__(self, n_in: int, hidden: int, *, rngs: nnx.Rngs):
        self.wi = nnx.Param(init.glorot_uniform(rngs.params(), (n_in, 4 * hidden)))
        self.wh = nnx.Param(init.orthogonal(rngs.params(), (hidden, 4 * hidden)))
        self.b = nnx.Param(init.lstm_bias(rngs.params(), (4 * hidden,)))
        self.hidden = hidden

    def __call__(self, x: jax.Array, length: int | None = None, last_only: bool = False):
        """``x``: time-major inputs ``[L, B, n_in]``, or one ``[B, n_in]`` repeated for
        ``length`` steps.  Returns ``hs [L, B, H]`` (time-major: no transposes of the big arrays,
        forward or backward), or with ``last_only`` the last state ``[B, H]``."""
        scale = _gate_scale(self.hidden)
        wis, bs, whs = self.wi[...] * scale, self.b[...] * scale, self.wh[...] * scale
        if length is None and x.shape[-1] > INLINE_INPUTS:
            # one [L*B, n_in] @ [n_in, 4H] matmul (and one for its gradient)
            ps = (x.reshape(-1, x.shape[-1]) @ wis + bs).reshape(*x.shape[:-1], -1)
            return lstm_scan(whs, None, None, ps, None, last_only)
        return lstm_scan(whs, wis, bs, x, length, last_only)


def lstm_reference(wh: jax.Array, proj: jax.Array) -> jax.Array:
    """The textbook LSTM recurrence (``jax.nn.sigmoid`` gates, JAX's own gradient) over
    time-major ``proj [L, B, 4H]``: what :func:`lstm_scan` must equal (tests)."""
    hidden = wh.shape[0]
    h0 = jnp.zeros((proj.shape[1], hidden), proj.dtype)

    def step(carry, p):
        h, c = carry
        i, f, g, o = jnp.split(p + h @ wh, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    return jax.lax.scan(step, (h0, h0), proj)[1]
