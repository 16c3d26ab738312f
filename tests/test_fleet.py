"""Fleets: the models of many series trained and scored together equal the models trained one
series at a time (same seeds), through the detectors, the training functions and the runner."""

from __future__ import annotations

import numpy as np
import pytest
from bench.detectors.autoencoders import LSTMAE, DenseAE, LSTMForecast
from bench.detectors.jax import train as jt
from bench.detectors.jax.config import TrainConfig

import bench
from bench.data import Dataset, Series, Split
from bench.fitting import _fit_all
from bench.params import Spec
from bench.runner import Cell

TINY = {"epochs": 2, "batch": 16}
MODELS = {
    "dense_rows": lambda **kw: DenseAE(hidden=(6, 3), window=0, dropout=0.1, **{**TINY, **kw}),
    "dense_window": lambda **kw: DenseAE(hidden=(6, 3), window=5, stride=2, **{**TINY, **kw}),
    "lstm_ae": lambda **kw: LSTMAE(window=5, hidden=4, stride=3, **{**TINY, **kw}),
    "lstm_forecast": lambda **kw: LSTMForecast(window=4, hidden=4, stride=3, noise=0.1,
                                               **{**TINY, **kw}),
}
#: float rounding: a vmapped matmul may sum in another order than a single one
TOL = {"rtol": 2e-4, "atol": 1e-6}


@pytest.fixture(autouse=True)
def _stacked_fleets(monkeypatch):
    """Every fleet here runs stacked in one program, whatever the device (by default a CPU
    trains LSTM fleets one model after another)."""
    monkeypatch.setenv(jt.FLEET_VMAP_ENV, "1")


def test_lstm_fleets_run_one_by_one_on_a_cpu_by_default(monkeypatch):
    monkeypatch.delenv(jt.FLEET_VMAP_ENV)
    tasks = {k: MODELS[k]()._prepare(_series()[0], None)["task"] for k in MODELS}
    on_cpu = jt.jax.devices()[0].platform == "cpu"
    assert jt.vmapped_fleets(tasks["dense_window"])
    assert jt.vmapped_fleets(tasks["lstm_ae"]) is not on_cpu
    monkeypatch.setenv(jt.FLEET_VMAP_ENV, "0")
    assert not jt.vmapped_fleets(tasks["dense_rows"])


def _series(lengths=(90, 130, 70), f: int = 2) -> list[np.ndarray]:
    """Series of different lengths and shapes (so their models differ)."""
    out = []
    for i, t in enumerate(lengths):
        rng = np.random.default_rng(i)
        base = np.sin(np.arange(t) / (4.0 + 2 * i))[:, None] * np.ones((1, f)) * (1 + i)
        out.append((base + 0.1 * rng.normal(size=(t, f))).astype(np.float32))
    return out


def _per_series(make, Xs, X_vals, seeds):
    return [make().fit(X, X_val=v, seed=s) for X, v, s in zip(Xs, X_vals, seeds, strict=True)]


@pytest.mark.parametrize("name", [
    "dense_rows",
    # compiling each variant's programs twice (alone and as a fleet) takes seconds
    pytest.param("lstm_ae", marks=pytest.mark.slow),
    pytest.param("dense_window", marks=pytest.mark.slow),
    pytest.param("lstm_forecast", marks=pytest.mark.slow),
])
def test_fleet_equals_one_model_per_series(name):
    Xs = _series()
    train = [X[:int(0.7 * len(X))] for X in Xs]
    vals = [X[int(0.7 * len(X)):] for X in Xs]
    seeds = [3, 4, 3]
    make = MODELS[name]
    fleet = make(stop_on="val").fit_fleet(train, X_vals=vals, seeds=seeds)
    alone = _per_series(lambda: make(stop_on="val"), train, vals, seeds)
    got = fleet.score_fleet(Xs)
    for m, a, g, X in zip(fleet.members_, alone, got, Xs, strict=True):
        assert m.epochs_ == a.epochs_ and m.best_epoch_ == a.best_epoch_
        np.testing.assert_allclose(m.history_["train_loss"], a.history_["train_loss"], **TOL)
        np.testing.assert_allclose(m.history_["val_loss"], a.history_["val_loss"], **TOL)
        for p, q in zip(m.params_, a.params_, strict=True):
            np.testing.assert_allclose(p, q, rtol=2e-4, atol=2e-6)
        want = a.score(X)
        np.testing.assert_allclose(g, want, **TOL)
        np.testing.assert_allclose(m.score(X), want, **TOL)  # a member is a fitted detector
    if name != "lstm_ae":  # (one LSTM program less to compile in the fast suite)
        for a, e, X in zip(alone, fleet.explain_fleet(Xs), Xs, strict=True):
            np.testing.assert_allclose(e, a.explain(X), **TOL)


