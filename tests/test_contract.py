"""The typed contract (bench.contract): metric metadata normalised at registration (a metric
declared with ``meta`` works), metric parameters on the command line, and the Protocols the
built-in plugins satisfy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bench.datasets import synthetic
from cli_helpers import run_cli

import bench
from bench import api, contract
from bench.metrics import recall, vus_roc
from bench.params import parse_spec
from bench.plugins import Manager

GRID = dict(datasets=["synthetic:n_series=2,length=600"], detectors=["iforest:n_estimators=20"])


def hit_rate(labels, pred):
    """Fraction of anomalous steps alarmed (recall). Higher is better."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    return float(pred[labels == 1].mean())


def top_fraction(labels, scores, *, q: float = 0.9):
    """Fraction of anomalous steps whose score is above the q-quantile of all scores."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    return float((scores[labels == 1] > np.quantile(scores, q)).mean())


class MetaPlugin:
    """A third-party plugin declaring its metrics' metadata with ``meta``, as documented."""

    @bench.hookimpl
    def bench_register_metrics(self, register):
        register("hit_rate", hit_rate, higher_is_better=True, input="pred")
        register("top_fraction", top_fraction, higher_is_better=True, input="scores",
                 metric_version=3)
        register("alarm_hits", hit_rate, higher_is_better=True, input="alarms")
        register("no_direction", hit_rate, input="pred")
        register("bad_input", hit_rate, higher_is_better=True, input="labels")


@pytest.fixture(scope="module")
def manager():
    m = Manager()
    m.register(MetaPlugin(), "meta-plugin")
    return m


def _metrics(record) -> dict[str, float]:
    (cell,) = list(record.cells)
    assert cell.status == "ok", cell.error
    (ev,) = [e for e in cell.evaluations if not e["oracle"]][:1]
    return ev["metrics"]


def test_metric_declared_with_meta_runs(manager):
    """Before: evaluate: AttributeError: 'function' object has no attribute 'input'."""
    cells = api.plan(**GRID, metrics=["hit_rate", "recall", "top_fraction", "alarm_hits"],
                     thresholds=["best_f1"], manager=manager)
    got = _metrics(api.run(cells, out=None, manager=manager))
    assert got["hit_rate"] == pytest.approx(got["recall"])  # the same definition
    assert got["alarm_hits"] == got["hit_rate"]
    assert 0.0 <= got["top_fraction"] <= 1.0
    info = manager.get("metric", "top_fraction").factory.info
    assert info == contract.MetricInfo("top_fraction", True, "scores", {"q": 0.9}, version=3,
                                       label="top_fraction")
    assert manager.get("metric", "alarm_hits").factory.input == "pred"


def test_incomplete_declarations_are_problems_naming_plugin_and_fix(manager):
    problems = [p for p in manager.problems if "meta-plugin" in p]
    assert len(problems) == 2, problems
    assert any("metric 'no_direction'" in p and "higher_is_better" in p for p in problems)
    assert any("metric 'bad_input'" in p and "input=\"scores\"" in p for p in problems)
    assert "no_direction" not in manager.registry("metric")
    assert all("\n" not in p for p in problems)


def test_builtin_metadata_is_normalised_once():
    reg = Manager().registry("metric")
    info = reg.get("vus_roc").factory.info
    assert (info.higher_is_better, info.input, info.parameters) == (True, "scores",
                                                                    {"window": 100})
    assert info.version == getattr(vus_roc, "version", 1)
    assert reg.get("point_adjusted_f1").factory.info.inflating
    assert reg.get("recall").factory.info.input == "pred"
    assert reg.get("recall").factory.fn is recall
    for e in reg:
        assert isinstance(e.factory, contract.Metric), e.name
        assert e.factory.info.name == e.name and e.factory.info.input in ("scores", "pred")


