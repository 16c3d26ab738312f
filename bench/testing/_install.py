"""Install a plugin package where only a subprocess sees it (no change to this environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def install_for_subprocess(package_dir: str | Path, target: str | Path) -> dict[str, str]:
    """``pip install --no-deps --no-build-isolation --target TARGET PACKAGE_DIR`` and return an
    environment for :mod:`subprocess` whose ``PYTHONPATH`` starts with ``target``, so that a
    ``bench`` started with it finds the package's entry points (from its ``.dist-info``).
    Raises ``RuntimeError`` with pip's output when the install fails."""
    target = Path(target)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--no-index", "--disable-pip-version-check", "--target", str(target),
           str(package_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install of {package_dir} failed:\n{proc.stdout}{proc.stderr}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH", "")]))
    for var in ("BENCH_DISABLE_PLUGINS", "BENCH_PLUGINS", "BENCH_TRACE", "BENCH_TRACEBACK"):
        env.pop(var, None)
    return env
