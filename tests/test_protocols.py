"""Training protocols (unsupervised / semi-supervised) and harness windows for row detectors."""

import numpy as np
import pytest

import bench
from bench import api
from bench.cell import Protocol
from bench.plugins import Manager
from bench.windows import Windowed, causal_windows, runs_of


class RowSpy:
    """A row detector that records every row it was fitted on; score = first column."""

    seen: list = []

    def fit(self, X, *, seed=0):
        RowSpy.seen.append(np.array(X, copy=True))
        return self

    def score(self, X):
        return np.asarray(X, dtype=np.float64)[:, -1]


class WindowSpy(RowSpy):
    """A detector that windows its input itself (its factory takes ``window``)."""

    def __init__(self, *, window: int = 8):
        self.window = window


def indexed(*, n: int = 300, n_series: int = 1):
    """Series whose value is its row index, so fitted rows and windows reveal where they came
    from; anomalies at rows 40-44 and 100-104 (training), 200-204 (validation), 260-264 (test)."""
    out = []
    for i in range(n_series):
        y = np.zeros(n, dtype="int8")
        for a in (40, 100, 200, 260):
            y[a:a + 5] = 1
        out.append(bench.Series(np.arange(n, dtype="float32"), y, name=f"s{i}",
                                split=bench.Split(150, 225)))
    return bench.Dataset("indexed", out, description="row index", license="CC0")


class SegmentSpy(WindowSpy):
    """Windows itself and takes the bounds of the contiguous runs it is given."""

    def fit(self, X, *, segments=None, seed=0):
        RowSpy.seen.append((np.array(X, copy=True), segments))
        return self


class ValSpy(RowSpy):
    """Records the ``X_val`` its ``fit`` gets (first column: row indices, or None)."""

    __bench_tags__ = bench.DetectorTags(fit_val=True, fit_seed=True)
    vals: list = []

    def fit(self, X, *, X_val=None, seed=0):
        ValSpy.vals.append(None if X_val is None else X_val[:, 0].astype(int).tolist())
        return self


class FleetValSpy(ValSpy):
    """The same through the fleet path: records each series' ``X_vals`` entry."""

    __bench_tags__ = bench.DetectorTags(fleet=True, fit_val=True, fit_seed=True)

    def fit_fleet(self, Xs, *, X_vals, seeds):
        self.members_ = [ValSpy().fit(X, X_val=v, seed=s) for X, v, s in zip(Xs, X_vals, seeds)]
        return self

    def score_fleet(self, Xs):
        return [m.score(X) for m, X in zip(self.members_, Xs)]


class Plugin:
    @bench.hookimpl
    def bench_register_detectors(self, register):
        register("rowspy", RowSpy)
        register("winspy", WindowSpy)
        register("segspy", SegmentSpy)
        register("valspy", ValSpy)
        register("fleetvalspy", FleetValSpy)

    @bench.hookimpl
    def bench_register_datasets(self, register):
        register("indexed", indexed)


@pytest.fixture
def manager():
    m = Manager()
    m.register(Plugin(), "test-protocols")
    RowSpy.seen.clear()
    yield m
    m.unregister("test-protocols")


def run(manager, detector, protocol):
    cells = api.plan(["indexed"], [detector], thresholds=["best_f1"], metrics=["f1"],
                     protocol=protocol, manager=manager)
    rec = api.run(cells, out=None, manager=manager)
    cell = rec["cells"][0]
    assert cell["status"] == "ok", cell.get("error")
    return cell


def test_unsupervised_fits_every_training_row_and_is_the_undeclared_default(manager):
    cell = run(manager, "rowspy", Protocol(standardize=False, window=1))
    assert cell["protocol"]["name"] == "unsupervised"
    assert RowSpy.seen[0][:, 0].tolist() == list(range(150))


def test_semi_supervised_drops_the_anomalous_training_rows(manager):
    cell = run(manager, "rowspy", Protocol("semi-supervised", standardize=False, window=1))
    assert cell["protocol"]["name"] == "semi-supervised"
    rows = RowSpy.seen[0][:, 0].astype(int)
    assert len(rows) == 140 and not set(rows) & {*range(40, 45), *range(100, 105)}


@pytest.mark.parametrize("detector", ["valspy", "fleetvalspy"])
def test_x_val_is_the_protocols_validation_range_and_none_without_one(manager, detector):
    """No look-ahead in early stopping: under nab (probation fitted, every later row scored)
    and tsb-ad (every row scored) ``fit`` gets no ``X_val``; under bench's split it gets the
    validation range.  Before, it got the dataset's validation rows under every protocol."""
    def vals(protocol):
        ValSpy.vals.clear()
        cells = api.plan(["indexed:n_series=2"], [detector], thresholds=["best_f1"],
                         metrics=["f1"], protocol=Protocol(protocol, standardize=False, window=1),
                         manager=manager)
        cell = api.run(cells, out=None, manager=manager)["cells"][0]
        assert cell["status"] == "ok", cell.get("error")
        assert bool(cell.get("fleet")) == (detector == "fleetvalspy")
        return list(ValSpy.vals)

    assert vals("unsupervised") == [list(range(150, 225))] * 2
    assert vals("semi-supervised") == [list(range(150, 225))] * 2
    assert vals("nab") == [None, None]
    assert vals("tsb-ad") == [None, None]


