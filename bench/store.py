"""The score store: each fitted cell's scores, content-addressed by its fit key.

A cell's fit key hashes everything that decides its scores (harness version, detector name,
version and parameters, dataset name, parameters and fingerprint, seed, protocol).  Its scores are
saved as ``<store>/<fit_key>.npz`` (compressed, written atomically) with the fit's timings, so a
rerun, a new metric or a new threshold strategy re-evaluates stored scores without refitting.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_CODE_FILES = ("metrics", "costs.py", "thresholds.py")


def _code_digest() -> str:
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in _CODE_FILES:
        p = root / name
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    from . import runner

    for fn in (runner.evaluate, runner._aggregate):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:12]


_DIGEST: str | None = None


def metric_code_version(plugin_versions: dict[str, str] | None = None) -> str:
    """Hash of the evaluation code (built-in metrics, costs, thresholds, the evaluation step) and
    the versions of any third-party plugins that provide the metrics, costs and thresholds used."""
    global _DIGEST
    if _DIGEST is None:
        _DIGEST = _code_digest()
    if not plugin_versions:
        return _DIGEST
    extra = json.dumps(plugin_versions, sort_keys=True).encode()
    return _DIGEST + "-" + hashlib.sha256(extra).hexdigest()[:6]


def path_for(store: str | Path, fit_key: str) -> Path:
    return Path(store) / f"{fit_key}.npz"


def save(store: str | Path, fit_key: str, scores: dict[str, np.ndarray],
         meta: dict[str, Any], explain: dict[str, np.ndarray] | None = None) -> Path:
    """Write one cell's per-series scores (and optional test-range explanations) atomically."""
    path = path_for(store, fit_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"scores/{name}": np.asarray(v, dtype=np.float64) for name, v in scores.items()}
    for name, v in (explain or {}).items():
        arrays[f"explain/{name}"] = np.asarray(v, dtype=np.float32)
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(store: str | Path, fit_key: str) -> tuple[dict[str, np.ndarray], dict[str, Any],
                                                    dict[str, np.ndarray]] | None:
    """``(scores by series, meta, explanations by series)``, or None when absent or unreadable."""
    path = path_for(store, fit_key)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            scores = {k[7:]: z[k] for k in z.files if k.startswith("scores/")}
            explain = {k[8:]: z[k] for k in z.files if k.startswith("explain/")}
            meta = json.loads(str(z["meta"]))
    except Exception:  # a truncated or foreign file is recomputed, not trusted
        return None
    return scores, meta, explain
