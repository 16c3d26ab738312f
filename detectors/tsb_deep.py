"""TSB-AD's two deep detectors, ``AutoEncoder`` and ``LSTMAD``, as configurations of bench's JAX
detectors (``dense_ae``, ``lstm_forecast``): the table's like-for-like deep rows.

Source: TheDatumOrg/TSB-AD at its November 2024 code (commit 1693d43, the published table's):
``TSB_AD/models/AE.py``, ``TSB_AD/models/LSTMAD.py``, ``model_wrapper.run_AutoEncoder`` /
``run_LSTMAD`` and ``HP_list.Optimal_Uni_algo_HP_dict``.  Both are in TSB-AD's
``Semisupervise_AD_Pool``: fitted on the series' ``tr_N`` prefix, scoring every row (bench does
the same under ``--protocol tsb-ad``: the neural detectors declare ``supervision =
"semi-supervised"``).

``tsb_autoencoder`` (TSB-AD ``AutoEncoder(slidingWindow=100, hidden_neurons=[128, 64],
batch_size=128, epochs=50)``, learning rate 1e-3, dropout 0.2, ReLU everywhere, output included):

* samples: every stride-1 window of ``window`` rows of a univariate series, each window min-max
  scaled to [0, 1] on its own (TSB-AD's ``MinMaxScaler().fit_transform(X.T).T``), then every
  window position standardised with the training windows' mean and standard deviation (a zero
  standard deviation becomes 1e-8, as TSB-AD's).  A multivariate series is not windowed: each
  row is min-max scaled across its features, then standardised (TSB-AD's ``n_features > 1``
  path).  The samples are fed to ``dense_ae`` as rows of ``window`` features (its ``window=0``).
* trained 50 epochs on every training window, no validation, no early stopping: TSB-AD keeps
  ``best_model_dict = model.state_dict()``, which references the live parameters, so the weights
  it scores with are the last epoch's.
* score of a window: the Euclidean distance between it and its reconstruction; row ``t`` gets
  the score of the window *centred* on it (the first ``ceil((w-1)/2)`` and last ``(w-1)//2`` rows
  repeat the nearest window's): it looks ahead ``(w-1)//2`` rows.

``tsb_lstmad`` (TSB-AD ``LSTMAD(window_size=100, pred_len=1, lr=0.0008, batch_size=128)``,
epochs 50, validation_size 0.2, early stopping patience 3):

* predicts each row from the ``window`` rows before it; score = its squared error; the first
  ``window`` rows repeat the first prediction's score (TSB-AD's padding; it looks ahead for those
  rows only).
* the last 20 % of the training samples are the validation set (not trained on); training stops
  after 3 epochs without a better validation loss, at most 49 epochs (TSB-AD's loop breaks at
  ``epoch == epochs - 1``).

What bench's detectors cannot express (each changes the trained model, not the protocol):

* AutoEncoder: no batch normalisation (TSB-AD has ``BatchNorm1d`` after every hidden linear
  layer); no Adam weight decay (TSB-AD 1e-5); Glorot-uniform initial weights (PyTorch: Kaiming-
  uniform); the last partial batch is trained on (PyTorch ``drop_last=True`` drops it).
* LSTMAD: one LSTM layer of 20 units followed by a dense layer, where TSB-AD has a 2-layer LSTM
  encoder (20 units) whose final states start a 2-layer LSTM decoder run for one step on a zero
  input, then GELU and a dense layer; no learning-rate schedule (TSB-AD: StepLR, x0.75 every 5
  epochs); bench restores the best validation weights when it stops early (TSB-AD keeps the last,
  ``save_path=None``), and counts an improvement of any size (TSB-AD: more than 1e-4); the
  validation samples are the last 20 % of the training *windows* (TSB-AD cuts the last 20 % of
  the training *rows*, so no window straddles the cut); TSB-AD feeds a univariate series to its
  LSTM **raw** (its ``ForecastDataset`` standardises ``self.data`` but cuts windows from the
  unscaled ``data``): bench standardises each series with its training rows' statistics unless
  the run says ``--no-standardize`` (the like-for-like setting; the autoencoder's per-window
  min-max scaling makes it indifferent to it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

import bench

from .autoencoders import DenseAE, LSTMForecast

#: TSB-AD's epsilon for a zero standard deviation (``AE.py``: ``np.where(std == 0, 1e-8, std)``)
STD_FLOOR = 1e-8


def _minmax_rows(M: np.ndarray) -> np.ndarray:
    """Each row of ``M [N, K]`` min-max scaled to [0, 1] on its own (a constant row becomes 0,
    as scikit-learn's MinMaxScaler)."""
    lo = M.min(axis=1, keepdims=True)
    rng = M.max(axis=1, keepdims=True) - lo
    return (M - lo) / np.where(rng > 0, rng, 1.0)


class TSBAutoEncoder(DenseAE):
    """TSB-AD's AutoEncoder: per-window min-max scaled windows through a dense autoencoder;
    score = Euclidean reconstruction error of the window centred on each row (higher = more
    anomalous; it looks ahead ``(window-1)//2`` rows).

    window:  rows per window (TSB-AD ``window_size``, 100).
    hidden:  encoder sizes, the decoder mirrors them (TSB-AD ``hidden_neurons``, 128-64).
    dropout: rate after every hidden layer in training (0.2); ``activation`` / ``out_activation``
             relu / relu (TSB-AD applies its ReLU to the output layer too).
    epochs, batch, lr: 50, 128, 1e-3; no early stopping (``patience=0``), as TSB-AD.
    """

    name = "tsb_autoencoder"
    # fixed: the windows are this detector's own samples (dense_ae sees rows of `window`
    # features), no PCA, no sparsity penalty, no validation split
    pca, l1, stride, align, val_fraction, stop_on, loss = 0, 0.0, 1, "causal", 0.0, "none", "mse"

    def __init__(self, *, window: int = 100, hidden: tuple[int, ...] = (128, 64),
                 activation: str = "relu", out_activation: str = "relu", dropout: float = 0.2,
                 epochs: int = 50, batch: int = 128, lr: float = 1e-3, patience: int = 0,
                 score_batch: int = 16384):
        self.window = window
        self.hidden = hidden
        self.activation = activation
        self.out_activation = out_activation
        self.dropout = dropout
        self.epochs = epochs
        self.batch = batch
        self.lr = lr
        self.patience = patience
        self.score_batch = score_batch

    def _setup(self, X: np.ndarray) -> None:
        w = self.window
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 2:
            raise bench.BenchError(f"{self.name}: window must be an integer >= 2, got {w!r}")
        # dense_ae's checks of hidden / activations / dropout, with one-row samples
        saved, self.window = self.window, 0
        try:
            super()._setup(X)
        finally:
            self.window = saved
        self.tsb_w_ = int(w) if X.shape[1] == 1 else 1
        if self.tsb_w_ > 1 and len(X) < self.tsb_w_ + 1:
            raise bench.BenchError(
                f"{self.name}: {len(X)} training rows are too few for windows of {self.tsb_w_} "
                f"rows; use a smaller window (e.g. {self.name}:window={max(2, len(X) // 4)})")
        self.tsb_mean_ = self.tsb_std_ = None
        M = self._samples(X)
        sd = M.std(axis=0, dtype=np.float64)
        self.tsb_mean_ = M.mean(axis=0, dtype=np.float64)
        self.tsb_std_ = np.where(sd == 0, STD_FLOOR, sd)

    def _samples(self, X: np.ndarray) -> np.ndarray:
        """Min-max scaled samples ``[N, window]`` (univariate) or ``[T, F]`` (rows)."""
        X = np.asarray(X, dtype=np.float64)
        if self.tsb_w_ == 1:
            return _minmax_rows(X)
        if len(X) < self.tsb_w_:
            raise bench.BenchError(f"{self.name}: a series of {len(X)} rows is shorter than one "
                                   f"window of {self.tsb_w_}; use a smaller window")
        return _minmax_rows(np.lib.stride_tricks.sliding_window_view(X[:, 0], self.tsb_w_))

    def _transform(self, X: np.ndarray) -> np.ndarray:
        M = self._samples(X)
        return ((M - self.tsb_mean_) / self.tsb_std_).astype(np.float32)

    def _score_output(self, tot: np.ndarray, n: int) -> np.ndarray:
        """Summed squared errors per window -> Euclidean distance, centred on its window's
        middle row (``n`` windows score ``n + window - 1`` rows)."""
        if np.ndim(tot) != 1:  # per-feature errors (explain, multivariate rows): as they are
            return tot
        d = np.sqrt(np.maximum(np.asarray(tot, dtype=np.float64), 0.0))
        w = self.tsb_w_
        if w == 1:
            return d
        return np.concatenate([np.full(math.ceil((w - 1) / 2), d[0]), d,
                               np.full((w - 1) // 2, d[-1])])

    def explain(self, X: np.ndarray) -> np.ndarray:
        """``[T, F]``: the score itself for a univariate series (a window's error belongs to no
        single row); per-feature squared errors for a multivariate one."""
        if getattr(self, "tsb_w_", 1) > 1:
            return self.score(X)[:, None]
        return super().explain(X)

    def explain_fleet(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        members = getattr(self, "members_", None) or []
        if members and all(getattr(m, "tsb_w_", 1) > 1 for m in members):
            return [s[:, None] for s in self.score_fleet(Xs)]
        return super().explain_fleet(Xs)


class TSBLSTMAD(LSTMForecast):
    """TSB-AD's LSTMAD: one-step LSTM forecaster over the previous ``window`` rows; score = its
    squared error (higher = more anomalous); the first ``window`` rows repeat the first
    prediction's score, as TSB-AD's (they look ahead).

    window 100, hidden 20, lr 8e-4, batch 128, at most 49 epochs, early stopping after 3 epochs
    without improvement (TSB-AD's LSTMAD defaults with ``Optimal_Uni_algo_HP_dict``).  Like-for-
    like with TSB-AD's raw inputs: ``--no-standardize``.

    Validation as TSB-AD's: the rows are cut at ``(1 - val_fraction) * T``; training windows end
    before the cut, validation windows start after it.  When the last rows hold no whole window
    (TSB-AD's ``tr_N = 500`` files: 100 rows for 101-row windows), TSB-AD's validation loss is 0
    every epoch, so it stops after ``1 + patience`` epochs: so does this detector.
    """

    name = "tsb_lstmad"
    noise, loss, stride, stop_on = 0.0, "mse", 1, "split"

    def __init__(self, *, window: int = 100, hidden: int = 20, epochs: int = 49,
                 batch: int = 128, lr: float = 0.0008, patience: int = 3,
                 val_fraction: float = 0.2, score_batch: int = 4096):
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.batch = batch
        self.lr = lr
        self.patience = patience
        self.val_fraction = val_fraction
        self.score_batch = score_batch

    def _validation(self, cfg, data, starts, X_val):
        """(train_starts, val_data, val_starts, stopped_on) by TSB-AD's row cut."""
        if cfg.stop_on != "split" or cfg.patience <= 0:
            return super()._validation(cfg, data, starts, X_val)
        cut = int((1.0 - cfg.val_fraction) * len(data))
        train, val = starts[starts + self.sample_rows <= cut], starts[starts >= cut]
        if len(val) == 0:
            return train, None, None, "none"
        return train, data, val, "split"

    def _prepare(self, X: np.ndarray, X_val: np.ndarray | None) -> dict:
        prep = super()._prepare(X, X_val)
        cfg = prep["cfg"]
        if prep["val_starts"] is None and cfg.stop_on == "split" and cfg.patience > 0:
            # TSB-AD: an empty validation loader scores 0 each epoch -> stops after 1 + patience
            prep["cfg"] = dataclasses.replace(cfg, epochs=min(cfg.epochs, 1 + cfg.patience),
                                              stop_on="none")
            prep["stopped_on"] = "tsb-ad: no validation window (1 + patience epochs)"
        return prep

    def _score_output(self, tot: np.ndarray, n: int) -> np.ndarray:
        out = np.array(tot, dtype=np.float64)
        w = int(self.window)
        if len(out) > w:
            out[:w] = out[w]
        return out


DETECTORS = {"tsb_autoencoder": TSBAutoEncoder, "tsb_lstmad": TSBLSTMAD}


@bench.hookimpl
def bench_register_detectors(register):
    for name, cls in DETECTORS.items():
        register(name, cls, default_run=False, group="classical", looks_ahead=True)
