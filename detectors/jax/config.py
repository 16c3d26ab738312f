"""Configuration of the JAX detectors, importable without JAX: the training fields (one
declaration each: type, default, accepted values, meaning), the model config base class, and the
shape ``bucket`` helper (shared with KDE).

Adding a training field is one edit: a field of :class:`TrainConfig` declared with
:func:`train_field`.  Every JAX detector whose constructor takes ``**train`` (the three built-in
ones, and any subclass of :class:`bench.detectors.jax.JaxDetector`) then accepts it as a typed
parameter (``-m dense_ae:NAME=VALUE``, shown by ``bench list detectors dense_ae``), checks it at
planning (``_parameter_constraints``) and passes it to the training code in the
:class:`TrainConfig` that :func:`bench.detectors.jax.train.train` receives.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, Literal

import bench
from bench.params import Interval, Options, check_constraints


def bucket(n: int, lo: int = 1) -> int:
    """Smallest ``2**k`` or ``3 * 2**(k-1)`` that is ``>= max(n, lo, 1)``: padding a size up to
    its bucket bounds the number of distinct compiled shapes (at most two per octave) and wastes
    at most a third of the padded size."""
    n = max(int(n), int(lo), 1)
    p = 1 << (n - 1).bit_length()
    return 3 * p // 4 if 3 * p // 4 >= n and p >= 4 else p


# ----------------------------------------------------------------------------- training


def train_field(default: Any, *allowed: Any, doc: str = "") -> Any:
    """A :class:`TrainConfig` field: its ``default``, the values it accepts (``allowed``:
    :class:`bench.params.Interval` / :class:`~bench.params.Options` / values, as in
    ``_parameter_constraints``) and a one-line ``doc``."""
    return field(default=default, metadata={"allowed": list(allowed), "doc": doc})


@dataclass(frozen=True)
class TrainConfig:
    """How a JAX detector trains and scores (every field is a detector parameter)."""

    epochs: int = train_field(30, Interval(int, 1, None),
                              doc="at most this many passes over the training samples")
    batch: int = train_field(64, Interval(int, 1, None), doc="samples per Adam step")
    lr: float = train_field(1e-3, Interval(float, 0, None, closed="neither"),
                            doc="Adam's learning rate")
    patience: int = train_field(
        3, Interval(int, 0, None),
        doc="early stopping after this many epochs without a better validation loss (0 = "
            "never stop early); the best weights are restored")
    val_fraction: float = train_field(
        0.1, Interval(float, 0, 1, closed="left"),
        doc="with stop_on=split, the last fraction of the training samples (in time order) is "
            "the validation set and is not trained on")
    stop_on: Literal["split", "val", "none"] = train_field(
        "split", Options("split", "val", "none"),
        doc="split, val (the runner's unlabelled validation range) or none")
    loss: Literal["mse", "mae"] = train_field(
        "mse", Options("mse", "mae"),
        doc="mse (score = sum of squared errors over features) or mae (mean absolute error); "
            "the training loss is the per-sample mean of the same")
    stride: int = train_field(1, Interval(int, 1, None),
                              doc="rows between the starts of consecutive training samples")
    score_batch: int = train_field(
        16384, Interval(int, 1, None),
        doc="samples per scoring chunk (bounds memory; a fleet puts this many samples, of "
            "several models, in one chunk)")

    @classmethod
    def train_fields(cls) -> list[Field]:
        """The training fields, in declaration order."""
        return list(fields(cls))

    @classmethod
    def types(cls) -> dict[str, Any]:
        """``{field: its type}`` (resolved: ``int``, ``Literal[...]``...)."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in fields(cls)}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    @classmethod
    def constraints(cls) -> dict[str, list[Any]]:
        """``{field: accepted values}`` in the ``_parameter_constraints`` form."""
        return {f.name: list(f.metadata.get("allowed", ())) for f in fields(cls)
                if f.metadata.get("allowed")}

    @classmethod
    def describe(cls) -> str:
        """One ``name: doc`` line per field (for detector docstrings)."""
        return "\n".join(f"{f.name}: {f.metadata.get('doc', '')}" for f in fields(cls))

    def check(self, who: str) -> TrainConfig:
        """Raise a one-line :class:`bench.BenchError` naming the first bad field; return self."""
        check_constraints("detector", who, _Declared(type(self).constraints()),
                          {f.name: getattr(self, f.name) for f in fields(self)})
        return self


class _Declared:
    """A stand-in factory carrying ``_parameter_constraints`` (for ``check_constraints``)."""

    def __init__(self, constraints: dict[str, list[Any]]):
        self._parameter_constraints = constraints


#: the accepted values of the built-in detectors' model parameters (besides the training fields)
MODEL_CONSTRAINTS = {
    "dropout": [Interval(float, 0, 1, closed="left")], "l1": [Interval(float, 0, None)],
    "pca": [Interval(int, 0, None)], "window": [Interval(int, 1, None), "auto"]}


def __getattr__(name: str) -> Any:
    if name == "TRAIN_CONSTRAINTS":  # the name this held before the fields carried their own
        return {**TrainConfig.constraints(), **MODEL_CONSTRAINTS}
    raise AttributeError(name)


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelConfig:
    """A model's architecture (frozen, hashable: it keys the compiled programs).

    Its fields are the keyword arguments of the Flax NNX module ``module`` after ``n_in``:
    ``module(n_in, **fields, rngs=rngs)`` builds it, and the module initialises itself (see
    :mod:`bench.detectors.jax.init`).  The module has ``diff(x, key) -> (diff, penalty)``: for
    samples ``x [B, L, F]``, its output minus the target ``[B, P, F]`` (``P`` positions scored
    per sample) and a per-sample penalty ``[B]`` added to the training loss; ``key`` is a PRNG
    key in training (dropout, noise), None when scoring.

    ``kind`` names the model (in compile counts); ``reconstructs``: the model reconstructs its
    whole sample (each position is scored), rather than predicting one row; ``stack_on_cpu``:
    on a CPU a fleet's models train stacked in one program (``jax.vmap``), else one after
    another in the fleet's shared shapes (on accelerators they are always stacked).
    """

    kind: ClassVar[str] = ""
    module: ClassVar[type | None] = None
    reconstructs: ClassVar[bool] = True
    stack_on_cpu: ClassVar[bool] = True

    def floats_per_row(self, n_in: int, length: int) -> float:
        """Activations (float32 values) one sample row keeps for the backward pass: sizes a
        fleet to its memory budget.  Default: a generous guess; override it for a better one."""
        return 64.0 + 16.0 * n_in


def build(model: ModelConfig, n_in: int, rngs: Any):
    """``model``'s NNX module for ``n_in`` inputs per row (see :class:`ModelConfig`)."""
    if model.module is None:
        raise bench.BenchError(f"{type(model).__name__}: a ModelConfig needs `module`, the Flax "
                               f"NNX module class it configures")
    kw = {f.name: getattr(model, f.name) for f in fields(model)}
    return model.module(n_in, **kw, rngs=rngs)
