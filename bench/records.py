"""Run records: one JSON file per run, written atomically after every cell."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .errors import BenchError

SCHEMA_VERSION = 2
#: schema 1 -> 2: cells gained ``fit_key`` (the score-store key), ``key_parts.metric_code`` and
#: ``dataset_given``.  Upgraded cells get ``metric_code: "unknown (schema 1)"``, so a compare
#: against them says the metric code cannot be matched rather than inventing a match.
PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "jax", "jaxlib", "flax", "optax",
            "pluggy", "tabulate")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and an atomic
    rename: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; records are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict[str, Any]:
    """Python, packages, machine, and JAX's devices when JAX is loaded."""
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": versions,
    }
    if "jax" in sys.modules:
        try:
            import jax

            env["jax_devices"] = [str(d) for d in jax.devices()]
        except Exception as exc:  # pragma: no cover - depends on the machine
            env["jax_devices"] = [f"error: {exc}"]
    return env


def new_record(grid: dict[str, Any]) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.timezone.utc)
    return {
        "schema": SCHEMA_VERSION,
        "run_id": now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3),
        "created": now.isoformat(timespec="seconds"),
        "bench_version": __version__,
        "git_commit": git_commit(),
        "environment": environment(),
        "grid": grid,
        "status": "running",
        "cells": [],
    }


def save(record: dict[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(record, indent=1, allow_nan=True, default=str))


def load(path: str | Path) -> dict[str, Any]:
    """Read a run record; a missing, corrupt or foreign file is one clear error naming it."""
    p = Path(path)
    if p.is_dir():
        runs = sorted(p.glob("*.json"))
        if not runs:
            raise BenchError(f"no run records (*.json) in {p}; run `bench run --out {p}` first")
        p = runs[-1]
    if not p.exists():
        raise BenchError(f"run record {p} does not exist; `bench run` writes one under results/")
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"run record {p} is corrupt or truncated ({exc}); rerun it") from None
    if not isinstance(rec, dict) or "cells" not in rec or "schema" not in rec:
        raise BenchError(f"{p} is not a bench run record (no 'schema'/'cells')")
    if not isinstance(rec["schema"], int) or rec["schema"] > SCHEMA_VERSION:
        raise BenchError(f"run record {p} has schema {rec['schema']}, newer than this bench "
                         f"({SCHEMA_VERSION}); upgrade bench")
    rec = upgrade(rec)
    rec["_path"] = str(p)
    return rec


def _upgrade_1(rec: dict[str, Any]) -> dict[str, Any]:
    for cell in rec["cells"]:
        parts = cell.get("key_parts")
        if parts is not None:
            parts.setdefault("metric_code", "unknown (schema 1)")
            cell.setdefault("fit_key", "")
        cell.setdefault("dataset_given", {})
    rec["schema"] = 2
    return rec


UPGRADES = {1: _upgrade_1}


def upgrade(rec: dict[str, Any]) -> dict[str, Any]:
    """Bring an older record up to :data:`SCHEMA_VERSION`, one step at a time."""
    while rec["schema"] < SCHEMA_VERSION:
        rec = UPGRADES[rec["schema"]](rec)
    return rec


def find(path: str | Path) -> list[Path]:
    """Record files under a directory (not its score store or baseline), oldest first by name."""
    p = Path(path)
    if p.is_file():
        return [p]
    return sorted(q for q in p.glob("*.json") if not q.name.startswith("."))


def load_many(paths: list[Path], warn: Any = None) -> list[dict[str, Any]]:
    """Load every readable record; a corrupt one is reported (``warn(message)``) and skipped."""
    out = []
    for p in paths:
        try:
            out.append(load(p))
        except BenchError as exc:
            if warn is not None:
                warn(f"skipped: {exc}")
    return out