@pytest.mark.slow  # 1.7 s of compiling; align itself is checked fast in test_jax_detectors
def test_fleet_scores_follow_align():
    """score_fleet / explain_fleet equal each member's own score / explain with causal window
    scores (the default) and with centred ones (the fleet's ``align`` at scoring time)."""
    Xs = _series()
    fleet = MODELS["dense_window"]().fit_fleet([X[:60] for X in Xs], seeds=[0, 1, 2])
    got = {}
    for align in ("causal", "centred"):
        fleet.align = align
        got[align] = fleet.score_fleet(Xs)
        for m, g, e, X in zip(fleet.members_, got[align], fleet.explain_fleet(Xs), Xs,
                              strict=True):
            assert m.align == align and g.shape == (len(X),)
            np.testing.assert_allclose(g, m.score(X), **TOL)
            np.testing.assert_allclose(e, m.explain(X), **TOL)
            np.testing.assert_allclose(e.sum(axis=1), g, **TOL)
    for c, d in zip(got["causal"], got["centred"], strict=True):
        assert not np.allclose(c, d)


@pytest.mark.slow
def test_fleet_one_model_after_another_equals_one_model_per_series(monkeypatch):
    """The LSTMs' default on a CPU: the models run one by one in the fleet's common shapes."""
    monkeypatch.setenv(jt.FLEET_VMAP_ENV, "0")
    Xs = _series()
    make = MODELS["lstm_ae"]
    fleet = make().fit_fleet(Xs, seeds=[1, 2, 3])
    for g, a, X in zip(fleet.score_fleet(Xs), _per_series(make, Xs, [None] * 3, [1, 2, 3]), Xs,
                       strict=True):
        np.testing.assert_allclose(g, a.score(X), **TOL)


@pytest.mark.slow  # 3.4 s; the fast suite keeps test_jax_detectors::test_early_stopping_modes
def test_early_stopping_is_per_model():
    """Models stop at their own epoch (the others keep training), as they do alone."""
    Xs = _series((160, 220, 120, 300), f=1)
    make = lambda: DenseAE(hidden=(4,), window=0, epochs=12, batch=8, lr=0.05,  # noqa: E731
                           patience=1)
    fleet = make().fit_fleet(Xs, seeds=[0, 1, 2, 3])
    alone = _per_series(make, Xs, [None] * 4, [0, 1, 2, 3])
    epochs = [m.epochs_ for m in fleet.members_]
    assert epochs == [a.epochs_ for a in alone]
    assert len(set(epochs)) > 1, epochs  # they did stop at different epochs
    for g, a, X in zip(fleet.score_fleet(Xs), alone, Xs, strict=True):
        np.testing.assert_allclose(g, a.score(X), **TOL)


@pytest.mark.slow
def test_fleets_split_by_capacity_and_share_one_program():
    """Five models in fleets of at most two (three fleets of two, one slot idle) give the models
    of one fleet of five; the second call compiles nothing new."""
    prog = jt.program(MODELS["dense_rows"]()._prepare(_series()[0], None)["task"])
    Xs = _series((60, 75, 90, 66, 81), f=2)
    starts = [np.arange(len(X)) for X in Xs]
    kw = {"val_datas": Xs, "val_starts": [s[-3:] for s in starts],
          "cfg": TrainConfig(epochs=3, batch=8, patience=2), "seeds": [0, 1, 2, 3, 4]}
    whole = jt.train_fleet(prog, Xs, [s[:-3] for s in starts], capacity=5, **kw)
    before = jt.compile_count()
    parts = jt.train_fleet(prog, Xs, [s[:-3] for s in starts], capacity=2, **kw)
    assert jt.fleet_sizes(5, 2) == [2, 2, 2]
    for (pw, hw), (pp, hp) in zip(whole, parts, strict=True):
        assert hw.best_epoch == hp.best_epoch
        for a, b in zip(pw, pp, strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)
    assert jt.compile_count() - before <= 2  # only the new fleet size: epoch and evaluate


