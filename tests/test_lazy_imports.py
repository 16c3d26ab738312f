"""``import bench`` and runs without a JAX detector never import JAX, Flax or Optax (jaxlib alone
is ~350 MB; importing it costs start-up time and memory in every worker)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jax", "jaxlib", "flax", "optax")

_PROBE = f"""
import json, sys
HEAVY = {HEAVY!r}
argv = sys.argv[1:]
if argv:
    from bench.cli import main
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
else:
    import bench
    code = 0
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set(HEAVY))
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _probe(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_bench_does_not_import_jax():
    assert _probe() == {"code": 0, "heavy": []}


def test_a_run_without_jax_detectors_does_not_import_jax(tmp_path):
    got = _probe("run", "-d", "synthetic:n_series=1,length=400", "-m",
                 "iforest:n_estimators=20", "--out", str(tmp_path))
    assert got == {"code": 0, "heavy": []}
    assert list(tmp_path.glob("*.json"))  # the run really ran and wrote its record
