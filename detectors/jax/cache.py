"""The JAX set-up every JAX path calls first (:func:`setup_jax`): the persistent compilation cache
and the compile accounting reported as ``compiles`` / ``compile_s``.  Importable without JAX (it
is imported inside :func:`setup_jax`); used by the JAX detectors and KDE's JAX path.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

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
