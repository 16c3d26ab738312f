"""pyod's detectors as bench detectors (``pyod.NAME``), when pyod is installed (``bench[pyod]``).

Every pyod detector of :data:`MODELS` (the ones that fit ``fit(X)`` / ``decision_function(X)`` on
any number of columns and need neither PyTorch nor a label) is registered as ``pyod.NAME``.
Nothing of pyod is imported when bench starts (importing pyod takes seconds): a detector's
parameters, read from its class's signature, are built the first time something asks for them
(``bench list``, binding ``-m pyod.lof:n_neighbors=50``) and pyod's module is imported when a
detector is constructed.  A parameter is exposed when its default is a number, a string, a bool
or None (its type is then the default's type; ``None`` defaults take what the text looks like);
``contamination``, ``n_jobs``, ``verbose`` and ``random_state`` are not parameters here: only
pyod's thresholding reads ``contamination``, and ``random_state`` is the cell's seed.
Scores: pyod's ``decision_function`` (higher = more anomalous, in the detector's own units).  On
a univariate series the harness window (``--window N`` or ``--window period``) gives TSB-AD's
``Sub-`` variants.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import importlib.util
import inspect

import numpy as np

import bench

#: bench name -> (pyod module, class).  Left out: QMCD (its decision_function ranked the
#: conformance check's planted anomalies last, ROC-AUC 0.000 with pyod 3.6.7), MAD (one column
#: only), the PyTorch models and the supervised XGBOD.
MODELS: dict[str, tuple[str, str]] = {
    "abod": ("abod", "ABOD"), "cblof": ("cblof", "CBLOF"), "cof": ("cof", "COF"),
    "copod": ("copod", "COPOD"), "ecod": ("ecod", "ECOD"), "gmm": ("gmm", "GMM"),
    "hbos": ("hbos", "HBOS"), "iforest": ("iforest", "IForest"), "inne": ("inne", "INNE"),
    "kde": ("kde", "KDE"), "knn": ("knn", "KNN"), "kpca": ("kpca", "KPCA"),
    "lmdd": ("lmdd", "LMDD"), "loda": ("loda", "LODA"), "lof": ("lof", "LOF"),
    "mcd": ("mcd", "MCD"), "ocsvm": ("ocsvm", "OCSVM"), "pca": ("pca", "PCA"),
    "rod": ("rod", "ROD"), "sampling": ("sampling", "Sampling"),
    "sod": ("sod", "SOD"), "sos": ("sos", "SOS"),
}
#: what each one is, for ``bench list detectors``
WHAT = {
    "abod": "angle-based outlier degree", "cblof": "cluster-based local outlier factor",
    "cof": "connectivity-based outlier factor", "copod": "copula-based outlier detection",
    "ecod": "empirical-CDF outlier detection", "gmm": "Gaussian mixture negative log-likelihood",
    "hbos": "histogram-based outlier score", "iforest": "isolation forest",
    "inne": "isolation with nearest-neighbour ensembles", "kde": "kernel density",
    "knn": "distance to the k-th nearest neighbour", "kpca": "kernel PCA reconstruction error",
    "lmdd": "linear method for deviation detection", "loda": "lightweight on-line detector",
    "lof": "local outlier factor", "mcd": "minimum covariance determinant (Mahalanobis)",
    "ocsvm": "one-class SVM", "pca": "PCA weighted projection distance",
    "rod": "rotation-based outlier detection", "sampling": "distance to a random sample",
    "sod": "subspace outlier degree", "sos": "stochastic outlier selection",
}
#: pyod arguments bench sets itself or that do not change decision_function
HIDDEN = {"self", "contamination", "n_jobs", "verbose", "random_state"}
SCALARS = (bool, int, float, str, type(None))


def _pyod_class(name: str):
    module, cls = MODELS[name]
    return getattr(importlib.import_module(f"pyod.models.{module}"), cls)


@functools.cache
def _signature(name: str) -> inspect.Signature:
    """The bench parameters of ``pyod.NAME``: pyod's keyword arguments with a scalar default,
    keyword-only, annotated with the default's type (untyped when the default is None)."""
    params = []
    for p in inspect.signature(_pyod_class(name).__init__).parameters.values():
        if p.name in HIDDEN or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        if p.default is p.empty or not isinstance(p.default, SCALARS):
            continue
        annot = p.empty if p.default is None else type(p.default).__name__
        params.append(inspect.Parameter(p.name, p.KEYWORD_ONLY, default=p.default,
                                        annotation=annot))
    return inspect.Signature(params)


