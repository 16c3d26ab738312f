"""Checks of user-given options that run before any work: numbers in range, output paths writable.

Each failure is one :class:`BenchError` line naming the option, the value and the fix.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from .errors import BenchError


def positive_seconds(option: str, value: float | None) -> float | None:
    """A time limit in seconds: ``None`` (no limit) or a number above 0; NaN and 0 are errors
    (NaN compares false with everything, so it would silently disable the limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not value > 0:
        raise BenchError(f"{option} {value}: must be a number of seconds above 0 "
                         f"(leave it out for no limit)")
    return float(value)


def positive_count(option: str, value: int | None) -> int | None:
    """A count such as ``--jobs``: ``None`` (the default) or an integer of at least 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchError(f"{option} {value}: must be a whole number of at least 1")
    return value


def _probe(directory: Path, option: str, shown: str) -> None:
    """Create and remove a file in ``directory``: the only sure test that it is writable."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".bench-write-test-", dir=directory)
    except OSError as exc:
        raise BenchError(f"{option} {shown}: cannot write in {directory} "
                         f"({exc.strerror or exc}); choose a writable directory") from None
    os.close(fd)
    os.unlink(tmp)


def output_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """``path`` as a directory this process can write files in, created when missing; else one
    line naming ``option``, e.g. ``--out /dev/null: not a directory``."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise BenchError(f"{option} {path}: exists and is not a directory; give a directory "
                         f"for the output files")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"{option} {path}: cannot create the directory "
                         f"({exc.strerror or exc}); choose a writable directory") from None
    _probe(p, option, str(path))
    return p


def output_file(path: str | os.PathLike[str], option: str = "-o") -> Path:
    """``path`` as a file this process can write (its folder created when missing); else one
    line naming ``option``, e.g. ``-o /proc/x.html: cannot create the directory /proc``."""
    p = Path(path)
    if p.is_dir():
        raise BenchError(f"{option} {path}: is a directory; give a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise BenchError(f"{option} {path}: the file is not writable; choose another path")
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise BenchError(f"{option} {path}: {parent} is not a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"{option} {path}: cannot create the directory {parent} "
                         f"({exc.strerror or exc}); choose a writable path") from None
    _probe(parent, option, str(path))
    return p
