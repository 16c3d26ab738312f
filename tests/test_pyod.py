"""The pyod adapter (``bench[pyod]``): registration only when pyod is installed, parameters typed
from pyod's signatures, one-line errors, no pyod import at start-up, and the conformance suite on
every ``pyod.NAME`` detector (skipped without pyod; CI installs the extra)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

import bench.testing as bt
from bench.errors import BenchError
from bench.params import bind
from bench.plugins import Manager

HAVE_PYOD = importlib.util.find_spec("pyod") is not None
needs_pyod = pytest.mark.skipif(not HAVE_PYOD, reason="pyod is not installed (pip install "
                                                      "-e '.[pyod]')")
MANAGER = Manager(blocked=(), only=())
SUBJECTS = bt.registered(MANAGER, kinds=("detector",), plugins=["pyod"],
                         params={"pyod.cblof": {"alpha": 0.8}}) if HAVE_PYOD else []
# importing pyod takes seconds (numba), so every test that imports it is in CI's slow line


def test_listed_only_when_pyod_is_installed():
    names = [e.name for e in MANAGER.registry("detector") if e.name.startswith("pyod.")]
    if not HAVE_PYOD:
        assert names == []
        return
    assert len(names) >= 15
    assert {"pyod.iforest", "pyod.lof", "pyod.hbos", "pyod.knn", "pyod.ocsvm", "pyod.pca",
            "pyod.copod", "pyod.ecod", "pyod.mcd", "pyod.cblof", "pyod.loda"} <= set(names)
    assert all(MANAGER.get("detector", n).meta["group"] == "pyod" for n in names)


@pytest.mark.slow
@needs_pyod
def test_parameters_are_typed_from_pyods_signature():
    entry = MANAGER.get("detector", "pyod.lof")
    got = bind("detector", "pyod.lof", entry.factory, {"n_neighbors": "50", "novelty": "false"})
    assert got["n_neighbors"] == 50 and got["novelty"] is False and got["metric"] == "minkowski"
    assert "contamination" not in got and "random_state" not in got
    with pytest.raises(BenchError, match="parameter 'n_neighbors' expects int") as err:
        bind("detector", "pyod.lof", entry.factory, {"n_neighbors": "many"})
    assert "\n" not in str(err.value)
    with pytest.raises(BenchError, match="has no parameter 'k'"):
        bind("detector", "pyod.lof", entry.factory, {"k": "3"})


@pytest.mark.slow
@needs_pyod
def test_scores_rank_a_planted_outlier_first_and_follow_the_seed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[17] = [7.0, -7.0]
    for name in ("pyod.iforest", "pyod.knn", "pyod.lof"):
        det = MANAGER.get("detector", name).factory().fit(X, seed=3)
        s = det.score(X)
        assert s.shape == (300,) and int(np.argmax(s)) == 17, name
    a = MANAGER.get("detector", "pyod.iforest").factory().fit(X, seed=1).score(X)
    b = MANAGER.get("detector", "pyod.iforest").factory().fit(X, seed=2).score(X)
    assert not np.allclose(a, b)


@pytest.mark.slow
@needs_pyod
def test_a_pyod_error_is_one_line():
    det = MANAGER.get("detector", "pyod.kpca").factory(n_components=-3)
    with pytest.raises(BenchError, match=r"^pyod\.kpca: fit failed \(") as err:
        det.fit(np.random.default_rng(0).normal(size=(50, 2)))
    assert "\n" not in str(err.value)


def test_bench_start_does_not_import_pyod():
    """Registering the pyod detectors imports nothing of pyod (importing it takes seconds)."""
    code = ("import json, sys\nfrom bench.plugins import Manager\n"
            "m = Manager(blocked=(), only=())\n"
            "names = [e.name for e in m.registry('detector')]\n"
            "print(json.dumps([sorted(k for k in sys.modules if k.split('.')[0] == 'pyod'),"
            " sum(n.startswith('pyod.') for n in names)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    imported, registered = json.loads(out.strip().splitlines()[-1])
    assert imported == []
    assert (registered >= 15) == HAVE_PYOD


EXPECTED_FAILURES = {
    "pyod.sos-check_better_than_chance": "SOS (perplexity 4.5) gives ROC-AUC 0.536 on the "
    "check's planted offsets (pyod 3.6.7, measured 2026-12-02)",
}


@pytest.mark.slow
@needs_pyod
@bt.parametrize_with_checks(SUBJECTS, expected_failures=EXPECTED_FAILURES)
def test_pyod_conforms(subject, check):
    check(subject)
