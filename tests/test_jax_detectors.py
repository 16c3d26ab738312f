"""The JAX / Flax NNX detectors: shapes, parameter counts, smoke tests, determinism, pickling,
windows, compile reuse, and quality on the shipped datasets (synthetic and the HPC course)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from bench.detectors.autoencoders import LSTMAE, DenseAE, LSTMForecast
from bench.detectors.jax import train as jt

import bench
from bench.params import Spec
from bench.plugins import Manager
from bench.runner import Cell, run_cell
from bench.windows import windows_to_steps

TINY = {"epochs": 2, "batch": 32}
MODELS = {
    "dense_rows": lambda **kw: DenseAE(hidden=(8, 4), window=0, **{**TINY, **kw}),
    "dense_window": lambda **kw: DenseAE(hidden=(8, 4), window=6, stride=2, **{**TINY, **kw}),
    "lstm_ae": lambda **kw: LSTMAE(window=6, hidden=8, stride=2, **{**TINY, **kw}),
    "lstm_forecast": lambda **kw: LSTMForecast(window=6, hidden=8, **{**TINY, **kw}),
}


def _data(t: int = 300, f: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.sin(np.arange(t) / 8.0)[:, None] * np.ones((1, f))
    return (base + 0.1 * rng.normal(size=(t, f))).astype(np.float32)


@pytest.mark.parametrize("name", list(MODELS))
def test_shapes_and_explain_sums_to_score(name):
    X = _data()
    det = MODELS[name]().fit(X[:200], seed=0)
    s, e = det.score(X), det.explain(X)
    assert s.shape == (300,) and e.shape == (300, 3)
    assert np.isfinite(s).all() and (s >= 0).all()
    np.testing.assert_allclose(e.sum(axis=1), s, rtol=1e-5)
    assert det.device_.startswith(("cpu", "gpu", "tpu"))
    assert det.epochs_ <= 2 and 0 <= det.best_epoch_ < det.epochs_


def _noisy_sine(t: int = 240, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.sin(np.arange(t) / 5.0) + 0.1 * rng.normal(size=t)).astype(np.float32)[:, None]


@pytest.mark.parametrize("make", [
    lambda: DenseAE(hidden=(8, 4), window=8, epochs=1, batch=32),
    pytest.param(lambda: LSTMAE(window=8, hidden=4, stride=2, epochs=1, batch=32),
                 marks=pytest.mark.slow),  # 1.7 s; the dense case keeps the check fast
], ids=["dense_ae", "lstm_ae"])
def test_causal_window_scores_do_not_look_ahead(make):
    """align=causal (the default): raising the rows after t leaves the scores and per-feature
    errors of rows <= t unchanged, and row t scores the window ending at t; align=centred (the
    same fitted model) sees up to window - 1 rows ahead."""
    X = _noisy_sine()
    det = make().fit(X[:160], seed=0)
    assert det.align == "causal"
    t = 150
    Y = X.copy()
    Y[t + 1:] += 3.0
    causal = det.score(X)
    np.testing.assert_array_equal(det.score(Y)[:t + 1], causal[:t + 1])
    assert det.score(Y)[t + 1] > causal[t + 1]  # the change is seen from its own row on
    # (per-feature errors: the dense model only, which compiles faster than the LSTM)
    explains = isinstance(det, DenseAE)
    if explains:
        explain = det.explain(X)
        np.testing.assert_array_equal(det.explain(Y)[:t + 1], explain[:t + 1])
        np.testing.assert_allclose(explain.sum(axis=1), causal, rtol=1e-5)
    # rows before the first window's last row (7) get the first window's score
    np.testing.assert_array_equal(causal[:7], np.full(7, causal[7]))
    # the window ending at t is the last window of the series cut after t
    np.testing.assert_allclose(det.score(X[:t + 1])[t], causal[t], rtol=1e-5)
    det.align = "centred"
    centred = det.score(X)
    ahead = np.abs(det.score(Y)[:t + 1] - centred[:t + 1])
    # rows t-6 .. t may see row t+1 (a row whose few covering windows reach t+1 only through
    # ReLU units that stay off can be unchanged: it depends on the initial weights); row t
    # does, and no row before t-6 can
    assert ahead[t] > 0 and (ahead[t - 6:] > 0).sum() >= 4 and ahead[:t - 7].max() == 0
    if explains:
        np.testing.assert_allclose(det.explain(X).sum(axis=1), centred, rtol=1e-5)
    assert not np.allclose(centred, causal)
    det.align = "ahead"
    with pytest.raises(bench.BenchError, match="align must be causal or centred"):
        det.score(X)


def test_mae_score_is_mean_of_explain():
    X = _data()
    det = MODELS["dense_rows"](loss="mae").fit(X[:200])
    np.testing.assert_allclose(det.explain(X).mean(axis=1), det.score(X), rtol=1e-5)


@pytest.mark.slow
def test_parameter_counts():
    X = _data(f=159)
    # the HPC course model: 159 -> 64 -> 159
    assert DenseAE(hidden=64, window=0, epochs=1).fit(X).n_params_ == 159 * 64 + 64 + 64 * 159 + 159
    # the log seed's model: 128-32-16-8-16-32-128
    sizes = [128, 32, 16, 8, 16, 32, 128]
    want = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    assert DenseAE(hidden=(32, 16, 8), window=0, epochs=1).fit(X[:, :128]).n_params_ == want
    # LSTM: 4 gates x (input + recurrent kernels + one bias)
    lstm = 4 * (1 * 8 + 8 * 8 + 8)
    dec = 4 * (8 * 8 + 8 * 8 + 8)
    assert LSTMAE(window=6, hidden=8, epochs=1).fit(X[:, :1]).n_params_ == lstm + dec + 8 + 1
    assert LSTMForecast(window=6, hidden=8, epochs=1).fit(X[:, :1]).n_params_ == lstm + 8 + 1


@pytest.mark.parametrize("mode", [pytest.param("inline", marks=pytest.mark.slow),
                                  pytest.param("hoisted", marks=pytest.mark.slow),
                                  pytest.param("repeated", marks=pytest.mark.slow),
                                  "last_only"])
def test_lstm_layer_matches_the_textbook_cell_and_its_autodiff_gradient(mode):
    """The LSTM layer (fused gates, hand-written gradient; inputs projected inside the loop,
    before it, or once for a repeated input; the last state only, as an encoder asks) against
    the plain cell with sigmoid gates
    differentiated by JAX: values and the gradients of every kernel, the bias and the inputs.
    A wrong sign or a missing term in the backward pass fails this."""
    import jax
    import jax.numpy as jnp
    from bench.detectors.jax import lstm as m
    from flax import nnx

    rng = np.random.default_rng(3)
    n_in = {"inline": 2, "hoisted": 6, "repeated": 3, "last_only": 1}[mode]
    assert (n_in <= m.INLINE_INPUTS) == (mode != "hoisted")
    hidden, b, t = 16, 8, 12
    graphdef, state = nnx.split(m.LSTM(n_in, hidden, rngs=nnx.Rngs(0)))
    params = {"wi": rng.normal(size=(n_in, 4 * hidden)) * 0.5,
              "wh": rng.normal(size=(hidden, 4 * hidden)) * 0.3,
              "b": rng.normal(size=4 * hidden) * 0.5}
    params = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    assert set(params) == set(nnx.to_pure_dict(state))
    x = jnp.asarray(rng.normal(size=(b, n_in) if mode == "repeated" else (t, b, n_in)),
                    jnp.float32)
    target = jnp.asarray(rng.normal(size=(t, b, hidden)), jnp.float32)
    weight = jnp.arange(1, t + 1, dtype=jnp.float32)[:, None, None]
    if mode == "last_only":
        target, weight = target[-1], 1.0

    def ours(p, x):
        st = jax.tree.map(lambda v: v, state)
        nnx.replace_by_pure_dict(st, p)
        return nnx.merge(graphdef, st)(x, length=t if mode == "repeated" else None,
                                       last_only=mode == "last_only")

    def textbook(p, x):
        xs = jnp.broadcast_to(x, (t, b, n_in)) if mode == "repeated" else x
        hs = m.lstm_reference(p["wh"], xs @ p["wi"] + p["b"])
        return hs[-1] if mode == "last_only" else hs

    def loss(f):
        return lambda p, x: (jnp.square(f(p, x) - target) * weight).sum()

    np.testing.assert_allclose(ours(params, x), textbook(params, x), atol=2e-6)
    got = jax.grad(loss(ours), argnums=(0, 1))(params, x)
    want = jax.grad(loss(textbook), argnums=(0, 1))(params, x)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert float(jnp.abs(w).max()) > 0.5  # a gradient worth comparing
        np.testing.assert_allclose(g, w, rtol=0, atol=2e-5 * float(jnp.abs(w).max()))


@pytest.mark.parametrize("name", list(MODELS))
def test_one_epoch_smoke_and_pickle(name):
    X = _data()
    det = MODELS[name](epochs=1)
    det = pickle.loads(pickle.dumps(det))  # picklable before fit
    det.fit(X[:200], seed=1)
    assert det.epochs_ == 1 and len(det.history_["train_loss"]) == 1
    again = pickle.loads(pickle.dumps(det))  # and after: weights are numpy arrays
    np.testing.assert_array_equal(again.score(X), det.score(X))


def test_deterministic_for_a_seed_and_different_across_seeds():
    X = _data()
    s0 = MODELS["lstm_ae"]().fit(X[:200], seed=3).score(X)
    s1 = MODELS["lstm_ae"]().fit(X[:200], seed=3).score(X)
    s2 = MODELS["lstm_ae"]().fit(X[:200], seed=4).score(X)
    np.testing.assert_array_equal(s0, s1)
    assert not np.array_equal(s0, s2)
    d = [MODELS["dense_rows"](dropout=0.2).fit(X[:200], seed=5).score(X) for _ in range(2)]
    np.testing.assert_array_equal(d[0], d[1])


def test_chunked_scoring_equals_one_chunk():
    X = _data(t=500)
    for name in ("dense_window", "lstm_ae", "lstm_forecast"):
        det = MODELS[name]().fit(X[:200])
        big = det.score(X)
        det.score_batch = 16  # 500 samples in chunks of 16
        np.testing.assert_allclose(det.score(X), big, rtol=1e-5, atol=1e-7)


def test_window_mapping_matches_bench_windows():
    rng = np.random.default_rng(0)
    per_pos = rng.uniform(size=(45, 6))
    import jax.numpy as jnp

    summed = np.asarray(jt._diag_sum(jnp.asarray(per_pos)))
    np.testing.assert_allclose(summed / jt.window_counts(50, 6),
                               windows_to_steps(per_pos, 50, 6), rtol=1e-6)


def test_series_of_nearby_lengths_reuse_compiled_programs():
    first = MODELS["lstm_ae"]().fit(_data(t=410)[:400])
    first.score(_data(t=410))
    second = MODELS["lstm_ae"]().fit(_data(t=450, seed=1)[:430])
    second.score(_data(t=450, seed=1))
    assert first.compiles_ >= 0 and second.compiles_ == 0
    assert jt.compile_count() >= 3


def test_early_stopping_modes():
    X = _data(t=400)
    none = MODELS["dense_rows"](epochs=5, stop_on="none").fit(X)
    assert none.epochs_ == 5 and none.stopped_on_ == "none" and not none.history_["val_loss"]
    split = MODELS["dense_rows"](epochs=5).fit(X)
    assert split.stopped_on_ == "split" and len(split.history_["val_loss"]) == split.epochs_
    assert split.history_["val_loss"][split.best_epoch_] == min(split.history_["val_loss"])
    val = MODELS["dense_rows"](epochs=5, stop_on="val").fit(X[:300], X_val=X[300:])
    assert val.stopped_on_ == "val"
    fallback = MODELS["dense_rows"](epochs=5, stop_on="val").fit(X[:300])
    assert fallback.stopped_on_ == "split"


def test_pca_and_l1_and_activations():
    X = _data(f=6)
    det = DenseAE(hidden=(4,), window=0, pca=3, l1=1e-3, activation="tanh",
                  out_activation="linear", **TINY).fit(X[:200])
    assert det.pca_components_.shape == (3, 6)
    assert det.explain(X).shape == (300, 6) and np.isfinite(det.score(X)).all()


def test_auto_window_for_univariate_input():
    det = DenseAE(hidden=(8, 4), **TINY).fit(_data(f=1))
    assert det.window_ == 32
    assert DenseAE(hidden=(8, 4), **TINY).fit(_data(f=8)).window_ == 0


@pytest.mark.parametrize("make, message", [
    (lambda: DenseAE(activation="gelu"), "activation"),
    (lambda: DenseAE(pca=9, window=0), "pca"),
    (lambda: LSTMAE(window=500), "window"),
    (lambda: LSTMForecast(epochs=0), "epochs"),
])
def test_bad_parameters_are_one_line_bench_errors(make, message):
    with pytest.raises(bench.BenchError, match=message):
        make().fit(_data(t=100))


def test_score_before_fit_is_a_bench_error():
    with pytest.raises(bench.BenchError, match="fit"):
        LSTMAE().score(_data())


def test_registered_as_plugin():
    m = Manager()
    for name in ("dense_ae", "lstm_ae", "lstm_forecast"):
        assert m.get("detector", name).plugin == "autoencoders"


def _cell(dataset, detector, **kw):
    return run_cell(Cell(0, Spec(dataset), detector, metrics=["roc_auc"], **kw))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dense_ae", "lstm_ae", "lstm_forecast"])
def test_beats_random_on_synthetic(name):
    out = _cell("synthetic", Spec(name))
    assert out["status"] == "ok", out.get("error")
    auc = out["evaluations"][0]["metrics"]["roc_auc"]
    assert auc > 0.7, f"{name}: ROC-AUC {auc:.3f} on synthetic (random: 0.5)"


@pytest.mark.slow
def test_hpc_course_protocol_cost():
    """dense_ae 159 -> 64 relu -> 159, MSE, batch 32, <= 30 epochs, patience 3 on the last 10 % of
    the training rows; min_cost over linspace(1e4, 2e5, 200); event cost 1/5/12."""
    out = _cell("hpc", Spec("dense_ae", {"hidden": "64", "batch": "32", "epochs": "30",
                                         "patience": "3"}),
                thresholds=[Spec("min_cost", {"grid": "linspace:1e4:2e5:200"})],
                costs=[Spec("event", {"c_alarm": "1", "c_missed": "5", "tolerance": "12"})])
    assert out["status"] == "ok", out.get("error")
    cost = out["evaluations"][0]["costs"]["event"]["test"]
    assert 265 <= cost <= 275, cost
