"""Neural detectors in JAX / Flax NNX / Optax: a dense autoencoder, an LSTM autoencoder and an
LSTM forecaster.  Score: reconstruction or prediction error per time step (higher = more
anomalous); ``explain`` gives it per feature.

JAX is imported only when a detector is fitted, so loading this plugin is cheap.  The models and
training loops live in the package :mod:`bench.detectors.jax`; ``jax.detector`` holds their shared
fit / score / explain code.  Training, shared by the three:

* Optax Adam (``lr``), ``batch`` samples per step, at most ``epochs`` epochs; each epoch is one
  compiled ``jax.lax.scan`` over the batches, shuffled with a numpy generator seeded by ``seed``.
* Early stopping (``patience`` epochs without improvement of the validation loss, then the best
  weights are restored).  ``stop_on="split"`` (default, the HPC course's protocol): the validation
  loss is that of the **last** ``val_fraction`` of the training samples (in time order, as Keras'
  ``validation_split``), which are then not trained on.  ``stop_on="val"``: every training sample
  is trained on and the loss is that of the unlabelled validation range the runner passes as
  ``X_val`` (it may hold anomalies; falls back to ``"split"`` when there is none).
  ``stop_on="none"`` or ``patience=0``: all ``epochs`` are run.
* One compiled program per model configuration and (bucketed) input shape, reused by every series
  of a run; ``compiles_`` says how many XLA compilations a ``fit`` + ``score`` triggered.
* Fleets: the runner hands a whole cell's series to ``fit_fleet`` / ``score_fleet`` (the
  ``fleet`` capability of ``bench/hookspecs.py``); the models of all series with one
  configuration train together in one compiled program (``jax.vmap`` over stacked models), each
  series still with its own model, seed, early stopping and result (equal to ``fit`` /
  ``score`` to float rounding).  ``BENCH_FLEET_MB`` bounds a fleet's memory.  On a CPU the
  LSTMs' fleets train one model after another in the fleet's shared shapes (measured faster
  there; ``BENCH_FLEET_VMAP=1`` stacks them), still one compiled program per cell.
* Deterministic: the same ``seed`` gives the same scores on the same device.
* Fitted weights are kept as numpy arrays, so a detector pickles before and after ``fit``.

Fitted attributes: ``n_params_``, ``epochs_`` (run), ``best_epoch_`` (0-based, restored),
``history_`` (train / validation losses per epoch), ``stopped_on_``, ``device_``
(``"cpu:0"``, ``"gpu:0"``: JAX's default device), ``compiles_`` (XLA compilations, persistent
cache hits excluded), ``compile_s_`` (seconds tracing and compiling) and, after ``fit_fleet``,
``members_`` (one fitted detector per series).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

import bench
from bench.params import Each, Interval

from .jax.config import ModelConfig
from .jax.detector import (  # noqa: F401 - re-exported: the names this module held before
    ALIGNS,
    EXPLAIN_VALUES,
    FEATURE_SCORES,
    JaxDetector,
    _as_2d,
    _explain_scores,
    _groups,
    _jt,
    _Neural,
)

Activation = Literal["relu", "tanh", "leaky_relu", "sigmoid", "linear"]
Align = Literal["causal", "centred"]


class DenseAE(JaxDetector):
    """Dense autoencoder; score = reconstruction error per row.

    hidden:         encoder sizes, the last is the code; the decoder mirrors them
                    (``hidden=64`` gives F -> 64 -> F, ``32-16-8`` gives F-32-16-8-16-32-F).
    activation:     hidden activation (relu, tanh, leaky_relu, sigmoid, linear);
                    ``out_activation`` for the output layer (default linear).
    loss:           ``mse``: score = sum over features of squared errors; ``mae``: score = mean
                    absolute error.  The training loss is the per-sample mean of the same.
    dropout:        rate after every hidden layer, in training.
    l1:             L1 activity penalty on the code (a sparse autoencoder), added to the loss.
    pca:            if > 0, project the inputs on their first ``pca`` principal components (fitted
                    on the training rows) and autoencode those; the reconstruction error is mapped
                    back to the input features (the variance PCA drops is not scored).
    window:         0 = one row per sample; ``w`` > 0 = sliding windows of ``w`` rows flattened
                    to ``w * F`` inputs (training windows every ``stride`` rows, scoring every
                    row; see ``align``); ``"auto"`` = 32 for inputs of fewer than 8 features (a
                    univariate series), else 0.
    align:          how window errors score rows (``window`` > 1).  ``causal`` (default): row
                    ``t`` scores the mean error of the window ending at ``t`` (no later row is
                    seen; rows ``t < w - 1`` get the first window's); ``centred``: each row's
                    error averaged over every window covering it (up to ``w - 1`` rows ahead).
    epochs, batch, lr, patience, val_fraction, stop_on: training, see the module docstring.
    score_batch:    samples per scoring chunk (bounds memory; 16384 rows of the log seed's
                    128-feature model: 1M rows in 0.20 s against 0.23-0.28 s in chunks of 4096).

    The HPC course's model: ``dense_ae:hidden=64,batch=32,epochs=30,patience=3`` (relu, linear
    output, MSE, early stopping on the last 10 % of the training rows).
    """

    name = "dense_ae"
    _parameter_constraints = {"hidden": [Each(Interval(int, 1, None))]}

    def __init__(self, *, hidden: tuple[int, ...] = (32, 16, 8), activation: Activation = "relu",
                 out_activation: Activation = "linear", dropout: float = 0.0, l1: float = 0.0,
                 pca: int = 0, window: int | str = "auto", align: Align = "causal", **train):
        self.hidden = hidden
        self.activation = activation
        self.out_activation = out_activation
        self.dropout = dropout
        self.l1 = l1
        self.pca = pca
        self.window = window
        self.align = align
        super().__init__(**train)

    def _setup(self, X: np.ndarray) -> None:
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        if not hidden or min(hidden) < 1:
            raise bench.BenchError(f"dense_ae: hidden must be sizes >= 1 like 32-16-8, "
                                   f"got {self.hidden!r}")
        self.hidden_ = tuple(int(h) for h in hidden)
        for key in ("activation", "out_activation"):
            if getattr(self, key) not in ("relu", "tanh", "leaky_relu", "sigmoid", "linear"):
                raise bench.BenchError(f"dense_ae: {key} must be relu, tanh, leaky_relu, sigmoid "
                                       f"or linear, got {getattr(self, key)!r}")
        if not 0 <= self.dropout < 1:
            raise bench.BenchError(f"dense_ae: dropout must be in [0, 1), got {self.dropout}")
        if self.window == "auto":
            self.window_ = 32 if X.shape[1] < 8 else 0
        else:
            try:
                self.window_ = int(self.window)
            except ValueError:
                raise bench.BenchError(f"dense_ae: window must be an integer or auto, "
                                       f"got {self.window!r}") from None
        if self.window_ < 0 or self.stride < 1:
            raise bench.BenchError("dense_ae: window must be >= 0 and stride >= 1")
        self.pca_mean_ = self.pca_components_ = None
        if self.pca:
            if not 1 <= self.pca <= X.shape[1]:
                raise bench.BenchError(f"dense_ae: pca must be in [1, {X.shape[1]}] (features), "
                                       f"got {self.pca}")
            mean = X.mean(axis=0, dtype=np.float64)
            _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
            self.pca_mean_ = mean.astype(np.float32)
            self.pca_components_ = vt[:self.pca].astype(np.float32)

    @property
    def sample_rows(self) -> int:
        return max(1, getattr(self, "window_", 0))

    @property
    def _n_in(self) -> int:
        return self.sample_rows

    def _transform(self, X: np.ndarray) -> np.ndarray:
        if self.pca_components_ is None:
            return X
        return ((X - self.pca_mean_) @ self.pca_components_.T).astype(np.float32)

    def _proj(self) -> np.ndarray | None:
        return self.pca_components_

    def model_config(self) -> ModelConfig:
        from .jax.dense import DenseConfig

        return DenseConfig(self.hidden_, self.activation, self.out_activation,
                           float(self.dropout), float(self.l1))


class LSTMAE(JaxDetector):
    """Sequence-to-sequence LSTM autoencoder on sliding windows; score = reconstruction error.

    window:   rows per window; training windows start every ``stride`` rows, scoring windows
              every row.
    align:    ``causal`` (default): row ``t`` scores the mean error of the window ending at
              ``t`` (rows ``t < window - 1`` get the first window's); ``centred``: each row's
              error averaged over every window covering it (it sees ``window - 1`` rows ahead).
    hidden:   LSTM units of the encoder and of the decoder.
    latent:   if > 0, a Dense layer maps the encoder's last hidden state to ``latent`` units before
              it is repeated ``window`` times into the decoder; 0 = the hidden state itself.
    loss:     ``mse`` (score = sum of squared errors over features) or ``mae`` (mean absolute).
    epochs, batch, lr, patience, val_fraction, stop_on: training, see the module docstring.
    score_batch: windows per scoring chunk (bounds memory; 4096 windows of 30 x 1 score about
                 25 % faster than 1024).
    """

    name = "lstm_ae"

    train_defaults = {"stride": 4, "epochs": 10, "score_batch": 4096}

    def __init__(self, *, window: int = 32, hidden: int = 32, latent: int = 0,
                 align: Align = "causal", **train):
        self.window = window
        self.hidden = hidden
        self.latent = latent
        self.align = align
        super().__init__(**train)

    def _setup(self, X: np.ndarray) -> None:
        if self.window < 2 or self.hidden < 1 or self.latent < 0 or self.stride < 1:
            raise bench.BenchError("lstm_ae: need window >= 2, hidden >= 1, latent >= 0, "
                                   "stride >= 1")

    @property
    def sample_rows(self) -> int:
        return int(self.window)

    def model_config(self) -> ModelConfig:
        from .jax.lstm_ae import LSTMAEConfig

        return LSTMAEConfig(int(self.hidden), int(self.latent))


class LSTMForecast(JaxDetector):
    """LSTM that predicts each row from the ``window`` rows before it; score = prediction error.

    The first ``window`` rows are predicted from a history padded with copies of the first row,
    so every row has a score.

    window:   rows of history per prediction; training samples start every ``stride`` rows.
    hidden:   LSTM units.
    noise:    standard deviation of Gaussian noise added to the history in training
              (standardised units; 0 = none).
    loss:     ``mse`` (score = sum of squared errors over features) or ``mae`` (mean absolute).
    epochs, batch, lr, patience, val_fraction, stop_on: training, see the module docstring.
    score_batch: predictions per scoring chunk (bounds memory).
    """

    name = "lstm_forecast"

    train_defaults = {"stride": 2, "epochs": 10, "score_batch": 4096}

    def __init__(self, *, window: int = 32, hidden: int = 32, noise: float = 0.0, **train):
        self.window = window
        self.hidden = hidden
        self.noise = noise
        super().__init__(**train)

    def _setup(self, X: np.ndarray) -> None:
        if self.window < 1 or self.hidden < 1 or self.noise < 0 or self.stride < 1:
            raise bench.BenchError("lstm_forecast: need window >= 1, hidden >= 1, noise >= 0, "
                                   "stride >= 1")

    @property
    def sample_rows(self) -> int:
        return int(self.window) + 1

    def model_config(self) -> ModelConfig:
        from .jax.forecast import ForecastConfig

        return ForecastConfig(int(self.hidden), float(self.noise))

    def _score_input(self, data: np.ndarray) -> tuple[np.ndarray, int]:
        """The first ``window`` rows are predicted from copies of the first row."""
        return np.concatenate([np.repeat(data[:1], int(self.window), axis=0), data]), len(data)

    def _score_output(self, tot: np.ndarray, n: int) -> np.ndarray:
        return tot


@bench.hookimpl
def bench_register_detectors(register):
    register("dense_ae", DenseAE)
    register("lstm_ae", LSTMAE)
    register("lstm_forecast", LSTMForecast)
