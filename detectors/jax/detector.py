"""The base class of the JAX detectors, :class:`JaxDetector` (fit / score / explain, one series at
a time or a fleet of series at once), without JAX: the training and scoring programs are imported
when a detector is fitted (:mod:`.train`).  Training, early stopping and the fitted attributes are
described in the docstring of :mod:`bench.detectors.autoencoders` (the built-in subclasses).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

import bench
from bench.windows import window_starts

from .config import MODEL_CONSTRAINTS, ModelConfig, TrainConfig

ALIGNS = ("causal", "centred")
_UNSET = object()


def _jt():
    from . import train

    return train


def _as_2d(X: np.ndarray, who: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or len(X) == 0:
        raise bench.BenchError(f"{who}: expected a non-empty [T, F] array, got shape {X.shape}")
    return X


class JaxDetector:
    """A JAX detector: one Flax NNX model per series, trained with Optax Adam and early stopping
    (:mod:`.train`), fitted one series at a time (``fit`` / ``score`` / ``explain``) or as a
    fleet (``fit_fleet`` / ``score_fleet``: the models of many series stacked in one compiled
    program).  Score: the model's error per row (higher = more anomalous).

    A subclass sets ``name`` and defines:

    * ``__init__(self, *, <its own parameters>, **train)``, storing its parameters as attributes
      and calling ``super().__init__(**train)``: every :class:`TrainConfig` field is then one of
      its typed parameters (defaults: :attr:`train_defaults`, else the field's);
    * :meth:`model_config`: the model's :class:`~bench.detectors.jax.config.ModelConfig`, whose
      ``module`` is the Flax NNX module (it initialises itself);
    * :attr:`sample_rows`: rows per sample (a window); samples are fed as ``[B, rows, F]``.

    Optional hooks: ``_setup(X)`` (resolve data-dependent settings from the training rows),
    ``_transform(X)`` (rows the model sees), ``_n_in`` (model inputs per row and feature).
    """

    name = "jax_detector"
    #: the training fields (a subclass may name a TrainConfig subclass with fields of its own)
    train_config_class: ClassVar[type[TrainConfig]] = TrainConfig
    #: this detector's defaults for training fields, where they differ from TrainConfig's
    train_defaults: ClassVar[dict[str, Any]] = {}
    #: declared capabilities (bench.DetectorTags): ``fit_fleet`` / ``score_fleet``, windows of
    #: its own (the factories take ``window``), ``fit(X, *, X_val, seed)``; semi-supervised as
    #: TSB-AD's AutoEncoder / LSTMAD (its whole deep-learning pool), which it fits on the
    #: series' ``tr_N`` prefix: under ``--protocol tsb-ad`` so is this one (elsewhere the
    #: protocol's fitted rows, as for every detector)
    __bench_tags__: ClassVar[bench.DetectorTags] = bench.DetectorTags(
        fleet=True, windows_itself=True, fit_val=True, fit_seed=True,
        supervision="semi-supervised")

    def __init__(self, **train: Any):
        """Set every training field: ``train``'s value, else this class's default."""
        names = self.train_config_class.defaults()
        unknown = sorted(set(train) - set(names))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected parameter(s) "
                            f"{', '.join(unknown)}")
        for key in names:
            setattr(self, key, train.get(key, self._train_default(key)))

    @classmethod
    def _train_default(cls, key: str) -> Any:
        return cls.train_defaults.get(key, cls.train_config_class.defaults()[key])

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass whose ``__init__`` takes ``**train`` gets a signature (what bench.params
        and ``bench list`` read) with every training field as a typed keyword parameter, and
        their accepted values in ``_parameter_constraints``."""
        super().__init_subclass__(**kwargs)
        init = cls.__init__
        own = inspect.signature(init).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in own.values()):
            cls.__signature__ = None  # its own explicit parameters (inspect reads __init__)
            return
        config, types = cls.train_config_class, cls.train_config_class.types()
        params = [p for n, p in own.items() if n != "self" and p.kind != p.VAR_KEYWORD]
        taken = {p.name for p in params}
        params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY,
                                     default=cls._train_default(k), annotation=types[k])
                   for k in config.defaults() if k not in taken]
        cls.__signature__ = inspect.Signature(params)
        if "__init__" in cls.__dict__:  # typing.get_type_hints(cls.__init__) sees the fields
            init.__annotations__ = {**types, **init.__annotations__}
        # a parent's model constraints (dense_ae's hidden) are kept; this class's training
        # config decides the training fields; this class's own declaration wins
        inherited = getattr(super(cls, cls), "_parameter_constraints", {})
        cls._parameter_constraints = {**MODEL_CONSTRAINTS, **inherited, **config.constraints(),
                                      **cls.__dict__.get("_parameter_constraints", {})}

    #: the values each parameter accepts, checked when the run is planned (bench.params)
    _parameter_constraints: ClassVar[dict] = {**TrainConfig.constraints(), **MODEL_CONSTRAINTS}

    # ------------------------------------------------------------------ public hooks
    def model_config(self) -> ModelConfig:
        """The model's architecture (called after ``_setup``)."""
        raise NotImplementedError(f"{type(self).__name__} must define model_config()")

    @property
    def sample_rows(self) -> int:
        """Rows per sample (1: one row; a window's length)."""
        return 1

    # ------------------------------------------------------------------ subclass hooks
    def _setup(self, X: np.ndarray) -> None:
        """Resolve data-dependent settings (window, PCA) from the training rows."""

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X

    @property
    def _n_in(self) -> int:
        """Model inputs per row and feature of (transformed) data: samples of
        ``sample_rows`` rows are fed whole to the LSTMs (1), flattened to ``sample_rows * F``
        inputs to the dense model (``sample_rows``)."""
        return 1

    def _proj(self) -> np.ndarray | None:
        return None

    @property
    def _causal(self) -> bool:
        """Whether window scores are aligned to the window's last row (``align="causal"``);
        False for one-row samples and for models without ``align`` (the forecaster)."""
        align = getattr(self, "align", None)
        if align is not None and align not in ALIGNS:
            raise bench.BenchError(f"{self.name}: align must be causal or centred, "
                                   f"got {align!r}")
        return align == "causal" and self.sample_rows > 1

    def _mode(self, mode: str) -> str:
        """The compiled program's mode for ``mode`` (``"score"`` / ``"explain"``): one error
        per window when causal (see :meth:`_score_output`)."""
        return f"{mode}_window" if self._causal else mode

    def _score_input(self, data: np.ndarray) -> tuple[np.ndarray, int]:
        """The series to cut stride-1 scoring samples from, and how many."""
        length, n = self.sample_rows, len(data)
        if length == 1:
            return data, n
        # windowed autoencoder: every stride-1 window (a series shorter than one window is
        # padded with copies of its last row)
        series = data if n >= length else np.concatenate(
            [data, np.repeat(data[-1:], length - n, axis=0)])
        return series, len(series) - length + 1

    def _score_output(self, tot: np.ndarray, n: int) -> np.ndarray:
        """Per-sample errors -> one per row.  Causal: ``tot`` holds one mean error per window
        and row ``t`` gets that of the window ending at ``t`` (rows before the first window's
        last row, ``t < length - 1``, get the first window's).  Centred: ``tot`` holds per-row
        sums over the covering windows, averaged here."""
        if self.sample_rows == 1:
            return tot
        if self._causal:
            return tot[np.clip(np.arange(n) - self.sample_rows + 1, 0, len(tot) - 1)]
        counts = _jt().window_counts(len(tot), self.sample_rows)
        return (tot / (counts if tot.ndim == 1 else counts[:, None]))[:n]

    # ------------------------------------------------------------------ configuration
    def train_config(self) -> TrainConfig:
        """The training settings (every field of :attr:`train_config_class`, from this
        detector's attributes), checked: a one-line :class:`bench.BenchError` if bad."""
        config = self.train_config_class
        types, values = config.types(), {}
        for key in config.defaults():
            v = getattr(self, key, _UNSET)
            v = self._train_default(key) if v is _UNSET else v
            if types[key] in (int, float) and isinstance(v, (int, float, np.number, str)):
                try:
                    v = types[key](v)
                except ValueError:
                    pass  # left as it is: check() names it
            values[key] = v
        return config(**values).check(self.name)

    def _task(self, n_features: int):
        cfg = self.train_config()
        return _jt().Task(self.model_config(), n_features * self._n_in, self.sample_rows,
                          cfg.loss, cfg.lr)

    def _clone(self) -> JaxDetector:
        """A fresh, unfitted detector with the same parameters."""
        names = inspect.signature(type(self)).parameters
        return type(self)(**{k: getattr(self, k) for k in names})

    def _starts(self, n_rows: int, stride: int) -> np.ndarray:
        length = self.sample_rows
        if n_rows < length + 1:
            raise bench.BenchError(
                f"{self.name}: {n_rows} training rows are too few for samples of {length} rows; "
                f"use a smaller window (e.g. {self.name}:window={max(2, n_rows // 4)})")
        if length == 1:
            return np.arange(0, n_rows, stride)
        return window_starts(n_rows, length, stride)

    def _validation(self, cfg: TrainConfig, data, starts, X_val):
        """(train_starts, val_data, val_starts, stopped_on)."""
        if cfg.stop_on == "none" or cfg.patience <= 0:
            return starts, None, None, "none"
        if cfg.stop_on == "val" and X_val is not None and len(X_val) > self.sample_rows:
            vd = self._transform(_as_2d(X_val, self.name))
            return starts, vd, self._starts(len(vd), 1), "val"
        n_val = len(starts) - int(len(starts) * (1.0 - cfg.val_fraction))
        if n_val < 1 or n_val >= len(starts):
            return starts, None, None, "none"
        return starts[:-n_val], data, starts[-n_val:], "split"

    def _prepare(self, X: np.ndarray, X_val: np.ndarray | None) -> dict:
        """Check, resolve settings and cut samples: everything ``train`` needs."""
        cfg = self.train_config()
        X = _as_2d(X, self.name)
        self._setup(X)
        self._mode("score")  # checks align
        data = self._transform(X)
        starts = self._starts(len(data), cfg.stride)
        tr, vd, vs, stopped_on = self._validation(cfg, data, starts, X_val)
        return {"cfg": cfg, "task": self._task(data.shape[1]), "data": data, "starts": tr,
                "val_data": vd, "val_starts": vs, "stopped_on": stopped_on,
                "n_features": X.shape[1]}

    def _fitted(self, prep: dict, prog, leaves: list[np.ndarray], hist) -> None:
        jt = _jt()
        self.params_ = leaves
        self._chunk_ = 0  # scoring chunk length, set by the first score / explain
        self.stopped_on_ = prep["stopped_on"]
        self.n_features_ = prep["n_features"]
        self.n_params_ = prog.n_params
        self.epochs_ = len(hist.train_loss)
        self.best_epoch_ = hist.best_epoch
        self.history_ = {"train_loss": hist.train_loss, "val_loss": hist.val_loss}
        self.device_ = jt.device_name()

    def _count(self, before: dict, *, add: bool) -> None:
        """Record the compilations since ``before`` (added to the earlier ones with ``add``)."""
        d = _jt().stats_since(before)
        self.compiles_ = int(d["compiles"]) + (getattr(self, "compiles_", 0) if add else 0)
        self.compile_s_ = float(d["compile_s"]) + (getattr(self, "compile_s_", 0.0)
                                                   if add else 0.0)

    # ------------------------------------------------------------------ one series
    def fit(self, X: np.ndarray, *, X_val: np.ndarray | None = None, seed: int = 0):
        jt = _jt()
        before = jt.stats()
        prep = self._prepare(X, X_val)
        cfg, prog = prep["cfg"], jt.program(prep["task"])
        leaves, hist = jt.train(prog, prep["data"], prep["starts"], val_data=prep["val_data"],
                                val_starts=prep["val_starts"], cfg=cfg, seed=int(seed))
        self._fitted(prep, prog, leaves, hist)
        self._count(before, add=False)
        return self

    def _check_fitted(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise bench.BenchError(f"{self.name}: call fit() before score()")
        X = _as_2d(X, self.name)
        if X.shape[1] != self.n_features_:
            raise bench.BenchError(f"{self.name}: fitted on {self.n_features_} features, "
                                   f"got {X.shape[1]}")
        return X

    def _errors(self, X: np.ndarray, mode: str) -> np.ndarray:
        X = self._check_fitted(X)
        jt = _jt()
        before = jt.stats()
        data = self._transform(X)
        prog = jt.program(self._task(data.shape[1]))
        series, n_samples = self._score_input(data)
        # scores as the per-feature errors reduced on the host (when small enough), and every
        # call in chunks at least as long as the last one's (explaining the test range after
        # scoring the whole series): one compiled errors program per fitted model
        run = "explain" if _explain_scores(self.n_features_, [n_samples]) else mode
        c = jt.fleet_chunk(int(self.score_batch), [n_samples], getattr(self, "_chunk_", 0))
        self._chunk_ = c
        tot = jt.errors(prog, self.params_, series, n_samples, chunk=int(self.score_batch),
                        mode=self._mode(run), proj=self._proj(), c=c)
        if run != mode:  # the score mode's reduction: sum (mse) or mean (mae)
            tot = tot.sum(-1) if self.loss == "mse" else tot.mean(-1)
        self._count(before, add=True)
        return self._score_output(tot, len(data))

    def score(self, X: np.ndarray) -> np.ndarray:
        """One error per row ``[T]``, float64, higher = more anomalous."""
        return self._errors(X, "score")

    def explain(self, X: np.ndarray) -> np.ndarray:
        """Per-feature errors ``[T, F]``: squared (``loss="mse"``; they sum to the score) or
        absolute (``loss="mae"``; their mean is the score)."""
        return self._errors(X, "explain")

    # ------------------------------------------------------------------ fleets
    def fit_fleet(self, Xs: list[np.ndarray], *, X_vals: list[np.ndarray | None] | None = None,
                  seeds: list[int] | None = None):
        """Fit one model per series, all at once: ``members_[i]`` ends as
        ``fit(Xs[i], X_val=X_vals[i], seed=seeds[i])`` of a fresh copy would leave it (to float
        rounding).  Series whose models share a configuration (feature count, window) train
        in one compiled program.  Returns self."""
        jt = _jt()
        n = len(Xs)
        X_vals = [None] * n if X_vals is None else list(X_vals)
        seeds = [0] * n if seeds is None else [int(s) for s in seeds]
        if len(X_vals) != n or len(seeds) != n:
            raise bench.BenchError(f"{self.name}: fit_fleet got {n} series, {len(X_vals)} "
                                   f"validation arrays and {len(seeds)} seeds; pass one each")
        before = jt.stats()
        members = [self._clone() for _ in range(n)]
        preps = []
        for i, (m, X, Xv) in enumerate(zip(members, Xs, X_vals, strict=True)):
            try:
                preps.append(m._prepare(X, Xv))
            except bench.BenchError as exc:
                raise bench.BenchError(f"series {i} of the fleet: {exc}") from None
        # members train together when their program and their training settings agree (a
        # member's _prepare may adapt its settings to its series, e.g. tsb_lstmad's epochs)
        for (task, cfg), idx in _groups([(p["task"], p["cfg"]) for p in preps]).items():
            prog = jt.program(task)
            fitted = jt.train_fleet(
                prog, [preps[i]["data"] for i in idx], [preps[i]["starts"] for i in idx],
                val_datas=[preps[i]["val_data"] for i in idx],
                val_starts=[preps[i]["val_starts"] for i in idx], cfg=cfg,
                seeds=[seeds[i] for i in idx])
            for i, (leaves, hist) in zip(idx, fitted, strict=True):
                members[i]._fitted(preps[i], prog, leaves, hist)
                members[i].compiles_, members[i].compile_s_ = 0, 0.0
        self.members_ = members
        self._chunks_ = {}  # scoring chunk length per task, reused (see _fleet_errors)
        self.device_ = jt.device_name()
        self._count(before, add=False)
        return self

    def score_fleet(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        """``[members_[i].score(Xs[i]) for i]`` (to float rounding), scored together: chunks of
        several series' samples in one compiled call."""
        return self._fleet_errors(Xs, "score")

    def explain_fleet(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        """``[members_[i].explain(Xs[i]) for i]``, computed together."""
        return self._fleet_errors(Xs, "explain")

    def _fleet_errors(self, Xs: list[np.ndarray], mode: str) -> list[np.ndarray]:
        members = getattr(self, "members_", None)
        if members is None:
            raise bench.BenchError(f"{self.name}: call fit_fleet() before score_fleet()")
        if len(Xs) != len(members):
            raise bench.BenchError(f"{self.name}: fitted a fleet of {len(members)} series, "
                                   f"got {len(Xs)} to score")
        jt = _jt()
        before = jt.stats()
        if hasattr(self, "align"):  # a scoring setting: the fleet's applies to its members
            for m in members:
                m.align = self.align
        datas = [m._transform(m._check_fitted(X)) for m, X in zip(members, Xs, strict=True)]
        inputs = [m._score_input(d) for m, d in zip(members, datas, strict=True)]
        out: list[np.ndarray] = [np.empty(0)] * len(members)
        for task, idx in _groups([m._task(d.shape[1]) for m, d in zip(members, datas,
                                                                       strict=True)]).items():
            projs = [members[i]._proj() for i in idx]
            # few features: scores are the per-feature errors reduced on the host, so a cell
            # that also explains compiles one scoring program, not two
            n_samples = [inputs[i][1] for i in idx]
            few = _explain_scores(members[idx[0]].n_features_, n_samples)
            run = "explain" if few else mode
            # chunks as long as the last call's on this group (explaining the test ranges after
            # scoring whole series): the same compiled program
            c = jt.fleet_chunk(int(self.score_batch), n_samples, self._chunks_.get(task, 0))
            self._chunks_[task] = c
            tots = jt.errors_fleet(jt.program(task), [members[i].params_ for i in idx],
                                   [inputs[i][0] for i in idx], n_samples,
                                   chunk=int(self.score_batch),
                                   mode=members[idx[0]]._mode(run),
                                   projs=None if projs[0] is None else projs, c=c)
            for i, tot in zip(idx, tots, strict=True):
                if run != mode:  # the score mode's reduction: sum (mse) or mean (mae)
                    tot = tot.sum(-1) if members[i].loss == "mse" else tot.mean(-1)
                out[i] = members[i]._score_output(tot, len(datas[i]))
        self._count(before, add=True)
        return out


#: Scoring series with at most this many features (and at most :data:`EXPLAIN_VALUES`
#: per-feature errors in all) runs the per-feature (explain) program and reduces on the host:
#: the same scores to float rounding, and a cell that also explains (every runner cell does)
#: compiles one errors program, not two (a compilation costs 0.3-2 s on a CPU; the host
#: reduction of HPC's 6667 x 159 errors about 5 ms).
FEATURE_SCORES = 256
EXPLAIN_VALUES = 1 << 24


def _explain_scores(n_features: int, n_samples: list[int]) -> bool:
    """Whether scores are computed as explanations reduced on the host (see above)."""
    return n_features <= FEATURE_SCORES and n_features * sum(n_samples) <= EXPLAIN_VALUES


def _groups(tasks: list) -> dict:
    """Indices of equal tasks, in first-seen order: ``{task: [i, ...]}``."""
    out: dict = {}
    for i, t in enumerate(tasks):
        out.setdefault(t, []).append(i)
    return out


#: the name this base class had before it was public
_Neural = JaxDetector
