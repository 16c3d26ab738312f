"""Gaussian kernel density baseline: signal = negative normalised log-density."""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
from scipy.special import logsumexp

import bench
from bench.params import Interval, Options

from .jax.cache import setup_jax  # the JAX detectors' compilation cache
from .jax.config import bucket  # the JAX detectors' shape buckets


def scott_bandwidth(n: int, d: int) -> float:
    """Scott's rule for standardised data, ``n ** (-1 / (d + 4))`` (scikit-learn's ``"scott"``)."""
    return float(n ** (-1.0 / (d + 4)))


def gaussian_log_density(X: np.ndarray, train: np.ndarray, bandwidth: float,
                         chunk: int = 2048) -> np.ndarray:
    """Log of the normalised Gaussian KDE at each row of ``X`` (float64, chunked):
    ``log(1/n sum_i N(x; x_i, h^2 I))``, as scikit-learn's ``KernelDensity.score_samples``."""
    train = np.asarray(train, dtype=np.float64)
    n, d = train.shape
    h2 = bandwidth**2
    norm = -math.log(n) - 0.5 * d * math.log(2 * math.pi * h2)
    tn = np.einsum("ij,ij->i", train, train)
    out = np.empty(len(X))
    for start in range(0, len(X), chunk):
        x = np.asarray(X[start:start + chunk], dtype=np.float64)
        d2 = np.einsum("ij,ij->i", x, x)[:, None] + tn[None, :] - 2.0 * x @ train.T
        np.maximum(d2, 0.0, out=d2)
        out[start:start + chunk] = logsumexp(-0.5 * d2 / h2, axis=1) + norm
    return out


@functools.lru_cache(maxsize=1)
def _jax_kernel():
    """The jitted chunk kernel (built on first use, so importing this plugin stays cheap)."""
    import jax
    import jax.numpy as jnp

    def kernel(x, train, tn, pad, scale, norm):
        d2 = jnp.sum(x * x, axis=1)[:, None] + tn[None, :] - 2.0 * (x @ train.T)
        a = -scale * jnp.maximum(d2, 0.0) + pad[None, :]
        m = jnp.max(a, axis=1, keepdims=True)
        return jnp.log(jnp.sum(jnp.exp(a - m), axis=1)) + m[:, 0] + norm

    return jax.jit(kernel)


def jax_log_density(X: np.ndarray, train: np.ndarray, bandwidth: float, *,
                    dtype: str = "float32", chunk: int = 2048) -> np.ndarray:
    """:func:`gaussian_log_density` in JAX: chunks of ``chunk`` rows, each one compiled
    log-sum-exp over the pairwise squared distances to every training row, on JAX's default
    device.  Rows are centred on the training mean first (distances are unchanged, rounding
    shrinks).  ``dtype="float64"`` computes in double precision (``jax.enable_x64`` for the
    call only).  Shapes are padded to a few buckets, so many series cost few compilations."""
    import jax

    if dtype not in ("float32", "float64"):
        raise bench.BenchError(f"kde: dtype must be float32 or float64, got {dtype!r}")
    train = np.asarray(train, dtype=np.float64)
    n, d = train.shape
    mu = train.mean(axis=0)
    h2 = bandwidth**2
    norm = -math.log(n) - 0.5 * d * math.log(2 * math.pi * h2)
    n_pad = bucket(n)
    t = np.zeros((n_pad, d)), np.full(n_pad, -np.inf)
    t[0][:n], t[1][:n] = train - mu, 0.0
    c = min(bucket(chunk), bucket(len(X)))
    out = np.empty(len(X))
    # inputs are centred and cast on the host: the device gets arrays of its own dtype (a
    # float64 array converted on the device costs a transfer of twice the bytes and a kernel)
    np_dtype = np.dtype(dtype)
    ctx = jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()
    setup_jax()  # the persistent compilation cache, and compilations counted
    with ctx:
        kernel = _jax_kernel()
        # arrays go to the device with device_put and |x|^2 is summed on the host (from the
        # rounded rows, as the kernel's): an eager jnp op compiles a small program per shape
        tr_host = t[0].astype(np_dtype)
        tr = jax.device_put(tr_host)
        tn = jax.device_put(np.einsum("ij,ij->i", tr_host, tr_host))
        pad = jax.device_put(t[1].astype(np_dtype))
        scale, norm = np_dtype.type(0.5 / h2), np_dtype.type(norm)
        pending = None
        for start in range(0, len(X), c):
            part = np.asarray(X[start:start + c])
            x = np.zeros((c, d), np_dtype)
            np.subtract(part, mu, out=x[:len(part)], casting="unsafe")
            res = kernel(x, tr, tn, pad, scale, norm)
            if pending is not None:
                out[pending[0]:pending[0] + pending[1]] = np.asarray(pending[2])[:pending[1]]
            pending = (start, len(part), res)
        if pending is not None:
            out[pending[0]:pending[0] + pending[1]] = np.asarray(pending[2])[:pending[1]]
    return out