@pytest.mark.slow
def test_series_with_other_feature_counts_train_in_their_own_fleet():
    Xs = [*_series((80, 90), f=1), *_series((100,), f=3)]
    fleet = MODELS["dense_rows"]().fit_fleet(Xs, seeds=[1, 1, 1])
    assert [m.n_features_ for m in fleet.members_] == [1, 1, 3]
    for g, X in zip(fleet.score_fleet(Xs), Xs, strict=True):
        assert g.shape == (len(X),) and np.isfinite(g).all()


def test_fleet_errors_are_one_line_bench_errors():
    det = LSTMAE(window=50, **TINY)
    with pytest.raises(bench.BenchError, match="series 1 of the fleet.*too few"):
        det.fit_fleet(_series((200, 30)))
    with pytest.raises(bench.BenchError, match="fit_fleet"):
        LSTMAE().score_fleet(_series())
    with pytest.raises(bench.BenchError, match="2 validation arrays"):
        LSTMAE().fit_fleet(_series(), X_vals=[None, None])
    fitted = LSTMAE(window=5, **TINY).fit_fleet(_series((60, 70)))
    with pytest.raises(bench.BenchError, match="fleet of 2 series, got 3"):
        fitted.score_fleet(_series())


def test_adam_state_built_on_the_host_equals_optax_init():
    prog = jt.program(MODELS["dense_rows"]()._prepare(_series()[0], None)["task"])
    params, state = prog.init(0)
    want = prog.opt.init(params)
    for a, b in zip(jax_leaves(state), jax_leaves(want), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype and not np.asarray(a).any()


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)
def _dataset(n: int = 4) -> Dataset:
    series = []
    for i, X in enumerate(_series(tuple(120 + 17 * k for k in range(n)), f=1)):
        labels = np.zeros(len(X), np.int8)
        labels[-12:-8] = 1
        t = len(X)
        series.append(Series(X, labels, name=f"s{i}", split=Split(t // 2, 3 * t // 4)))
    return Dataset("tiny", series, description="tiny", license="CC0", provenance="test")


@pytest.mark.parametrize("window", [0, pytest.param(6, marks=pytest.mark.slow)])
def test_runner_trains_a_fleet_and_records_compiles(monkeypatch, window):
    """``_fit_all`` hands a fleet-capable detector the whole cell; the scores equal the
    per-series path's, the timings contract holds and compile seconds are recorded (window
    6: causal window scores, still one scoring program)."""
    ds = _dataset()
    params = {"hidden": (6, 3), "window": window, **TINY}
    cell = Cell(0, Spec("tiny"), Spec("dense_ae", params), seed=2)
    scores, explain, info = _fit_all(DenseAE, params, ds, cell)
    assert set(explain) == {s.name for s in ds}  # explain_fleet of the test ranges
    assert info["fleet"] == 4
    # training, early stopping's validation loss, and one program for scores and explanations
    assert info.get("compiles", 0) <= 3
    for key in ("fit_s", "score_s", "peak_mem_mb", "device", "n_points", "compile_s"):
        assert key in info, key
    assert info["n_points"] == sum(len(s) for s in ds)
    monkeypatch.setattr(DenseAE, "__bench_tags__", {"fleet": False})
    alone, _, info1 = _fit_all(DenseAE, params, ds, cell)
    assert "fleet" not in info1 and "compile_s" in info1
    for s in ds:
        np.testing.assert_allclose(scores[s.name], alone[s.name], **TOL)
