"""The JAX detectors' package: Flax NNX models, compiled training and scoring programs, fleets.

The public base for a JAX detector of your own (see ``docs/plugins.md``, "Writing a JAX
detector", and ``examples/bench-jax-plugin-example``):

* :class:`JaxDetector`: subclass it; ``__init__(self, *, <yours>, **train)`` calls
  ``super().__init__(**train)``, :meth:`~JaxDetector.model_config` returns the model's config,
  :attr:`~JaxDetector.sample_rows` the rows per sample.  fit / score / explain and fleets
  (``fit_fleet`` / ``score_fleet``) come with it.
* :class:`ModelConfig`: a frozen dataclass of the model's hyper-parameters whose ``module`` is
  a Flax NNX module ``module(n_in, **fields, rngs=rngs)`` with ``diff(x, key)``.
* :class:`TrainConfig` / :func:`train_field`: the training fields (each a detector parameter).
* :mod:`bench.detectors.jax.init`: Keras-default initialisers drawn on the host (cheap on a
  first run); any Flax initialiser works too.

Importing this package does not import JAX: the base class and the configuration are JAX-free;
the modules that import JAX (:mod:`.init`, :mod:`.dense`, :mod:`.lstm`, :mod:`.lstm_ae`,
:mod:`.forecast`, :mod:`.program`, :mod:`.train`) are loaded when a detector is fitted.
"""

from .config import ModelConfig, TrainConfig, train_field
from .detector import JaxDetector

__all__ = ["JaxDetector", "ModelConfig", "TrainConfig", "train_field"]
