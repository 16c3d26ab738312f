"""Configuration of the JAX detectors, importable without JAX: the frozen training config shared
by the three neural detectors, their named model configs, the shape ``bucket`` helper (shared
with KDE), and the JAX set-up every JAX path calls first (:func:`setup_jax`: the persistent
compilation cache and the compile accounting reported as ``compiles`` / ``compile_s``).
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import bench
from bench.params import Interval, Options


def bucket(n: int, lo: int = 1) -> int:
    """Smallest ``2**k`` or ``3 * 2**(k-1)`` that is ``>= max(n, lo, 1)``: padding a size up to
    its bucket bounds the number of distinct compiled shapes (at most two per octave) and wastes
    at most a third of the padded size."""
    n = max(int(n), int(lo), 1)
    p = 1 << (n - 1).bit_length()
    return 3 * p // 4 if 3 * p // 4 >= n and p >= 4 else p


# ----------------------------------------------------------------------------- training


#: the values the neural detectors' training parameters accept (``_parameter_constraints``,
#: checked by bench.params when a run is planned; TrainConfig.check applies the same bounds)
TRAIN_CONSTRAINTS = {
    "epochs": [Interval(int, 1, None)], "batch": [Interval(int, 1, None)],
    "stride": [Interval(int, 1, None)], "score_batch": [Interval(int, 1, None)],
    "patience": [Interval(int, 0, None)], "lr": [Interval(float, 0, None, closed="neither")],
    "val_fraction": [Interval(float, 0, 1, closed="left")],
    "stop_on": [Options("split", "val", "none")], "loss": [Options("mse", "mae")],
    "dropout": [Interval(float, 0, 1, closed="left")], "l1": [Interval(float, 0, None)],
    "pca": [Interval(int, 0, None)], "window": [Interval(int, 1, None), "auto"]}


@dataclass(frozen=True)
class TrainConfig:
    """How a neural detector trains and scores (the same fields for all three).

    epochs:       at most this many passes over the training samples.
    batch:        samples per Adam step; ``lr``: Adam's learning rate.
    patience:     early stopping after this many epochs without a better validation loss
                  (0 = never stop early); the best weights are restored.
    val_fraction: with ``stop_on="split"``, the last fraction of the training samples (in time
                  order) is the validation set and is not trained on.
    stop_on:      ``"split"``, ``"val"`` (the runner's unlabelled validation range) or ``"none"``.
    loss:         ``"mse"`` or ``"mae"`` (training loss and score).
    stride:       rows between the starts of consecutive training samples.
    score_batch:  samples per scoring chunk (bounds memory; a fleet puts this many samples, of
                  several models, in one chunk).
    """

    epochs: int = 30
    batch: int = 64
    lr: float = 1e-3
    patience: int = 3
    val_fraction: float = 0.1
    stop_on: str = "split"
    loss: str = "mse"
    stride: int = 1
    score_batch: int = 16384

    def check(self, who: str) -> TrainConfig:
        """Raise a one-line :class:`bench.BenchError` naming the bad field; return self."""
        for key in ("epochs", "batch", "stride", "score_batch"):
            if int(getattr(self, key)) < 1:
                raise bench.BenchError(f"{who}: {key} must be >= 1, got {getattr(self, key)}")
        if not 0 <= self.val_fraction < 1:
            raise bench.BenchError(f"{who}: val_fraction must be in [0, 1), "
                                   f"got {self.val_fraction}")
        if self.stop_on not in ("split", "val", "none"):
            raise bench.BenchError(f"{who}: stop_on must be split, val or none, "
                                   f"got {self.stop_on!r}")
        if self.loss not in ("mse", "mae"):
            raise bench.BenchError(f"{who}: loss must be mse or mae, got {self.loss!r}")
        if not self.lr > 0:
            raise bench.BenchError(f"{who}: lr must be > 0, got {self.lr}")
        return self


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelConfig:
    """A model's architecture; its fields are the Flax module's keyword arguments after
    ``n_in`` (see :data:`bench.detectors.jax.program.MODULES`).  ``kind`` names the module;
    ``reconstructs``: the model reconstructs its whole sample (each position is scored), rather
    than predicting one row."""

    kind: ClassVar[str] = ""
    reconstructs: ClassVar[bool] = True


@dataclass(frozen=True)
class DenseConfig(ModelConfig):
    """``n_in -> hidden[0] -> ... -> hidden[-1] (the code) -> ... -> hidden[0] -> n_in``."""

    kind: ClassVar[str] = "dense"
    hidden: tuple[int, ...] = (32, 16, 8)
    activation: str = "relu"
    out_activation: str = "linear"
    dropout: float = 0.0
    l1: float = 0.0


@dataclass(frozen=True)
class LSTMAEConfig(ModelConfig):
    """Encoder LSTM of ``hidden`` units -> (Dense to ``latent`` units, if > 0) -> decoder LSTM."""

    kind: ClassVar[str] = "lstm_ae"
    hidden: int = 32
    latent: int = 0


@dataclass(frozen=True)
class ForecastConfig(ModelConfig):
    """LSTM of ``hidden`` units over the history -> Dense: the next row; ``noise``: Gaussian
    input noise (standard deviation) in training."""

    kind: ClassVar[str] = "forecast"
    reconstructs: ClassVar[bool] = False
    hidden: int = 32
    noise: float = 0.0


# ----------------------------------------------------------------------------- JAX set-up

#: ``BENCH_NO_JIT_CACHE=1`` turns the persistent compilation cache off; ``BENCH_JIT_CACHE_DIR``
#: moves it (default: the user's cache directory, ``.../bench/jax``).
NO_CACHE_ENV, CACHE_DIR_ENV = "BENCH_NO_JIT_CACHE", "BENCH_JIT_CACHE_DIR"

_lock = threading.Lock()
_state: dict = {"ready": False, "cache_dir": None}
_stats = {"requests": 0, "cache_hits": 0, "compile_s": 0.0}


def default_cache_dir() -> Path:
    """``platformdirs.user_cache_dir("bench")/jax`` when platformdirs is installed, else
    ``$XDG_CACHE_HOME/bench/jax`` (``~/.cache/bench/jax``)."""
    try:
        import platformdirs
    except ImportError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bench"
    else:
        base = Path(platformdirs.user_cache_dir("bench", appauthor=False))
    return base / "jax"


def cache_dir() -> Path | None:
    """Where compiled programs are cached between processes (None: disabled)."""
    if os.environ.get(NO_CACHE_ENV, "").strip() not in ("", "0"):
        return None
    return Path(os.environ.get(CACHE_DIR_ENV) or default_cache_dir()).expanduser()


def setup_jax() -> Path | None:
    """Once per process, before the first compilation of a JAX detector: point JAX's persistent
    compilation cache at :func:`cache_dir` (every program is cached, however fast it compiled;
    a directory the user set through JAX's own config wins) and start counting compilations.
    Returns the cache directory in use (None: no cache)."""
    with _lock:
        if _state["ready"]:
            return _state["cache_dir"]
        import jax
        from jax import monitoring

        path = None if jax.config.jax_compilation_cache_dir else cache_dir()
        if path is not None:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                warnings.warn(f"bench: JAX compilation cache disabled, cannot create {path}: "
                              f"{exc}; set {CACHE_DIR_ENV} or {NO_CACHE_ENV}=1", stacklevel=2)
                path = None
        if path is not None:
            jax.config.update("jax_compilation_cache_dir", str(path))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
            _reset_jax_cache_state()
        monitoring.register_event_listener(_on_event)
        monitoring.register_event_duration_secs_listener(_on_duration)
        _state.update(ready=True, cache_dir=path or (
            Path(jax.config.jax_compilation_cache_dir)
            if jax.config.jax_compilation_cache_dir else None))
        return _state["cache_dir"]


def _reset_jax_cache_state() -> None:
    """JAX decides once per process whether the cache is used, at its first compilation; if
    something compiled before :func:`setup_jax` (another plugin), let it decide again."""
    try:
        from jax._src import compilation_cache
    except ImportError:  # pragma: no cover - private module moved
        return
    if getattr(compilation_cache, "_cache_checked", False):
        compilation_cache.reset_cache()


_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")


def _on_event(event: str, **kwargs) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _stats["cache_hits"] += 1


def _on_duration(event: str, duration: float, **kwargs) -> None:
    if event in _COMPILE_EVENTS:
        _stats["compile_s"] += duration
        if event == _COMPILE_EVENTS[2]:
            _stats["requests"] += 1


def compile_stats() -> dict[str, float]:
    """Process totals since :func:`setup_jax`: ``compiles`` (XLA compilations: programs built
    by XLA, persistent-cache hits excluded), ``cache_hits`` (programs loaded from the persistent
    cache) and ``compile_s`` (seconds tracing, lowering and compiling or loading them)."""
    return {"compiles": _stats["requests"] - _stats["cache_hits"],
            "cache_hits": _stats["cache_hits"], "compile_s": _stats["compile_s"]}


def stats_since(before: dict[str, float]) -> dict[str, float]:
    """:func:`compile_stats` now minus ``before``."""
    now = compile_stats()
    return {k: now[k] - before[k] for k in now}
