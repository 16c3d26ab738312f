"""The bench.testing conformance suite on every built-in detector and dataset.

Subjects come from the plugin manager, so a new built-in is covered as soon as it is registered.
Sizes are kept tiny (``PARAMS`` for construction, ``OPTIONS`` for the checks' own data); a
built-in that breaks a rule is listed in ``EXPECTED_FAILURES`` with the reason until fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.testing as bt
from bench.plugins import Manager

MANAGER = Manager(blocked=(), only=())
#: pyod's adapter (an optional dependency, numba compiles for seconds) is checked in test_pyod.py
BUILTIN = sorted(p.name for p in MANAGER.plugins.values()
                 if p.builtin and not p.error and p.name != "pyod")

_TINY_NET = {"epochs": 1, "batch": 32}
PARAMS = {
    # window 8 as the LSTMs: causal window scores of window 'auto' (32) spread each 5-row planted
    # anomaly over the 31 rows after it, which the check's 120 test rows cannot absorb
    "dense_ae": {**_TINY_NET, "hidden": (8, 4), "window": 8},
    "lstm_ae": {**_TINY_NET, "window": 8, "hidden": 8, "stride": 4},
    "lstm_forecast": {**_TINY_NET, "window": 8, "hidden": 8},
    # TSB-AD's deep models (tsb_deep) at checkable sizes; their TSB-AD sizes: tests/test_tsb_deep
    "tsb_autoencoder": {**_TINY_NET, "hidden": (8, 4), "window": 8},
    "tsb_lstmad": {**_TINY_NET, "window": 8, "hidden": 8},
    "synthetic": {"n_series": 2, "length": 600},
    "hdfs-synthetic": {},
    # the csv dataset on a TSB-AD-style file (NAB speed_7578, see its PROVENANCE.md)
    "csv": {"path": str(Path(__file__).parent / "data" / "csv_sample")},
}
OPTIONS = {name: {"n_train": 240, "n_test": 120} for name in ("dense_ae", "lstm_ae",
                                                                "lstm_forecast",
                                                                "tsb_autoencoder",
                                                                "tsb_lstmad")}


def _default_run_params(kind: str) -> dict[str, dict]:
    """Datasets run by default with parameters (e.g. a shipped sample) are checked with them."""
    out = {}
    for e in MANAGER.registry(kind):
        flag = e.meta.get("default_run")
        if isinstance(flag, dict):
            out[e.name] = dict(flag)
    return out


#: built-ins the generated-data checks cannot apply to, and why (tested in their own files)
NOT_CHECKABLE = {
    "scores": "replays stored per-row scores of named series (-m scores:path=DIR): nothing to "
              "fit and no stored scores for the checks' generated data (see "
              "tests/test_scores_detector.py)",
}
SUBJECTS = [s for s in bt.registered(MANAGER, plugins=BUILTIN,
                                     params={**_default_run_params("dataset"), **PARAMS},
                                     options=OPTIONS)
            if s.name not in NOT_CHECKABLE]
#: plugins whose checks take seconds each (JAX compiles per fit): marked slow
SLOW_PLUGINS = {"autoencoders", "tsb_deep"}
FAST = [s for s in SUBJECTS if s.plugin not in SLOW_PLUGINS]
SLOW = [s for s in SUBJECTS if s.plugin in SLOW_PLUGINS]

#: "NAME-check_name" or "check_name": why it fails (reported to the plugin's owner)
EXPECTED_FAILURES: dict[str, str] = {
    "random-check_better_than_chance": "chance baseline: scores are random by design",
    "constant-check_better_than_chance": "chance baseline: one score for every row by design",
    "matrix_profile-check_better_than_chance": "the check plants three identical anomalies: "
    "each is the others' nearest neighbour (the matrix profile's known twin-freak blind spot)",
    "tsb_autoencoder-check_better_than_chance": "TSB-AD's AutoEncoder min-max scales each row "
    "of a multivariate series across its features; the check's anomalies add the same offset to "
    "every feature of a row, which that scaling removes (TSB-AD's design, kept)",
}


def test_every_builtin_is_covered():
    names = {s.name for s in SUBJECTS}
    assert {"kde", "iforest", "hpc", "synthetic"} <= names
    for kind in ("detector", "dataset"):
        for e in MANAGER.registry(kind):
            if e.plugin in BUILTIN:
                assert e.name in names or e.name in NOT_CHECKABLE


@bt.parametrize_with_checks(FAST, expected_failures=EXPECTED_FAILURES)
def test_builtin_conforms(subject, check):
    check(subject)


@pytest.mark.slow
@bt.parametrize_with_checks(SLOW, expected_failures=EXPECTED_FAILURES)
def test_builtin_conforms_slow(subject, check):
    check(subject)


@pytest.mark.parametrize("name", ["kde", "iforest"])
def test_check_detector_passes_whole(name):
    e = MANAGER.get("detector", name)
    passed = bt.check_detector(e.factory, name=name, plugin=e.plugin)
    assert passed == [c.__name__ for c in bt.DETECTOR_CHECKS]
