"""The plugin contract: every hook a `bench` plugin may implement.

This file is the plugin author's manual.  A plugin is a module with functions named after these
hooks and decorated with ``@bench.hookimpl``; it is found through the ``bench`` entry-point
group::

    [project.entry-points.bench]
    my_plugin = "my_pkg.plugin"

An implementation may accept fewer arguments than the spec (pluggy passes only the ones it names),
so a plugin written today keeps working when a hook gains an argument.  Hooks are never removed.

Registration hooks receive a ``register`` callback.  Names are unique across all plugins: a second
plugin registering a taken name is rejected with a message naming both plugins, and its other
registrations still count.

Conventions for every number a plugin returns:

* scores: ``float`` array ``[T]``, one per row, **higher = more anomalous**, finite.
* values given to detectors: ``float32`` array ``[T, F]``, standardised per series with the mean
  and standard deviation of the training rows (unless the run says otherwise).
* labels: ``int8`` array ``[T]``, 1 = anomalous step.  Detectors never see labels.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("bench")


# --------------------------------------------------------------------------- registration


@hookspec
def bench_register_datasets(register):
    """Register dataset factories.

    ``register(name, factory, **meta)``:

    * ``name``: the registry name users type (``bench run -d NAME:key=value``).
    * ``factory``: a callable taking keyword parameters only (each with a default, annotated so the
      CLI can convert ``key=value`` text) and returning a :class:`bench.Dataset`.
    * ``meta`` (optional): ``description=`` (shown by ``bench list datasets``; defaults to the
      factory's docstring), ``default_run=True`` to include it in a bare ``bench run`` (only for
      data that ships with the plugin), or a dict of parameters to use in that run.

    Missing data must raise :class:`bench.BenchError` naming the path and how to get the data.

    Example::

        @bench.hookimpl
        def bench_register_datasets(register):
            register("my-data", my_data)

        def my_data(*, n: int = 1000) -> bench.Dataset:
            values = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
            labels = np.zeros(n, dtype="int8"); labels[900:910] = 1
            s = bench.Series(values, labels, name="s0",
                             split=bench.Split(train_end=500, val_end=750))
            return bench.Dataset("my-data", [s], description="...", license="CC0")
    """


@hookspec
def bench_register_detectors(register):
    """Register detector factories.

    ``register(name, factory, **meta)``: ``factory(**params)`` builds an unfitted detector;
    its keyword parameters (with defaults and type annotations) are the detector's parameters,
    hashed into the cell key and printed in tables.  ``meta``: ``description=``,
    ``version=`` (defaults to the plugin package's version), ``default_run=False`` to leave it out
    of a bare ``bench run``.

    A detector has:

    * ``fit(X, *, X_val=None, seed=0) -> self``: ``X`` float32 ``[T, F]``: the training rows (by
      default only the normal ones); ``X_val``: the validation rows, unlabelled, e.g. for early
      stopping; ``seed``: an int to seed every random choice.  Both keywords are optional in the
      signature: ``bench`` passes only those ``fit`` accepts.
    * ``score(X) -> float array [T]``: higher = more anomalous; one finite value per row.
    * optionally ``explain(X) -> float array [T, F]``: per-feature contributions to the score.

    Example::

        class ZScore:
            def __init__(self, *, k: float = 3.0):
                self.k = k
            def fit(self, X, *, X_val=None, seed=0):
                self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
                return self
            def score(self, X):
                return np.abs((X - self.mu_) / self.sd_).max(axis=1)

        @bench.hookimpl
        def bench_register_detectors(register):
            register("zscore", ZScore)
    """


@hookspec
def bench_register_metrics(register):
    """Register evaluation metrics.

    ``register(name, fn, **meta)`` where ``fn(labels, x, **params) -> float``.  ``labels`` is the
    int8 ``[T]`` ground truth of the test range; ``x`` is either the alarms (0/1 ``[T]``) or the
    scores (float ``[T]``).  Declare which, and the direction, as attributes of ``fn`` (the
    :func:`bench.metrics.metric` decorator sets them) or as ``meta``:

    * ``higher_is_better``: bool (required).
    * ``input``: ``"pred"`` (alarms after thresholding) or ``"scores"`` (threshold-free).
    * ``default``: computed in every run when no ``--metric`` is given.
    * ``inflating``: the metric is known to overstate quality (point-adjusted F1); tables mark it.

    Example::

        @bench.metrics.metric(higher_is_better=True, input="pred")
        def hit_rate(labels, pred):
            "Fraction of anomalous steps alarmed (recall). Higher is better."
            return float(pred[labels == 1].mean())

        @bench.hookimpl
        def bench_register_metrics(register):
            register("hit_rate", hit_rate)
    """


@hookspec
def bench_register_cost_models(register):
    """Register cost models.

    ``register(name, factory, **meta)``: ``factory(**params)`` returns an object with
    ``__call__(labels, pred) -> float`` (a cost: **lower is better**, in the model's own unit, e.g.
    "cost units" for ``c_alarm * false_alarms + c_missed * missed``), and optionally
    ``sweep(labels, scores, thresholds) -> float array`` (the cost of ``scores >= t`` for each
    threshold, used by the ``min_cost`` threshold; a loop over ``__call__`` is used otherwise).
    Costs are reported on the train, validation and test ranges, summed over a dataset's series.
    """


@hookspec
def bench_register_thresholds(register):
    """Register threshold strategies.

    ``register(name, factory, **meta)``: ``factory(**params)`` returns an object with

    * ``uses``: which data chooses the threshold, recorded in the protocol ledger
      (``"train scores"``, ``"validation labels"``, ...).
    * ``needs_test_labels``: ``True`` only for an oracle; its results are flagged ORACLE and kept
      out of the main leaderboard.
    * ``select(ctx) -> float``: ``ctx`` is a :class:`bench.thresholds.ThresholdContext` with
      ``train_scores``, ``val_scores``, ``val_labels``, ``cost`` (the run's first cost model) and,
      for an oracle only, ``test_scores`` / ``test_labels``.  Alarms are ``scores >= threshold``.
    """


@hookspec
def bench_register_executors(register):
    """Register executors that run cells (``bench run --executor NAME``).

    ``register(name, factory, **meta)``: ``factory(**options)`` returns an object with
    ``map(fn, cells)`` yielding ``fn(cell)`` results in any order as they finish, and ``close()``.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec
def bench_run_started(run):
    """Called once before the first cell.  ``run`` is a dict: ``run_id``, ``cells`` (count),
    ``datasets``, ``detectors``, ``out`` (record path).  Return value ignored."""


@hookspec
def bench_cell_finished(cell):
    """Called after each cell, in the parent process, whatever its status.  ``cell`` is the cell's
    record entry (a JSON-ready dict: ``dataset``, ``detector``, ``params``, ``status``,
    ``evaluations`` with metrics and costs, ``fit_s``, ``score_s`` seconds, ``peak_mem_mb``).
    Use it to log to an experiment tracker.  Return value ignored; an exception is reported and
    does not stop the run."""


@hookspec
def bench_run_finished(record, path):
    """Called once after the last cell with the whole run record (a dict) and the path of its
    JSON file.  Return value ignored."""
