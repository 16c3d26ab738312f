"""Run a subject through ``bench``'s real runner in a private plugin manager."""

from __future__ import annotations

import importlib
import json
from typing import Any

import numpy as np

from .. import hookimpl, runner
from ..params import Spec, bind, parse_spec
from ..plugins import Manager
from ._core import KIND_DETECTOR, Subject, tiny_dataset

TINY = "bench-testing-tiny"
ZSCORE = "bench-testing-zscore"
CORE_PLUGINS = ("bench.metrics", "bench.costs", "bench.thresholds", "bench.executors")


class _ZScore:
    """Largest absolute z-score over features (the detector dataset checks run)."""

    def fit(self, X, seed=0):
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        return self

    def score(self, X):
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)


def _tiny() -> Any:
    return tiny_dataset(name=TINY)


class _SubjectPlugin:
    """A throwaway plugin registering the subject, and the tiny dataset or the z-score detector
    it is paired with."""

    def __init__(self, subject: Subject):
        self.s = subject

    @hookimpl
    def bench_register_detectors(self, register):
        if self.s.kind == KIND_DETECTOR:
            register(self.s.name, self.s.factory, version=self.s.version)
        else:
            register(ZSCORE, _ZScore)

    @hookimpl
    def bench_register_datasets(self, register):
        if self.s.kind == KIND_DETECTOR:
            register(TINY, _tiny)
        else:
            register(self.s.name, self.s.factory)


def manager_for(subject: Subject) -> Manager:
    """A manager holding only the core plugins and ``subject`` (with its partner)."""
    m = Manager(entry_points=False, defaults=False)
    for mod in CORE_PLUGINS:
        m.register(importlib.import_module(mod), mod.rsplit(".", 1)[-1])
    m.register(_SubjectPlugin(subject), subject.plugin or "subject-under-test")
    return m


def run_in_cell(subject: Subject, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record entry of one real cell: the subject detector on the tiny dataset, or the
    z-score detector on the subject dataset (threshold ``mean_std``, metric ``roc_auc``).
    Cached per subject and parameters."""
    params = dict(subject.params if params is None else params)
    key = json.dumps(params, sort_keys=True, default=str)
    if key not in subject._cache:
        m = manager_for(subject)
        if subject.kind == KIND_DETECTOR:
            ds, det = Spec(TINY), Spec(subject.name, params)
        else:
            ds, det = Spec(subject.name, params), Spec(ZSCORE)
        runner.clear_cache()
        cell = runner.Cell(index=0, dataset=ds, detector=det, seed=0,
                           thresholds=[Spec("mean_std")],
                           costs=[parse_spec("event:c_alarm=1,c_missed=5,tolerance=2")],
                           metrics=["roc_auc"])
        subject._cache[key] = runner.run_cell(cell, m)
    return subject._cache[key]


def variant(subject: Subject) -> dict[str, Any] | None:
    """``subject.params`` with one numeric or boolean parameter changed (preferring one the
    subject does not set), or ``None`` when there is none to change."""
    bound = bind(subject.kind, subject.name, subject.factory, subject.params)
    keys = sorted(bound, key=lambda k: k in subject.params)
    for k in keys:
        v = bound[k]
        if isinstance(v, bool):
            new: Any = not v
        elif isinstance(v, int):
            new = v + 1
        elif isinstance(v, float) and np.isfinite(v):
            new = v * 1.5 if v else 0.5
        else:
            continue
        return {**subject.params, k: new}
    return None
