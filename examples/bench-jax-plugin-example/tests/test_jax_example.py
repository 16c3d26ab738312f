"""bench's conformance suite on the Transformer autoencoder, and its fleet against one-by-one."""

import numpy as np
from bench_jax_plugin_example.plugin import TransformerAEDetector

import bench.testing as bt

SMALL = {"window": 8, "width": 8, "epochs": 3, "batch": 32}
SUBJECTS = [bt.detector(TransformerAEDetector, name="transformer_ae", plugin="jax_example",
                        params=SMALL)]


@bt.parametrize_with_checks(SUBJECTS)
def test_bench_conformance(subject, check):
    check(subject)


def test_trains_as_a_fleet(monkeypatch):
    """The fleet stacks its models in one program (jax.vmap) and equals fitting one by one."""
    from bench.detectors.jax import train

    monkeypatch.setenv(train.FLEET_VMAP_ENV, "1")
    rng = np.random.default_rng(0)
    series = [np.sin(np.arange(n) / 5.0)[:, None] + 0.1 * rng.normal(size=(n, 1))
              for n in (300, 260, 340)]
    fleet = TransformerAEDetector(**SMALL).fit_fleet(series, seeds=[1, 2, 3])
    before = train.compile_count()
    scores = fleet.score_fleet(series)
    assert train.compile_count() - before <= 1  # one scoring program for the three series
    for x, seed, got in zip(series, [1, 2, 3], scores, strict=True):
        one = TransformerAEDetector(**SMALL).fit(x, seed=seed)
        np.testing.assert_allclose(got, one.score(x), rtol=2e-3, atol=1e-5)
