"""Early stopping, one rule for a single model and for every model of a fleet (no JAX).

A model whose validation loss is watched stops after ``patience`` epochs in a row without a
loss lower than its best; its best epoch's weights are the ones kept (the caller copies them
when :meth:`EarlyStopping.update` says the model improved).  A model not watched (no
validation samples, ``patience=0`` or ``stop_on="none"``) runs every epoch and keeps its last
weights.
"""

from __future__ import annotations

import numpy as np


class EarlyStopping:
    """Early-stopping state of ``n_models`` models; ``watched[i]``: model ``i`` has a validation
    loss to stop on.  Attributes: ``active`` (still training), ``best_epoch`` (0-based, -1
    before the first epoch), ``val_loss`` (each watched model's validation losses per epoch)."""

    def __init__(self, n_models: int, patience: int, watched: list[bool] | None = None):
        self.patience = int(patience)
        self.watched = np.array([True] * n_models if watched is None else watched, bool)
        self.active = np.ones(n_models, bool)
        self.best = np.full(n_models, np.inf)
        self.wait = np.zeros(n_models, int)
        self.best_epoch = np.full(n_models, -1)
        self.val_loss: list[list[float]] = [[] for _ in range(n_models)]

    @property
    def running(self) -> bool:
        """Whether any model still trains."""
        return bool(self.active.any())

    def update(self, epoch: int, val_loss=None) -> np.ndarray:
        """Record ``epoch``'s validation losses (``[n_models]``; read only for watched models
        that were active in it) and return which models improved (a boolean mask; a model not
        watched counts as improved every epoch it ran: its latest weights are its best).
        A watched model without a better loss for ``patience`` epochs stops (``active``)."""
        improved = np.zeros(len(self.active), bool)
        losses = None if val_loss is None else np.asarray(val_loss, np.float64).reshape(-1)
        for j in np.flatnonzero(self.active):
            if not self.watched[j]:
                self.best_epoch[j], improved[j] = epoch, True
                continue
            v = float(losses[j])
            self.val_loss[j].append(v)
            if v < self.best[j]:
                self.best[j], self.best_epoch[j], self.wait[j], improved[j] = v, epoch, 0, True
            else:
                self.wait[j] += 1
                if self.wait[j] >= self.patience:
                    self.active[j] = False
        return improved
