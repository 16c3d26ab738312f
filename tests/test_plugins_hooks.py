"""One test per hook of bench/hookspecs.py: a throwaway plugin implements it and the effect is
checked through the real API.  The meta-test at the end fails when a hook has no test here."""

from __future__ import annotations

import inspect

import numpy as np

import bench
from bench import api, hookspecs
from bench.metrics import metric

pytest_plugins = ["bench.testing.pytest_plugin"]

TINY = "tiny"


class ZScore:
    def fit(self, X, seed=0):
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        return self

    def score(self, X):
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)


class Base:
    """Registers the tiny dataset and the z-score detector every hook test runs."""

    @bench.hookimpl
    def bench_register_datasets(register):
        from bench.testing import tiny_dataset

        register(TINY, lambda: tiny_dataset(name=TINY))

    @bench.hookimpl
    def bench_register_detectors(register):
        register("zscore", ZScore)


def _plan_run(manager, tmp_path, *, detectors=("zscore",), executor="inline", **plan_kw):
    cells = api.plan([TINY], list(detectors), manager=manager, **plan_kw)
    return api.run(cells, out=tmp_path, manager=manager, executor=executor)


def test_hook_bench_register_datasets(register_plugin, bench_manager, tmp_path):
    register_plugin(Base, "base")
    assert bench_manager.get("dataset", TINY).plugin == "base"
    record = _plan_run(bench_manager, tmp_path)
    (cell,) = record["cells"]
    assert cell["status"] == "ok" and cell["n_series"] == 2 and cell["dataset"] == TINY


def test_hook_bench_register_detectors(register_plugin, bench_manager, tmp_path):
    register_plugin(Base, "base")
    (cell,) = _plan_run(bench_manager, tmp_path)["cells"]
    assert cell["detector_plugin"] == "base"
    assert cell["evaluations"][0]["metrics"]["roc_auc"] > 0.9


def test_hook_bench_register_metrics(register_plugin, bench_manager, tmp_path):
    @metric(higher_is_better=True, input="pred")
    def hit_rate(labels, pred):
        "Fraction of anomalous steps alarmed. Higher is better."
        return float(pred[labels == 1].mean())

    class Plugin:
        @bench.hookimpl
        def bench_register_metrics(register):
            register("hit_rate", hit_rate)

    register_plugin(Base, "base")
    register_plugin(Plugin, "hits")
    (cell,) = _plan_run(bench_manager, tmp_path, metrics=["hit_rate", "recall"])["cells"]
    m = cell["evaluations"][0]["metrics"]
    assert m["hit_rate"] == m["recall"]


def test_hook_bench_register_cost_models(register_plugin, bench_manager, tmp_path):
    class Alarms:
        """Cost = number of alarms.  Lower is better."""

        def __init__(self, *, price: float = 2.0):
            self.price = price

        def __call__(self, labels, pred):
            return self.price * float(np.sum(pred))

    class Plugin:
        @bench.hookimpl
        def bench_register_cost_models(register):
            register("alarms", Alarms)

    register_plugin(Base, "base")
    register_plugin(Plugin, "alarm-cost")
    (cell,) = _plan_run(bench_manager, tmp_path, costs=["alarms:price=3"],
                        thresholds=["mean_std"])["cells"]
    ev = cell["evaluations"][0]
    alarms = ev["confusion"]["tp"] + ev["confusion"]["fp"]
    assert ev["costs"]["alarms"]["test"] == 3.0 * alarms


def test_hook_bench_register_thresholds(register_plugin, bench_manager, tmp_path):
    class Never:
        uses = "nothing"
        needs_test_labels = False

        def select(self, ctx):
            return float(np.max(ctx.train_scores)) * 1e6 + 1e6

    class Plugin:
        @bench.hookimpl
        def bench_register_thresholds(register):
            register("never", Never)

    register_plugin(Base, "base")
    register_plugin(Plugin, "never")
    (cell,) = _plan_run(bench_manager, tmp_path, thresholds=["never"])["cells"]
    ev = cell["evaluations"][0]
    assert ev["chosen_with"] == "nothing" and ev["confusion"]["tp"] + ev["confusion"]["fp"] == 0


def test_hook_bench_register_executors(register_plugin, bench_manager, tmp_path):
    seen = []

    class Reversed:
        def __init__(self, **options):
            self.options = options

        def map(self, fn, cells):
            for cell in reversed(list(cells)):
                seen.append(cell.index)
                yield fn(cell)

        def close(self):
            seen.append("closed")

    class Plugin:
        @bench.hookimpl
        def bench_register_executors(register):
            register("reversed", Reversed)

    register_plugin(Base, "base")
    register_plugin(Plugin, "rev")
    record = _plan_run(bench_manager, tmp_path, detectors=("zscore", "kde"), executor="reversed")
    assert seen == [1, 0, "closed"]
    assert [c["status"] for c in record["cells"]] == ["ok", "ok"]


