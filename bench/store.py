"""The score store: each fitted cell's scores, content-addressed by its fit key.

A cell's fit key hashes everything that decides its scores: harness version and fitting code,
detector name, declared version, code digest and parameters, dataset name, parameters and
content fingerprint, seed and protocol.  Its scores are saved as ``<store>/<fit_key>.npz``
(compressed, written atomically) with the fit's timings, so a rerun, a new metric or a new
threshold strategy re-evaluates stored scores without refitting.

A stored file is verified before it is reused: it must name the same fit key, hold exactly the
dataset's series with their lengths, finite scores, and match the checksum written with it.
Anything else means "refit", never "reuse" and never "fail": :func:`load` returns why.

Hardening (issue 22): a file is read only when it is a regular file (a FIFO at a score path does
not block), and only after the sizes its zip directory declares are checked against what the
dataset's series can need (a 1.5 MB file that would decompress to 1.6 GB is refused before
anything is decompressed); a fit key is a hex digest, so no key can reach outside its store
(:func:`path_in`); a score file that cannot be written is a warning and the fitted result is
kept (:func:`save_or_warn`); temporary files a killed writer left are swept (:func:`sweep_tmp`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: version of the file layout; files of another layout are refitted
FORMAT = 2
#: what a fit key looks like (a hex digest): nothing else names a file in a store
FIT_KEY = re.compile(r"[0-9a-f]{8,64}")
#: bytes of an .npy header beyond the array's data (numpy pads headers to 64 bytes; 4 KiB spare)
NPY_HEADER_MAX = 4096
#: the header and meta members of a score file are small JSON texts
JSON_MEMBER_MAX = 16 * 2**20
#: explanations hold at most this many values per row (features)
EXPLAIN_FEATURES_MAX = 100_000
#: temporary files older than this (seconds) were left by a killed writer
TMP_STALE_S = 900.0


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


def path_in(store: str | Path, fit_key: Any) -> Path | None:
    """The score file of ``fit_key`` in ``store``, or None when ``fit_key`` is not a fit key (a
    record's key such as ``../../x`` can name no file outside the store)."""
    if not isinstance(fit_key, str) or not FIT_KEY.fullmatch(fit_key):
        return None
    return path_for(store, fit_key)


def save_or_warn(store: str | Path, fit_key: str, stored: Stored) -> str:
    """:func:`save`, where a failure to write (a full disk, a read-only store) is a warning: ""
    when saved, else one line (also printed to stderr) saying that the scores were not stored;
    the fitted result stands and a rerun refits."""
    try:
        save(store, fit_key, stored)
        return ""
    except OSError as exc:
        note = (f"scores not stored in {store} ({exc.strerror or type(exc).__name__}); the "
                f"result is kept, a rerun refits this cell")
        print(f"bench: warning: {note}", file=sys.stderr)
        return note


def sweep_tmp(directory: str | Path, older_than_s: float = TMP_STALE_S) -> int:
    """Remove the ``.*.tmp`` files (score files and records being written) a killed writer left
    in ``directory`` more than ``older_than_s`` seconds ago; how many.  Files being written now by
    another run are younger and kept."""
    now, n = time.time(), 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for e in entries:
        if not (e.name.startswith(".") and e.name.endswith(".tmp")):
            continue
        try:
            if e.is_file(follow_symlinks=False) and now - e.stat(
                    follow_symlinks=False).st_mtime > older_than_s:
                os.unlink(e.path)
                n += 1
        except OSError:
            continue
    return n


def _member_limit(name: str, lengths: dict[str, int]) -> int | None:
    """The most bytes member ``name`` of a score file may decompress to; None: not read."""
    if name in ("header.npy", "meta.npy"):
        return JSON_MEMBER_MAX
    for prefix, width in (("scores/", 8), ("explain/", 4 * EXPLAIN_FEATURES_MAX)):
        if name.startswith(prefix) and name.endswith(".npy"):
            series = name[len(prefix):-4]
            return lengths.get(series, 0) * width + NPY_HEADER_MAX
    return None


def _check_sizes(path: Path, lengths: dict[str, int]) -> str:
    """Why the zip directory of ``path`` declares more than its series can need ("" if not)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            limit = _member_limit(info.filename, lengths)
            if limit is not None and info.file_size > limit:
                return (f"member {info.filename} would decompress to {info.file_size} bytes, "
                        f"more than the {limit} its series can need")
    return ""


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
    if not path.is_file():  # a FIFO or a device would block or never end
        return None, f"{path.name} is not a regular file"
    try:
        too_big = _check_sizes(path, lengths)
        if too_big:
            return None, f"{path.name}: {too_big}"
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
