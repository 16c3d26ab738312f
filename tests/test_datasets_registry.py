"""Every dataset family is a registered plugin with a description, and every dataset that ships
its data runs end to end with the isolation forest and KDE baselines."""

from __future__ import annotations

import math

import pytest

from bench import api
from bench.cli import main
from bench.plugins import Manager

FAMILIES = ["hdfs", "hdfs-synthetic", "yahoo", "yahoo-synthetic", "telemetry", "nab", "smap",
            "msl"]
SHIPPED = ["hdfs", "hdfs:source=2k", "nab:sample=true", "smap:sample=true", "msl:sample=true",
           "telemetry:sample=true", "hdfs-synthetic:n_blocks=600",
           "yahoo-synthetic:n_series=1,length=600"]


def test_list_datasets_shows_every_family_with_a_description(capsys):
    try:
        main(["list", "datasets", "--json"])
    except SystemExit as exc:
        assert exc.code == 0
    import json

    listed = {d["name"]: d for d in json.loads(capsys.readouterr()[0])}
    for name in FAMILIES:
        assert name in listed, name
        assert len(listed[name]["description"]) > 40, name


def test_default_run_uses_the_shipped_samples_named_as_samples():
    specs = {s.name: s.params for s in api.default_specs(Manager(), "dataset")}
    assert specs["hdfs"] == {}
    for name in ("nab", "smap", "msl", "telemetry"):
        assert specs[name]["sample"] is True
    manager = Manager()
    sizes = {name: sum(len(s) for s in manager.get("dataset", name).factory(**specs[name]))
             for name in ("nab", "smap", "msl", "telemetry")}
    assert sizes == {"nab": 1127, "smap": 44398, "msl": 19560, "telemetry": 1539}
    for name in ("yahoo", "yahoo-synthetic", "hdfs-synthetic"):
        assert name not in specs
    titles = {name: manager.get("dataset", name).factory(**specs[name]).title
              for name in ("nab", "smap", "msl", "telemetry", "hdfs")}
    assert titles == {"nab": "nab (sample, 1 of 58 series)",
                      "smap": "smap (sample, 4 of 54 channels)",
                      "msl": "msl (sample, 4 of 27 channels)",
                      "telemetry": "telemetry (sample, 25 of 625 probes)", "hdfs": "hdfs"}
    assert len(manager.get("dataset", "hdfs").factory().series[0]) == 7940  # 100k sessions, not 2k


@pytest.mark.slow
def test_shipped_datasets_run_with_iforest_and_kde():
    rec = api.run(api.plan(SHIPPED, ["iforest", "kde"]), out=None)
    assert len(rec["cells"]) == 2 * len(SHIPPED)
    for c in rec["cells"]:
        assert c["status"] == "ok", (c["dataset"], c["detector"], c.get("error"))
        auc = c["evaluations"][0]["metrics"]["roc_auc"]
        assert math.isnan(auc) or 0.0 <= auc <= 1.0
        assert c["dataset_fingerprint"]
