"""Neural detectors in JAX / Flax NNX / Optax: a dense autoencoder, an LSTM autoencoder and an
LSTM forecaster.  Score: reconstruction or prediction error per time step (higher = more
anomalous); ``explain`` gives it per feature.

JAX is imported only when a detector is fitted, so loading this plugin is cheap.  The models and
training loops live in ``_jax_models`` and ``_jax_train``.  Training, shared by the three:

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
* Deterministic: the same ``seed`` gives the same scores on the same device.
* Fitted weights are kept as numpy arrays, so a detector pickles before and after ``fit``.

Fitted attributes: ``n_params_``, ``epochs_`` (run), ``best_epoch_`` (0-based, restored),
``history_`` (train / validation losses per epoch), ``stopped_on_``, ``device_``
(``"cpu:0"``, ``"gpu:0"``: JAX's default device), ``compiles_``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

import bench
from bench.windows import window_starts

Activation = Literal["relu", "tanh", "leaky_relu", "sigmoid", "linear"]
Loss = Literal["mse", "mae"]
StopOn = Literal["split", "val", "none"]


def _jt():
    from . import _jax_train

    return _jax_train


def _as_2d(X: np.ndarray, who: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or len(X) == 0:
        raise bench.BenchError(f"{who}: expected a non-empty [T, F] array, got shape {X.shape}")
    return X


class _Neural:
    """Shared fit / score / explain; subclasses define the model and how samples are cut."""

    name = "neural"

    # ------------------------------------------------------------------ subclass hooks
    def _setup(self, X: np.ndarray) -> None:
        """Resolve data-dependent settings (window, PCA) from the training rows."""

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X

    def _task(self, n_features: int):
        raise NotImplementedError

    @property
    def _length(self) -> int:
        """Rows per sample."""
        return 1

    def _proj(self) -> np.ndarray | None:
        return None

    # ------------------------------------------------------------------ common checks
    def _check(self) -> None:
        for key in ("epochs", "batch"):
            if int(getattr(self, key)) < 1:
                raise bench.BenchError(f"{self.name}: {key} must be >= 1, "
                                       f"got {getattr(self, key)}")
        if not 0 <= self.val_fraction < 1:
            raise bench.BenchError(f"{self.name}: val_fraction must be in [0, 1), "
                                   f"got {self.val_fraction}")
        if self.stop_on not in ("split", "val", "none"):
            raise bench.BenchError(f"{self.name}: stop_on must be split, val or none, "
                                   f"got {self.stop_on!r}")
        if self.loss not in ("mse", "mae"):
            raise bench.BenchError(f"{self.name}: loss must be mse or mae, got {self.loss!r}")
        if not self.lr > 0:
            raise bench.BenchError(f"{self.name}: lr must be > 0, got {self.lr}")

    def _starts(self, n_rows: int, stride: int) -> np.ndarray:
        length = self._length
        if n_rows < length + 1:
            raise bench.BenchError(
                f"{self.name}: {n_rows} training rows are too few for samples of {length} rows; "
                f"use a smaller window (e.g. {self.name}:window={max(2, n_rows // 4)})")
        if length == 1:
            return np.arange(0, n_rows, stride)
        return window_starts(n_rows, length, stride)

    def _validation(self, data, starts, X_val):
        """(train_starts, val_data, val_starts, stopped_on)."""
        if self.stop_on == "none" or self.patience <= 0:
            return starts, None, None, "none"
        if self.stop_on == "val" and X_val is not None and len(X_val) > self._length:
            vd = self._transform(_as_2d(X_val, self.name))
            return starts, vd, self._starts(len(vd), 1), "val"
        n_val = len(starts) - int(len(starts) * (1.0 - self.val_fraction))
        if n_val < 1 or n_val >= len(starts):
            return starts, None, None, "none"
        return starts[:-n_val], data, starts[-n_val:], "split"

    # ------------------------------------------------------------------ API
    def fit(self, X: np.ndarray, *, X_val: np.ndarray | None = None, seed: int = 0):
        jt = _jt()
        self._check()
        X = _as_2d(X, self.name)
        before = jt.compile_count()
        self._setup(X)
        data = self._transform(X)
        prog = jt.program(self._task(data.shape[1]))
        starts = self._starts(len(data), self._train_stride)
        tr, vd, vs, self.stopped_on_ = self._validation(data, starts, X_val)
        self.params_, hist = jt.train(prog, data, tr, val_data=vd, val_starts=vs,
                                      epochs=int(self.epochs), batch=int(self.batch),
                                      patience=int(self.patience), seed=int(seed))
        self.n_features_ = X.shape[1]
        self.n_params_ = prog.n_params
        self.epochs_ = len(hist.train_loss)
        self.best_epoch_ = hist.best_epoch
        self.history_ = {"train_loss": hist.train_loss, "val_loss": hist.val_loss}
        self.device_ = jt.device_name()
        self.compiles_ = jt.compile_count() - before
        return self

    def _errors(self, X: np.ndarray, mode: str) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise bench.BenchError(f"{self.name}: call fit() before score()")
        jt = _jt()
        X = _as_2d(X, self.name)
        if X.shape[1] != self.n_features_:
            raise bench.BenchError(f"{self.name}: fitted on {self.n_features_} features, "
                                   f"got {X.shape[1]}")
        before = jt.compile_count()
        out = self._step_errors(jt, self._transform(X), mode)
        self.compiles_ = getattr(self, "compiles_", 0) + jt.compile_count() - before
        return out

    def _step_errors(self, jt, data: np.ndarray, mode: str) -> np.ndarray:
        prog = jt.program(self._task(data.shape[1]))
        length, n = self._length, len(data)
        if length == 1:
            return jt.errors(prog, self.params_, data, n, chunk=self.score_batch, mode=mode,
                             proj=self._proj())
        # windowed autoencoder: every stride-1 window, per-row mean over covering windows
        series = data if n >= length else np.concatenate(
            [data, np.repeat(data[-1:], length - n, axis=0)])
        tot = jt.errors(prog, self.params_, series, len(series) - length + 1,
                        chunk=self.score_batch, mode=mode, proj=self._proj())
        counts = jt.window_counts(len(series), length)
        return (tot / (counts if tot.ndim == 1 else counts[:, None]))[:n]

    def score(self, X: np.ndarray) -> np.ndarray:
        """One error per row ``[T]``, float64, higher = more anomalous."""
        return self._errors(X, "score")

    def explain(self, X: np.ndarray) -> np.ndarray:
        """Per-feature errors ``[T, F]``: squared (``loss="mse"``; they sum to the score) or
        absolute (``loss="mae"``; their mean is the score)."""
        return self._errors(X, "explain")


class DenseAE(_Neural):
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
                    row), each step's error averaged over the windows covering it; ``"auto"`` =
                    32 for inputs of fewer than 8 features (a univariate series), else 0.
    epochs, batch, lr, patience, val_fraction, stop_on: training, see the module docstring.
    score_batch:    samples per scoring chunk (bounds memory; 16384 rows of the log seed's
                    128-feature model: 1M rows in 0.20 s against 0.23-0.28 s in chunks of 4096).

    The HPC course's model: ``dense_ae:hidden=64,batch=32,epochs=30,patience=3`` (relu, linear
    output, MSE, early stopping on the last 10 % of the training rows).
    """

    name = "dense_ae"

    def __init__(self, *, hidden: tuple[int, ...] = (32, 16, 8), activation: Activation = "relu",
                 out_activation: Activation = "linear", loss: Loss = "mse", dropout: float = 0.0,
                 l1: float = 0.0, pca: int = 0, window: int | str = "auto", stride: int = 1,
                 epochs: int = 30, batch: int = 64, lr: float = 1e-3, patience: int = 3,
                 val_fraction: float = 0.1, stop_on: StopOn = "split", score_batch: int = 16384):
        self.hidden = hidden
        self.activation = activation
        self.out_activation = out_activation
        self.loss = loss
        self.dropout = dropout
        self.l1 = l1
        self.pca = pca
        self.window = window
        self.stride = stride
        self.epochs = epochs
        self.batch = batch
        self.lr = lr
        self.patience = patience
        self.val_fraction = val_fraction
        self.stop_on = stop_on
        self.score_batch = score_batch

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
    def _length(self) -> int:
        return max(1, getattr(self, "window_", 0))

    @property
    def _train_stride(self) -> int:
        return int(self.stride)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        if self.pca_components_ is None:
            return X
        return ((X - self.pca_mean_) @ self.pca_components_.T).astype(np.float32)

    def _proj(self) -> np.ndarray | None:
        return self.pca_components_

    def _task(self, n_features: int):
        jt = _jt()
        length = self._length
        arch = (self.hidden_, self.activation, self.out_activation, float(self.dropout),
                float(self.l1))
        # samples are [length, F] rows, flattened to length * F model inputs
        return jt.Task("dense", n_features * length, length, arch, self.loss, float(self.lr))