class Recorder:
    def __init__(self):
        self.calls = []

    @bench.hookimpl
    def bench_run_started(self, run):
        self.calls.append(("started", run["cells"], run["detectors"]))

    @bench.hookimpl
    def bench_cell_started(self, cell):
        self.calls.append(("cell started", cell["index"], cell["label"]))

    @bench.hookimpl
    def bench_cell_finished(self, cell):
        self.calls.append(("cell", cell["detector"], cell["status"]))

    @bench.hookimpl
    def bench_run_finished(self, record, path):
        self.calls.append(("finished", len(record["cells"]), path))


def _recorded(register_plugin, bench_manager, tmp_path):
    rec = Recorder()
    register_plugin(Base, "base")
    register_plugin(rec, "recorder")
    _plan_run(bench_manager, tmp_path, detectors=("zscore", "kde"))
    return rec.calls


def test_hook_bench_run_started(register_plugin, bench_manager, tmp_path):
    calls = _recorded(register_plugin, bench_manager, tmp_path)
    assert calls[0] == ("started", 2, ["kde", "zscore"])


def test_hook_bench_cell_finished(register_plugin, bench_manager, tmp_path):
    calls = _recorded(register_plugin, bench_manager, tmp_path)
    assert sorted(c for c in calls if c[0] == "cell") == [("cell", "kde", "ok"),
                                                          ("cell", "zscore", "ok")]


def test_hook_bench_cell_started(register_plugin, bench_manager, tmp_path):
    calls = _recorded(register_plugin, bench_manager, tmp_path)
    started = [c for c in calls if c[0] == "cell started"]
    assert started == [("cell started", 0, f"{TINY} x zscore seed=0"),
                       ("cell started", 1, f"{TINY} x kde seed=0")]
    # each cell starts before it finishes
    assert calls.index(started[1]) < calls.index(("cell", "kde", "ok"))


class Epochs(ZScore):
    def fit(self, X, **kw):
        from bench import progress

        for epoch in range(2):
            progress.report(epoch + 1, 2, "epoch", every_s=0.0)
        return super().fit(X, **kw)


def test_hook_bench_cell_progress(register_plugin, bench_manager, tmp_path):
    class Plugin:
        @bench.hookimpl
        def bench_register_detectors(register):
            register("epochs", Epochs)

    calls = []

    class Listener:
        @bench.hookimpl
        def bench_cell_progress(progress):
            calls.append((progress["index"], progress["done"], progress["total"],
                          progress["what"]))

    register_plugin(Base, "base")
    register_plugin(Plugin, "epochs")
    register_plugin(Listener, "listener")
    _plan_run(bench_manager, tmp_path, detectors=("zscore", "epochs"))
    assert calls == [(1, 1, 2, "epoch"), (1, 2, 2, "epoch")]


def test_hook_bench_run_finished(register_plugin, bench_manager, tmp_path):
    calls = _recorded(register_plugin, bench_manager, tmp_path)
    kind, n, path = calls[-1]
    assert (kind, n) == ("finished", 2) and path.endswith(".json")


def test_lifecycle_hook_that_raises_does_not_stop_the_run(register_plugin, bench_manager,
                                                          tmp_path, capsys):
    class Flaky:
        @bench.hookimpl
        def bench_cell_finished(cell):
            raise ConnectionError("tracker down")

    register_plugin(Base, "base")
    register_plugin(Flaky, "flaky")
    record = _plan_run(bench_manager, tmp_path)
    assert record["cells"][0]["status"] == "ok"
    assert "plugin 'flaky' bench_cell_finished raised ConnectionError" in capsys.readouterr().err


def test_hook_bench_register_suites(register_plugin, bench_manager, tmp_path):
    from bench import suites

    class Suites:
        @bench.hookimpl
        def bench_register_suites(register):
            register("tiny-suite", lambda: suites.Suite(
                "tiny-suite", "the tiny set, z-score over two seeds", (TINY,),
                (suites.Member("zscore", (0, 1)),)))

    register_plugin(Base, "base")
    register_plugin(Suites, "suites-plugin")
    assert bench_manager.get("suite", "tiny-suite").plugin == "suites-plugin"
    record = api.run(suites.cells("tiny-suite", bench_manager), out=tmp_path,
                     manager=bench_manager)
    assert [(c["detector"], c["seed"], c["status"]) for c in record["cells"]] == \
        [("zscore", 0, "ok"), ("zscore", 1, "ok")]


def test_every_hook_has_a_test():
    hooks = [n for n, v in vars(hookspecs).items() if n.startswith("bench_")
             and inspect.isfunction(v)]
    assert len(hooks) >= 9
    missing = [h for h in hooks if f"test_hook_{h}" not in globals()]
    assert not missing, f"hooks without a test_hook_<name> test here: {missing}"
