"""The JAX path of the ``kde`` baseline: same values as the float64 numpy path and scikit-learn,
the default backend, and the HPC course figure."""

from __future__ import annotations

import numpy as np
import pytest
from bench.detectors.kde import KDE, gaussian_log_density, jax_log_density

import bench
from bench.params import Spec
from bench.runner import Cell, run_cell


def _rows(n: int, d: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * scale


def _close(a: np.ndarray, b: np.ndarray) -> float:
    """Largest error relative to max(1, |b|)."""
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def test_float32_matches_numpy_float64():
    train, X = _rows(700, 40, 0), _rows(1500, 40, 1, scale=1.3)
    X[:5] *= 10  # far outliers: large, still relatively exact
    ref = gaussian_log_density(X, train, 0.8)
    got = jax_log_density(X, train, 0.8, dtype="float32", chunk=256)
    assert _close(got, ref) < 1e-4
    near = np.abs(ref) < 1000
    assert np.max(np.abs(got - ref)[near]) < 1e-3


def test_float64_matches_numpy_to_rounding():
    train, X = _rows(300, 12, 2), _rows(333, 12, 3)
    ref = gaussian_log_density(X, train, 0.5)
    np.testing.assert_allclose(jax_log_density(X, train, 0.5, dtype="float64"), ref,
                               rtol=1e-12, atol=1e-9)


def test_matches_scikit_learn():
    from sklearn.neighbors import KernelDensity

    train, X = _rows(400, 8, 4), _rows(200, 8, 5)
    ref = KernelDensity(kernel="gaussian", bandwidth=0.7).fit(train).score_samples(X)
    det = KDE(bandwidth=0.7).fit(train)
    assert det.backend_ == "jax"  # the default, "auto", picks JAX
    assert _close(-det.score(X), ref) < 1e-5
    np.testing.assert_allclose(-KDE(bandwidth=0.7, backend="numpy").fit(train).score(X), ref,
                               rtol=1e-10)


def test_chunks_and_padding_do_not_change_values():
    train, X = _rows(129, 5, 6), _rows(1001, 5, 7)
    a = jax_log_density(X, train, 0.9, chunk=64)
    b = jax_log_density(X, train, 0.9, chunk=4096)
    np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("kw, word", [({"backend": "torch"}, "backend"),
                                      ({"dtype": "float16"}, "dtype")])
def test_bad_options_are_bench_errors(kw, word):
    with pytest.raises(bench.BenchError, match=word):
        KDE(bandwidth=1.0, **kw).fit(_rows(50, 3, 0)).score(_rows(10, 3, 1))


@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_hpc_course_figure_reproduces(backend):
    """KDE bandwidth 0.5 on the HPC course protocol: event cost 0 / 263 / 265."""
    out = run_cell(Cell(0, Spec("hpc"), Spec("kde", {"bandwidth": "0.5", "backend": backend}),
                        thresholds=[Spec("min_cost", {"grid": "linspace:1e4:2e5:200"})],
                        costs=[Spec("event", {"c_alarm": "1", "c_missed": "5",
                                              "tolerance": "12"})]))
    assert out["status"] == "ok", out.get("error")
    assert out["evaluations"][0]["costs"]["event"] == {"train": 0.0, "val": 263.0, "test": 265.0}