def test_metric_parameters_are_bound_and_checked():
    reg = Manager().registry("metric")
    s = synthetic.make_series(4, 600, 96, "cpu")
    scores = np.abs(s.values[:, 0] - np.median(s.values[:, 0]))
    bound = reg.get("vus_roc:window=50")
    assert bound.name == "vus_roc:window=50" and bound.factory.params == {"window": 50}
    assert bound.factory(s.labels, scores) == vus_roc(s.labels, scores, window=50)
    assert bound.factory(s.labels, scores) != reg.get("vus_roc").factory(s.labels, scores)
    assert bound.factory.label == "VUS-ROC(window=50)" or bound.factory.label.endswith(
        "(window=50)")
    assert "vus_roc:window=50" in reg and "nope:window=1" not in reg
    assert str(parse_spec("vus_roc:window=50")) == "vus_roc:window=50"
    with pytest.raises(bench.BenchError, match="metric 'vus_roc' has no parameter 'w'; its "
                                               "parameters: window"):
        reg.get("vus_roc:w=5")
    with pytest.raises(bench.BenchError, match="metric 'vus_roc': parameter 'window' expects "
                                               "int, got 'wide'"):
        reg.get("vus_roc:window=wide")
    with pytest.raises(bench.BenchError, match="unknown metric 'nope'"):
        reg.get("nope:window=1")


def test_cli_metric_with_parameters(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-d", "synthetic:n_series=1,length=600", "-m",
                             "iforest:n_estimators=20", "--metric", "vus_roc:window=50",
                             "--metric", "vus_roc", "--out", str(tmp_path))
    assert code == 0, err
    rec = json.loads(next(tmp_path.glob("*.json")).read_text())
    metrics = rec["cells"][0]["evaluations"][0]["metrics"]
    assert {"vus_roc", "vus_roc:window=50"} <= set(metrics)
    assert metrics["vus_roc"] != metrics["vus_roc:window=50"]
    assert rec["grid"]["metrics"][:2] == ["vus_roc:window=50", "vus_roc"]
    code, _, err = run_cli(capsys, "run", "-d", "synthetic:n_series=1,length=600", "-m",
                           "iforest", "--metric", "vus_roc:width=5", "--out", str(tmp_path))
    assert code == 1 and err.count("\n") == 1 and "no parameter 'width'" in err


def test_builtin_plugins_satisfy_the_protocols():
    m = Manager()
    for name in ("iforest", "kde"):
        det = m.get("detector", name).factory()
        assert isinstance(det, contract.Detector), name
    x = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    det = m.get("detector", "iforest").factory(n_estimators=10).fit(x, seed=0)
    assert det.score(x).shape == (200,)
    for e in m.registry("threshold"):
        assert isinstance(e.factory(), contract.ThresholdStrategy), e.name
    for e in m.registry("cost"):
        proto = contract.ComputeCostModel if e.meta.get("kind") == "compute" else \
            contract.CostModel
        assert isinstance(e.factory(), proto), e.name
    ex = api.make_executor(m, "inline")
    assert isinstance(ex, contract.Executor)
    assert contract.conforms(object(), contract.Detector) == ["fit", "score"]
    assert contract.conforms(object(), contract.ThresholdStrategy) == [
        "needs_test_labels", "select", "uses"]


class _TypedWrong:
    """A detector whose declared capability has the wrong type (compiles_ a str)."""

    def __init__(self, *, k: float = 1.0):
        self.k = k

    def fit(self, X, *, X_val=None, seed=0):
        self.mu_ = X.mean(0)
        self.compiles_ = "many"
        return self

    def score(self, X):
        if not hasattr(self, "mu_"):
            raise bench.BenchError("call fit() before score()")
        return np.abs(X - self.mu_).sum(axis=1) * self.k


def test_conformance_check_protocol():
    import bench.testing as bt
    from bench.testing.detector_checks import check_protocol

    with pytest.raises(bt.ConformanceError, match="follows bench.contract.Detector.*compiles_ "
                                                  "is 'many'"):
        check_protocol(bt.detector(_TypedWrong, name="typed-wrong", plugin="test"))
    check_protocol(bt.detector(Manager().get("detector", "iforest").factory, name="iforest",
                               plugin="iforest", params={"n_estimators": 10}))