def test_train_on_stays_an_alias():
    assert Protocol(train_on="normal").name == "semi-supervised"
    assert Protocol(train_on="all").name == "unsupervised"
    with pytest.raises(bench.BenchError, match="contradicts"):
        Protocol("unsupervised", train_on="normal")
    with pytest.raises(bench.BenchError, match="unknown"):
        Protocol("supervised")


def test_harness_windows_never_cross_a_removed_row(manager):
    cell = run(manager, "rowspy", Protocol("semi-supervised", standardize=False, window=16))
    assert cell["harness_window"] == 16
    windows = RowSpy.seen[0]
    assert windows.shape[1] == 16
    # every window holds 16 consecutive row indices of one normal run: no splice
    assert (np.diff(windows, axis=1) == 1).all()
    removed = {*range(40, 45), *range(100, 105)}
    assert not any(set(w.astype(int)) & removed for w in windows)
    assert len(windows) == (40 - 15) + (55 - 15) + (45 - 15)  # runs [0,40), [45,100), [105,150)


def test_a_detector_that_windows_itself_gets_one_contiguous_run(manager):
    cell = run(manager, "winspy", Protocol("semi-supervised", standardize=False))
    rows = RowSpy.seen[0][:, 0].astype(int)
    assert rows.tolist() == list(range(45, 100))  # the longest normal run of the training range
    assert cell["harness_window"] == 1 and "longest normal run" in cell["protocol_notes"][0]


def test_a_detector_taking_segments_gets_every_run_and_their_bounds(manager):
    cell = run(manager, "segspy", Protocol("semi-supervised", standardize=False))
    rows, segments = RowSpy.seen[0]
    assert len(rows) == 140 and segments == [(0, 40), (40, 95), (95, 140)]
    assert [rows[a:b, 0][[0, -1]].tolist() for a, b in segments] == [[0, 39], [45, 99],
                                                                      [105, 149]]
    assert not cell.get("protocol_notes")


def test_window_scores_are_causal_and_aligned_to_the_last_row():
    from bench.datasets.nab import nab

    s = nab(sample=True, series="realTraffic/speed_7578").series[0]
    from bench.detectors.kde import KDE

    x = s.values[:600]
    det = Windowed(KDE(backend="numpy"), 32).fit(x[:300])
    a = det.score(x)
    changed = x.copy()
    changed[400:] += 50.0  # a change from row 400 on
    b = det.score(changed)
    assert np.array_equal(a[:400], b[:400])  # no score before row 400 looks ahead
    assert (b[400:432] != a[400:432]).all()  # every window ending at 400..431 sees it
    assert causal_windows(np.arange(4.0), 3).tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2],
                                                         [1, 2, 3]]


def test_runs_and_a_window_longer_than_every_run():
    assert runs_of(np.array([1, 1, 0, 1, 0, 0, 1], bool)) == [(0, 2), (3, 4), (6, 7)]
    with pytest.raises(bench.BenchError, match="smaller --window"):
        Windowed(RowSpy(), 8).fit(np.arange(10.0), segments=[(0, 5), (5, 10)])


def test_builtin_row_detectors_window_univariate_series_only():
    from bench.detectors.iforest import IsolationForest
    from bench.detectors.kde import KDE

    from bench.fitting import harness_window

    uni = bench.Series(np.zeros(100), np.zeros(100))
    multi = bench.Series(np.zeros((100, 3)), np.zeros(100))
    assert harness_window(IsolationForest, Protocol(), uni) == 32
    assert harness_window(KDE, Protocol(), multi) == 1
    assert harness_window(KDE, Protocol(window=1), uni) == 1
    assert harness_window(RowSpy, Protocol(), uni) == 1  # third party: only when asked
    assert harness_window(RowSpy, Protocol(window=8), multi) == 8
    assert harness_window(WindowSpy, Protocol(window=8), uni) == 1  # windows itself


def test_bench_list_protocols_and_run_protocol_take_every_registered_name(capsys):
    from cli_helpers import run_cli

    from bench import protocols

    code, out, _ = run_cli(capsys, "list", "protocols")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert listed == list(protocols.names()) and "tsb-ad" in listed
    code, out, _ = run_cli(capsys, "list", "protocols", "tsb-ad")
    assert code == 0 and "find_length_rank" in out and "ORACLE" in out
    code, _, err = run_cli(capsys, "run", "-d", "nab", "-m", "iforest", "--protocol", "tsbad")
    assert code == 1 and "protocol 'tsbad' unknown; use one of unsupervised" in err


def test_a_profile_without_validation_range_labels_label_chosen_thresholds_oracle():
    from bench import protocols
    from bench.evaluation import threshold_label
    from bench.thresholds import BestF1, Percentile

    tsb = protocols.get("tsb-ad")
    assert threshold_label(BestF1(), tsb)["threshold_oracle"] is True
    assert threshold_label(BestF1(), tsb)["chosen_with"].startswith("ORACLE")
    assert threshold_label(BestF1(), "unsupervised") == {"chosen_with": BestF1.uses,
                                                         "oracle": False}
    # a strategy that reads no label is not an oracle under any protocol
    assert threshold_label(Percentile(), tsb) == {"chosen_with": Percentile.uses,
                                                  "oracle": False}
