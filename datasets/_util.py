"""Helpers shared by the dataset loaders: where data lives, fingerprints, checked CSV reading.

Where a loader looks for a data set that does not ship with ``bench`` (in this order):

1. the ``path=`` the user gave;
2. the download cache, ``$BENCH_DATA/<name>`` (or the platform cache directory, see
   :func:`cache_dir`), where ``bench fetch NAME`` puts it, if that fetch completed
   (:func:`bench.fetch.is_complete`; a partial folder is skipped and named in the error);
3. ``../shared/data/<folder>`` beside the repository (a source checkout next to the shared data).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

import bench
from bench.fetch import cache_dir, is_complete  # the loaders' cache lookup (re-exported)

from . import DATA_DIR

#: The shared data folder of a source checkout: ``<repo>/../shared/data``.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def describe(factory) -> str:
    """A factory's whole docstring as one paragraph: the :attr:`bench.Dataset.description`."""
    import inspect

    return " ".join((inspect.getdoc(factory) or "").split())


def matches(name: str, pattern: str) -> bool:
    """``fnmatch`` against any of the ``|``-separated patterns (``"P-*|T-3"``)."""
    import fnmatch

    return any(fnmatch.fnmatch(name, p.strip()) for p in pattern.split("|"))


def shipped(*parts: str) -> Path:
    """A path inside the data shipped with ``bench`` (``datasets/data/...``)."""
    return DATA_DIR.joinpath(*parts)


def locate(dataset: str, path: str | None, candidates: Sequence[Path], what: str,
           fetch: str | None = None) -> Path:
    """The first existing path: ``path`` if given (it must exist), else the first of
    ``candidates``.  Raises a one-line :class:`bench.BenchError` naming what was tried and how to
    get the data (``bench fetch NAME`` when ``fetch`` is given)."""
    if path:
        p = Path(path).expanduser()
        if not p.exists():
            raise bench.BenchError(f"dataset '{dataset}': {p} not found; pass path= to {what}")
        return p
    incomplete = []
    for c in candidates:
        folder = _cache_folder(c)
        if folder is not None and c.exists() and not is_complete(folder):
            incomplete.append(folder)  # an interrupted or failed fetch: never read as data
        elif c.exists():
            return c
    tried = ", ".join(str(c) for c in candidates)
    how = f"run `bench fetch {fetch}` or pass" if fetch else "pass"
    skipped = "".join(f"; {f} is an incomplete download, skipped"
                      for f in dict.fromkeys(incomplete))
    raise bench.BenchError(f"dataset '{dataset}': no data found (looked in {tried}{skipped}); "
                           f"{how} {dataset}:path=... pointing at {what}")


def _cache_folder(path: Path) -> Path | None:
    """The ``bench fetch`` folder (``cache_dir()/NAME``) that ``path`` lies in, or None."""
    root = cache_dir()
    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        return None
    return root / rel.parts[0] if rel.parts else None


def default_candidates(fetch_name: str, shared_folder: str) -> list[Path]:
    """The cache folder of ``bench fetch fetch_name``, then ``../shared/data/shared_folder``."""
    return [cache_dir() / fetch_name, SHARED_DATA / shared_folder]


def title(name: str, sample: bool, n: int, total: int, unit: str) -> str:
    """How tables name a dataset: ``"nab (sample, 1 of 58 series)"`` for a shipped sample,
    ``"nab (3 of 58 series)"`` for a selection of the full set, ``"nab"`` for all of it."""
    if sample:
        return f"{name} (sample, {n} of {total} {unit})"
    return f"{name} ({n} of {total} {unit})" if n < total else name


def sha256_files(paths: Iterable[Path]) -> str:
    """SHA-256 over the bytes of ``paths`` (in the given order) and their names: 16 hex digits.
    Recorded as ``meta["source_sha256"]``, a fingerprint of the files a dataset was read from."""
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def require_columns(dataset: str, path: Path, columns: Sequence[str],
                    required: Sequence[str]) -> None:
    """Fail with the file, the missing column(s) and the columns found."""
    missing = [c for c in required if c not in columns]
    if missing:
        raise bench.BenchError(
            f"dataset '{dataset}': {path}: missing column(s) {missing}; found {list(columns)}, "
            f"expected {list(required)}"
        )


def numeric_column(dataset: str, path: Path, df, column: str, header_lines: int = 1) -> np.ndarray:
    """``df[column]`` as float64; a missing or non-numeric value raises an error naming the file,
    its line number (1-based, counting ``header_lines`` header lines) and the value."""
    import pandas as pd

    raw = df[column]
    vals = pd.to_numeric(raw, errors="coerce")
    bad = vals.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        value = raw.iloc[i]
        empty = value is None or (isinstance(value, float) and np.isnan(value)) \
            or str(value).strip() == ""
        shown = "an empty value" if empty else f"non-numeric value {str(value)[:40]!r}"
        raise bench.BenchError(
            f"dataset '{dataset}': {path} line {i + 1 + header_lines}: {shown} in column "
            f"'{column}' ({int(bad.sum())} such row(s)); fix or remove the row"
        )
    return vals.to_numpy(dtype=np.float64)


def read_csv(dataset: str, path: Path, **kwargs):
    """``pandas.read_csv`` with a one-line error naming the file for a missing, empty or
    malformed file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise bench.BenchError(f"dataset '{dataset}': {path} not found")
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise bench.BenchError(f"dataset '{dataset}': {path} is empty") from None
    except pd.errors.ParserError as exc:
        raise bench.BenchError(f"dataset '{dataset}': {path}: malformed CSV: "
                               f"{str(exc).strip().splitlines()[-1]}") from None


def split_bounds(n: int, train_end: float, val_end: float, dataset: str,
                 what: str = "rows") -> tuple[int, int]:
    """Integer bounds of a chronological split given as fractions, each range kept non-empty
    where ``n`` allows (train >= 1 row, test >= 1 row)."""
    if not 0.0 < train_end <= val_end < 1.0:
        raise bench.BenchError(f"dataset '{dataset}': need 0 < train_end <= val_end < 1, got "
                               f"train_end={train_end}, val_end={val_end}")
    if n < 3:
        raise bench.BenchError(f"dataset '{dataset}': {n} {what} is too few to split into "
                               f"train, validation and test")
    tr = min(max(1, int(round(train_end * n))), n - 2)
    va = min(max(tr + 1, int(round(val_end * n))), n - 1)
    return tr, va