class LSTMAE(_Neural):
    """Sequence-to-sequence LSTM autoencoder on sliding windows; score = reconstruction error,
    each step's error averaged over the windows covering it.

    window:   rows per window; training windows start every ``stride`` rows, scoring windows
              every row.
    hidden:   LSTM units of the encoder and of the decoder.
    latent:   if > 0, a Dense layer maps the encoder's last hidden state to ``latent`` units before
              it is repeated ``window`` times into the decoder; 0 = the hidden state itself.
    loss:     ``mse`` (score = sum of squared errors over features) or ``mae`` (mean absolute).
    epochs, batch, lr, patience, val_fraction, stop_on: training, see the module docstring.
    score_batch: windows per scoring chunk (bounds memory; 4096 windows of 30 x 1 score about
                 25 % faster than 1024).
    """

    name = "lstm_ae"

    def __init__(self, *, window: int = 32, hidden: int = 32, latent: int = 0,
                 loss: Loss = "mse", stride: int = 4, epochs: int = 10, batch: int = 64,
                 lr: float = 1e-3, patience: int = 3, val_fraction: float = 0.1,
                 stop_on: StopOn = "split", score_batch: int = 4096):
        self.window = window
        self.hidden = hidden
        self.latent = latent
        self.loss = loss
        self.stride = stride
        self.epochs = epochs
        self.batch = batch
        self.lr = lr
        self.patience = patience
        self.val_fraction = val_fraction
        self.stop_on = stop_on
        self.score_batch = score_batch

    def _setup(self, X: np.ndarray) -> None:
        if self.window < 2 or self.hidden < 1 or self.latent < 0 or self.stride < 1:
            raise bench.BenchError("lstm_ae: need window >= 2, hidden >= 1, latent >= 0, "
                                   "stride >= 1")

    @property
    def _length(self) -> int:
        return int(self.window)

    @property
    def _train_stride(self) -> int:
        return int(self.stride)

    def _task(self, n_features: int):
        return _jt().Task("lstm_ae", n_features, self._length,
                          (int(self.hidden), int(self.latent)), self.loss, float(self.lr))