class PyodDetector:
    """One pyod model: ``fit(X, seed)`` builds and fits it, ``score(X)`` is its
    ``decision_function`` (float64, higher = more anomalous)."""

    __bench_tags__ = bench.DetectorTags(fit_seed=True)  # declared capabilities: fit(X, *, seed)

    def __init__(self, name: str, params: dict):
        self.name = name
        self.params = params

    def fit(self, X: np.ndarray, *, seed: int = 0):
        cls = _pyod_class(self.name)
        extra = {k: v for k, v in (("random_state", seed), ("n_jobs", 1))
                 if k in inspect.signature(cls.__init__).parameters}
        X = np.asarray(X, dtype=np.float64)
        self.constant_ = bool(len(X)) and bool(np.all(np.ptp(X, axis=0) == 0))
        try:
            self.model_ = cls(**self.params, **extra)
            self.model_.fit(X)
        except Exception as exc:  # pyod's own failure, as one line naming the detector
            raise self._error("fit", exc) from exc
        self.n_features_ = np.shape(X)[1]
        return self

    def _need(self) -> str:
        return " on constant training rows; it needs rows that vary" if self.constant_ else ""

    def _error(self, step: str, exc: Exception) -> bench.BenchError:
        first = (str(exc).splitlines() or [""])[0]
        return bench.BenchError(f"pyod.{self.name}: {step} failed{self._need()} "
                                f"({type(exc).__name__}: {first})")

    def score(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise bench.BenchError(f"pyod.{self.name}: call fit() before score()")
        X = np.asarray(X, dtype=np.float64)
        if X.shape[1] != self.n_features_:
            raise bench.BenchError(f"pyod.{self.name}: fitted on {self.n_features_} columns, "
                                   f"scoring {X.shape[1]}")
        try:
            scores = np.asarray(self.model_.decision_function(X), dtype=np.float64).ravel()
        except Exception as exc:
            raise self._error("scoring", exc) from exc
        bad = int(np.sum(~np.isfinite(scores)))
        if bad:
            raise bench.BenchError(f"pyod.{self.name}: {bad} of {len(scores)} scores are not "
                                   f"finite{self._need()}")
        return scores


class PyodFactory:
    """``factory(**params)`` -> :class:`PyodDetector`; its signature (pyod's, see
    :func:`_signature`) is read only when asked for."""

    __bench_tags__ = PyodDetector.__bench_tags__  # the detectors' declared capabilities

    def __init__(self, name: str):
        self.name = name
        self.__doc__ = (f"pyod's {MODELS[name][1]}, {WHAT[name]} (pyod.models.{MODELS[name][0]}): "
                        f"decision_function scores, higher = more anomalous; --window N (or "
                        f"period) gives its Sub- variant on a univariate series.")

    @property
    def __signature__(self) -> inspect.Signature:
        return _signature(self.name)

    def __call__(self, **params) -> PyodDetector:
        known = _signature(self.name).parameters
        bad = [k for k in params if k not in known]
        if bad:
            raise bench.BenchError(f"pyod.{self.name} has no parameter '{bad[0]}'; its "
                                   f"parameters: {', '.join(known) or 'none'}")
        return PyodDetector(self.name, params)

    def __reduce__(self):
        return (PyodFactory, (self.name,))


def pyod_version() -> str | None:
    """pyod's installed version, or None when it is not installed (nothing is imported)."""
    if importlib.util.find_spec("pyod") is None:
        return None
    try:
        return md.version("pyod")
    except md.PackageNotFoundError:
        return None


@bench.hookimpl
def bench_register_detectors(register):
    version = pyod_version()
    if version is None:  # listed only when pyod is installed
        return
    for name in MODELS:
        register(f"pyod.{name}", PyodFactory(name), default_run=False, group="pyod",
                 version=f"pyod-{version}", description=PyodFactory(name).__doc__)
