"""The score store: each fitted cell's scores, content-addressed by its fit key.

A cell's fit key hashes everything that decides its scores: harness version and fitting code,
detector name, declared version, code digest and parameters, dataset name, parameters and
content fingerprint, seed and protocol.  Its scores are saved as ``<store>/<fit_key>.npz``
(compressed, written atomically) with the fit's timings, so a rerun, a new metric or a new
threshold strategy re-evaluates stored scores without refitting.

A stored file is verified before it is reused: it must name the same fit key, hold exactly the
dataset's series with their lengths, finite scores, and match the checksum written with it.
Anything else means "refit", never "reuse" and never "fail": :func:`load` returns why.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: version of the file layout; files of another layout are refitted
FORMAT = 2


@dataclass
class Stored:
    """One cell's stored fit: scores and test-range explanations by series, and the fit's
    timings (``fit_s``, ``score_s``, ``peak_mem_mb``, ``device``, ...)."""

    scores: dict[str, np.ndarray]
    explain: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def evaluation_key(versions: dict[str, Any]) -> str:
    """Short digest of the declared evaluation versions a cell used (see
    :func:`bench.runner.evaluation_versions`)."""
    text = json.dumps(versions, sort_keys=True, default=str).encode()
    return hashlib.sha256(text).hexdigest()[:12]


def path_for(store: str | Path, fit_key: str) -> Path:
    return Path(store) / f"{fit_key}.npz"


def _checksum(scores: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(scores):
        a = np.ascontiguousarray(scores[name], dtype=np.float64)
        h.update(name.encode())
        h.update(b"\0")
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(store: str | Path, fit_key: str, stored: Stored) -> Path:
    """Write one cell's per-series scores (and optional test-range explanations) atomically,
    with the fit key, each series' length and a checksum of the scores."""
    path = path_for(store, fit_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    scores = {n: np.asarray(v, dtype=np.float64) for n, v in stored.scores.items()}
    arrays: dict[str, Any] = {f"scores/{n}": v for n, v in scores.items()}
    for name, v in (stored.explain or {}).items():
        arrays[f"explain/{name}"] = np.asarray(v, dtype=np.float32)
    header = {"format": FORMAT, "fit_key": fit_key, "checksum": _checksum(scores),
              "lengths": {n: int(v.shape[0]) for n, v in scores.items()}}
    arrays["header"] = np.array(json.dumps(header))
    arrays["meta"] = np.array(json.dumps(stored.info, default=str))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(store: str | Path, fit_key: str,
         lengths: dict[str, int]) -> tuple[Stored | None, str]:
    """The stored fit under ``fit_key`` if it is exactly what a fit would produce for a dataset
    whose series have ``lengths`` (name -> rows): ``(Stored, "")``.  Otherwise ``(None, why)``:
    ``why`` is ``""`` when there is no file, else one line saying what was wrong."""
    return load_file(path_for(store, fit_key), lengths, fit_key)


def load_file(path: str | Path, lengths: dict[str, int],
              fit_key: str | None = None) -> tuple[Stored | None, str]:
    """As :func:`load`, for a file given by path; ``fit_key=None`` accepts the fit key the file
    was written under (its header must still match its contents)."""
    path = Path(path)
    if not path.exists():
        return None, ""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "header" not in z.files:
                return None, f"{path.name} has no header (an older or foreign file)"
            header = json.loads(str(z["header"]))
            scores = {k[7:]: z[k] for k in z.files if k.startswith("scores/")}
            explain = {k[8:]: z[k] for k in z.files if k.startswith("explain/")}
            info = json.loads(str(z["meta"]))
    except Exception as exc:  # truncated, not a zip, bad JSON: refit
        return None, f"{path.name} is unreadable ({type(exc).__name__})"
    why = _verify(header, scores, header.get("fit_key") if fit_key is None and
                  isinstance(header, dict) else fit_key, lengths)
    if why:
        return None, f"{path.name}: {why}"
    return Stored(scores, explain, info), ""


def _verify(header: Any, scores: dict[str, np.ndarray], fit_key: str,
            lengths: dict[str, int]) -> str:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return "unknown file format"
    if header.get("fit_key") != fit_key:
        return f"holds the scores of fit key {header.get('fit_key')!r}, not {fit_key!r}"
    if set(scores) != set(lengths):
        missing = sorted(set(lengths) - set(scores))[:3]
        extra = sorted(set(scores) - set(lengths))[:3]
        return f"series differ from the dataset's (missing {missing}, extra {extra})"
    for name, n in lengths.items():
        a = scores[name]
        if a.ndim != 1 or a.shape[0] != n:
            return f"series '{name}' has {a.shape} scores, the dataset has {n} rows"
        if not np.isfinite(a).all():
            return f"series '{name}' holds {int((~np.isfinite(a)).sum())} non-finite scores"
    if header.get("checksum") != _checksum(scores):
        return "checksum mismatch (the file was changed after it was written)"
    return ""


def copy(path: str | Path, directory: str | Path, *, explain: bool = True) -> Path:
    """Copy a verified stored fit into ``directory`` under its own fit key, without its
    explanations unless ``explain`` (a regression baseline needs only the scores to be
    re-evaluated; explanations are most of the bytes of a multivariate cell).  A file that fails
    verification raises ``ValueError`` saying why."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"])) if "header" in z.files else {}
    except Exception as exc:  # truncated, not a zip, bad JSON
        raise ValueError(f"{path}: unreadable ({type(exc).__name__})") from None
    stored, why = load_file(path, dict(header.get("lengths") or {}), header.get("fit_key"))
    if stored is None:
        raise ValueError(f"{path}: {why or 'no such file'}")
    return save(directory, header["fit_key"],
                Stored(stored.scores, stored.explain if explain else {}, stored.info))