class LSTMForecast(_Neural):
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

    def __init__(self, *, window: int = 32, hidden: int = 32, noise: float = 0.0,
                 loss: Loss = "mse", stride: int = 2, epochs: int = 10, batch: int = 64,
                 lr: float = 1e-3, patience: int = 3, val_fraction: float = 0.1,
                 stop_on: StopOn = "split", score_batch: int = 4096):
        self.window = window
        self.hidden = hidden
        self.noise = noise
        self.loss = loss
        self.stride = stride
        self.epochs = epochs
        self.batch = batch
        self.lr = lr
        self.patience = patience
        self.val_fraction = val_fraction
        self.stop_on = stop_on
        self.score_batch = score_batch

    def _setup(self, X: np.ndarray) -> None:
        if self.window < 1 or self.hidden < 1 or self.noise < 0 or self.stride < 1:
            raise bench.BenchError("lstm_forecast: need window >= 1, hidden >= 1, noise >= 0, "
                                   "stride >= 1")

    @property
    def _length(self) -> int:
        return int(self.window) + 1

    @property
    def _train_stride(self) -> int:
        return int(self.stride)

    def _task(self, n_features: int):
        return _jt().Task("forecast", n_features, self._length,
                          (int(self.hidden), float(self.noise)), self.loss, float(self.lr))

    def _step_errors(self, jt, data: np.ndarray, mode: str) -> np.ndarray:
        prog = jt.program(self._task(data.shape[1]))
        w = int(self.window)
        series = np.concatenate([np.repeat(data[:1], w, axis=0), data])
        return jt.errors(prog, self.params_, series, len(data), chunk=self.score_batch,
                         mode=mode)


@bench.hookimpl
def bench_register_detectors(register):
    register("dense_ae", DenseAE)
    register("lstm_ae", LSTMAE)
    register("lstm_forecast", LSTMForecast)
