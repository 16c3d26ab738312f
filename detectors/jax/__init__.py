"""The JAX detectors' package (Flax NNX models, compiled training and scoring programs, fleets).

Importing this package does not import JAX: the detector base class (:mod:`.detector`) and the
configuration (:mod:`.config`) are JAX-free, and the modules that import JAX (:mod:`.dense`,
:mod:`.lstm`, :mod:`.lstm_ae`, :mod:`.forecast`, :mod:`.program`, :mod:`.train`) are loaded when a
detector is fitted.
"""