def _resolve_backend(backend: str) -> str:
    if backend not in ("auto", "jax", "numpy"):
        raise bench.BenchError(f"kde: backend must be auto, jax or numpy, got {backend!r}")
    if backend != "auto":
        return backend
    try:
        import jax  # noqa: F401
    except ImportError:  # pragma: no cover - jax is a dependency
        return "numpy"
    return "jax"


class KDE:
    """Gaussian kernel density estimate of the training rows.

    Score: ``-log p(x)``, the negative normalised log-density in nats (scikit-learn's
    ``KernelDensity(kernel="gaussian").score_samples`` negated); higher = more anomalous.
    ``bandwidth``: kernel standard deviation in standardised units; ``None`` = Scott's rule.
    ``max_train``: at most this many training rows are kept (evenly spaced) to bound scoring cost.
    ``backend``: ``numpy`` (float64, scipy's log-sum-exp: the reference values), ``jax`` (one
    compiled log-sum-exp per chunk on JAX's default device, GPU included) or ``auto`` (``jax``
    when JAX imports).  ``dtype``: the JAX path's precision, ``float32`` (about 1e-7 relative to
    float64) or ``float64``; the numpy path is always float64.  On a univariate series the
    harness runs it on causal windows of ``default_window`` rows (its tags; ``--window``
    overrides).
    """

    #: declared capabilities (bench.DetectorTags): causal harness windows of 32 rows on a
    #: univariate series (the autoencoders' window, so that univariate pairings are fair)
    __bench_tags__ = bench.DetectorTags(default_window=32, fit_val=True, fit_seed=True)
    #: the values each parameter accepts, checked when the run is planned (bench.params)
    _parameter_constraints = {
        "bandwidth": [Interval(float, 0, None, closed="neither"), None],
        "max_train": [Interval(int, 1, None)],
        "backend": [Options("auto", "numpy", "jax")],
        "dtype": [Options("float32", "float64")]}

    def __init__(self, *, bandwidth: float | None = None, max_train: int = 20000,
                 backend: str = "auto", dtype: str = "float32"):
        self.bandwidth = bandwidth
        self.max_train = max_train
        self.backend = backend
        self.dtype = dtype

    def fit(self, X: np.ndarray, *, X_val: np.ndarray | None = None, seed: int = 0):
        X = np.asarray(X, dtype=np.float64)
        if len(X) > self.max_train:
            X = X[np.linspace(0, len(X) - 1, self.max_train).astype(int)]
        self.train_ = X
        # None means Scott's rule; 0 is a bad value (rejected), never a silent Scott's rule
        self.bandwidth_ = self.bandwidth if self.bandwidth is not None \
            else scott_bandwidth(*X.shape)
        if not self.bandwidth_ > 0:
            raise bench.BenchError(f"kde: bandwidth must be > 0, got {self.bandwidth_}; "
                                   f"leave it out for Scott's rule")
        self.backend_ = _resolve_backend(self.backend)
        if self.backend_ == "jax":
            import jax

            d = jax.devices()[0]
            self.device_ = f"{d.platform}:{d.id}"
        else:
            self.device_ = "cpu"
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "train_"):
            raise bench.BenchError("kde: call fit() before score()")
        if self.backend_ == "jax":
            return -jax_log_density(X, self.train_, self.bandwidth_, dtype=self.dtype)
        return -gaussian_log_density(X, self.train_, self.bandwidth_)


@bench.hookimpl
def bench_register_detectors(register):
    register("kde", KDE)
