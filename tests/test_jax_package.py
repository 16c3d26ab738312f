"""The JAX detectors' package (issue 24): one source for the training fields, modules that
initialise themselves, one early stopping for single models and fleets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from bench.detectors.autoencoders import LSTMAE, DenseAE, LSTMForecast
from bench.detectors.jax import train as jt
from bench.detectors.jax.config import TrainConfig, train_field
from bench.detectors.jax.early_stopping import EarlyStopping

import bench
from bench.params import Interval, bind
from bench.plugins import Manager

BUILT_IN = (DenseAE, LSTMAE, LSTMForecast)


@dataclass(frozen=True)
class WithWarmup(TrainConfig):
    """TrainConfig with one more field, declared once."""

    warmup: int = train_field(0, Interval(int, 0, None), doc="epochs of linear lr warm-up")


class _Seen(Exception):
    pass


@pytest.mark.parametrize("cls", BUILT_IN, ids=lambda c: c.name)
def test_a_new_training_field_reaches_every_builtin_jax_detector(cls, monkeypatch):
    """Declaring a field in the training config (here a subclass naming it) is the only edit: the
    detector accepts it as a typed, checked parameter, and the training code receives it."""
    sub = type(cls.__name__, (cls,), {"train_config_class": WithWarmup})
    params = bind("detector", cls.name, sub, {"warmup": "3", "epochs": "2"})
    assert params["warmup"] == 3 and params["epochs"] == 2
    with pytest.raises(bench.BenchError, match="'warmup' = -1 is out of range"):
        bind("detector", cls.name, sub, {"warmup": "-1"})
    seen = []

    def spy(prog, *args, cfg, **kw):
        seen.append(cfg)
        raise _Seen

    monkeypatch.setattr(jt, "train", spy)
    monkeypatch.setattr(jt, "train_fleet", spy)
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    with pytest.raises(_Seen):
        sub(**params).fit(X)
    with pytest.raises(_Seen):
        sub(**params).fit_fleet([X, X[:150]])
    assert [type(c) for c in seen] == [WithWarmup, WithWarmup]
    assert [c.warmup for c in seen] == [3, 3] and [c.epochs for c in seen] == [2, 2]
    # the unmodified detector knows nothing of the field
    with pytest.raises(bench.BenchError, match="no parameter 'warmup'"):
        bind("detector", cls.name, cls, {"warmup": "3"})


def test_every_training_field_is_a_listed_typed_parameter():
    m = Manager()
    from bench.listing import user_parameters

    for cls in BUILT_IN:
        listed = {p.name: p for p in user_parameters(m.get("detector", cls.name))}
        for f in TrainConfig.train_fields():
            assert f.name in listed, (cls.name, f.name)
        assert listed["epochs"].type == "int" and listed["stop_on"].type == "split|val|none"
    assert {p.name: p.default for p in user_parameters(m.get("detector", "lstm_ae"))}[
        "stride"] == 4  # a detector's own default for a training field


def test_training_config_checks_each_field_in_one_line():
    with pytest.raises(bench.BenchError,
                       match=r"parameter 'lr' = 0.0 is out of range: it must be a number in \(0"):
        DenseAE(lr=0).train_config()
    with pytest.raises(bench.BenchError,
                       match="'stop_on' = never is out of range: it must be one of 'split'"):
        LSTMAE(stop_on="never").train_config()
    with pytest.raises(TypeError, match="unexpected parameter.*epoch\\b"):
        DenseAE(epoch=3)


def test_early_stopping_one_rule_for_one_or_many_models():
    one = EarlyStopping(1, patience=2)
    got = [bool(one.update(e, [v])[0]) for e, v in enumerate([3.0, 2.0, 2.5, 2.0])]
    assert got == [True, True, False, False] and not one.running
    assert int(one.best_epoch[0]) == 1 and one.val_loss[0] == [3.0, 2.0, 2.5, 2.0]
    # three models: the same rule each, one not watched (runs on, its last epoch is its best)
    many = EarlyStopping(3, patience=1, watched=[True, True, False])
    assert many.update(0, [1.0, 1.0, np.nan]).tolist() == [True, True, True]
    assert many.update(1, [0.5, 2.0, np.nan]).tolist() == [True, False, True]
    assert many.active.tolist() == [True, False, True]
    assert many.update(2, [0.7, 0.0, np.nan]).tolist() == [False, False, True]
    assert many.best_epoch.tolist() == [1, 0, 2] and many.val_loss[1] == [1.0, 2.0]
    assert many.val_loss[2] == [] and many.active.tolist() == [False, False, True]


def test_modules_initialise_themselves_with_keras_defaults():
    import jax
    from bench.detectors.jax import init
    from bench.detectors.jax.lstm_ae import LSTMAEConfig
    from flax import nnx

    prog = jt.program(jt.Task(LSTMAEConfig(hidden=8), 3, 16, "mse", 1e-3))
    model = nnx.merge(prog.graphdef, jax.tree.unflatten(prog.treedef, prog.init_leaves(7)))
    wi, wh, b = (np.asarray(model.enc.wi[...]), np.asarray(model.enc.wh[...]),
                 np.asarray(model.enc.b[...]))
    assert np.abs(wi).max() <= np.sqrt(6 / (3 + 32)) and np.abs(wi).max() > 0.5 * np.sqrt(
        6 / (3 + 32))  # Glorot-uniform with the layer's own fan-in / fan-out
    np.testing.assert_allclose(wh @ wh.T, np.eye(8), atol=1e-5)  # orthogonal recurrent kernel
    np.testing.assert_array_equal(b, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    assert np.all(np.asarray(model.out.bias[...]) == 0)
    # a fleet's model i is exactly the single model of seed i
    fleet = prog.init_fleet([7, 8])
    for got, want7, want8 in zip(fleet, prog.init_leaves(7), prog.init_leaves(8), strict=True):
        np.testing.assert_array_equal(got[0], want7)
        np.testing.assert_array_equal(got[1], want8)
    assert any(not np.array_equal(x[0], x[1]) for x in fleet)  # two seeds, two models
    # traced (jit / vmap), the host initialisers give what an eager call gives
    key = jax.random.key(3)
    eager = init.orthogonal(key, (4, 16))
    traced = jax.jit(lambda k: init.orthogonal(k, (4, 16)))(key)
    np.testing.assert_allclose(np.asarray(traced), eager, atol=1e-6)
    keys = jax.random.split(key, 2)
    batched = jax.vmap(lambda k: init.glorot_uniform(k, (5, 6)))(keys)
    np.testing.assert_allclose(np.asarray(batched[1]), init.glorot_uniform(keys[1], (5, 6)))


def test_building_a_builtin_model_compiles_nothing():
    """The built-in modules draw their weights on the host (init's initialisers, HostRngs keys):
    a new model configuration costs no XLA compilation before training (a first run notices)."""
    from bench.detectors.jax import cache
    from bench.detectors.jax.dense import DenseConfig
    from bench.detectors.jax.forecast import ForecastConfig

    for model, n_in, length in ((DenseConfig((24, 12, 6)), 77, 1), (ForecastConfig(11), 5, 9)):
        prog = jt.program(jt.Task(model, n_in, length, "mae", 3e-3))
        before = cache.compile_stats()
        leaves = prog.init_fleet([0, 1, 2])
        assert cache.stats_since(before)["compiles"] == 0
        assert prog.host_rngs and len(leaves) == len(jax_leaves(prog))


def jax_leaves(prog):
    import jax

    return jax.tree.leaves(prog.abstract)


def test_a_subclass_keeps_its_parents_model_constraints():
    """A plugin subclassing dense_ae with its own defaults and ``**train`` still has ``hidden``
    checked while a run is planned (the parent's own declaration is inherited, the training
    fields re-derived)."""
    from bench.detectors.autoencoders import DenseAE
    from bench.errors import BenchError
    from bench.params import bind

    class Wider(DenseAE):
        def __init__(self, *, hidden: tuple[int, ...] = (64, 32), **train):
            super().__init__(hidden=hidden, **train)

    assert bind("detector", "wider", Wider, {"epochs": "2"})["hidden"] == (64, 32)
    with pytest.raises(BenchError, match="parameter 'hidden' = 0 is out of range"):
        bind("detector", "wider", Wider, {"hidden": "0"})
    with pytest.raises(BenchError, match="parameter 'epochs' = 0 is out of range"):
        bind("detector", "wider", Wider, {"epochs": "0"})
