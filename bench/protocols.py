"""Named evaluation protocols: published procedures as data plus a few small functions.

A protocol (:class:`Profile`) says, for one series:

- which rows a detector is **fitted** on (:meth:`Profile.fit_mask`);
- which rows are **scored and evaluated** (``ranges(s)["test"]``) and whose labels **choose a
  threshold** (``ranges(s)["val"]``; ``None`` = the procedure has no validation range, so a
  thresholded metric's threshold is chosen on the evaluated rows' own labels and labelled ORACLE);
- the per-series parameters of a metric the run did not set itself (:meth:`Profile.params_for`,
  e.g. TSB-AD's VUS window = the series' period);
- optional corpus-level values of a cell (``dataset_metrics``, e.g. NAB's normalised score).

Cells record the protocol's *name* (``Protocol.name`` in :mod:`bench.cell`); the profile is looked
up here.  Built in: ``unsupervised``, ``semi-supervised`` (bench's chronological split) and
``tsb-ad`` (TSB-AD's procedure).  ``nab`` comes from :mod:`bench.nab_protocol` when that module is
present (its module-level ``PROFILE``); a third party calls :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BenchError

#: metrics whose ``window`` TSB-AD sets per series to the series' period
PERIOD_WINDOW_METRICS = ("vus_pr", "vus_roc")
#: modules that define a protocol as a module-level ``PROFILE``, imported on first lookup
LAZY_MODULES = ("bench.nab_protocol",)


def split_ranges(s: Any) -> dict[str, slice | None]:
    """bench's chronological split of the series: fit on train, threshold on validation,
    evaluate the test range."""
    return dict(s.split.ranges(len(s)))


def _whole_series(s: Any) -> dict[str, slice | None]:
    """TSB-AD: the ``tr_N`` prefix is the training range (for semi-supervised detectors), there
    is no validation range, and every row is evaluated."""
    return {"train": s.split.ranges(len(s))["train"], "val": None, "test": slice(0, len(s))}


def _fit_every_row(s: Any, semi: bool) -> np.ndarray:
    """TSB-AD: an unsupervised detector is fitted on every row of the series, a semi-supervised
    one on its ``tr_N`` training prefix (anomaly-free by construction: ``1st_M`` > N)."""
    mask = np.zeros(len(s), dtype=bool)
    mask[s.split.ranges(len(s))["train"] if semi else slice(None)] = True
    return mask


def series_period(s: Any) -> int:
    """The series' dominant period in rows (:func:`bench.period.dominant_period`, TSB-AD's
    ``find_length_rank``), of its first feature for a multivariate series as TSB-AD does; read
    from ``s.meta["period"]`` when the loader stored it."""
    from .period import dominant_period

    meta = s.meta if isinstance(s.meta, dict) else {}
    if isinstance(meta.get("period"), int) and meta["period"] > 0:
        return int(meta["period"])
    return int(dominant_period(s.values[:, 0]))


def _period_window(s: Any, metric: str) -> dict[str, Any]:
    return {"window": series_period(s)} if metric in PERIOD_WINDOW_METRICS else {}


@dataclass(frozen=True)
class Profile:
    """One named protocol.

    name:           what ``--protocol``, ``bench.Evaluation.protocol`` and the record say.
    description:    one paragraph for ``bench list protocols``.
    ranges:         ``series -> {"train", "val", "test"}`` row slices: ``train`` the rows fitted
                    (unless ``fit_rows`` says otherwise), ``val`` the rows whose labels choose a
                    threshold (``None``: no validation range, thresholds are ORACLE), ``test``
                    the rows evaluated.
    fit_rows:       ``(series, semi) -> bool mask [T]`` of the rows fitted, ``semi`` = the
                    detector's tags declare ``supervision="semi-supervised"``; default: every row of
                    ``ranges(s)["train"]``, only its normal ones when ``uses_labels``.
    uses_labels:    the fitted rows are chosen with the labels (semi-supervised).
    metric_params:  ``(series, metric) -> dict`` of keyword arguments for a metric the run did
                    not parametrise (``vus_pr`` rather than ``vus_pr:window=50``).
    dataset_metrics: ``(dataset, scores by series, cell) -> {name: float}``: corpus-level values
                    of the cell, stored in each of its evaluations as ``dataset_metrics``.
    dataset_metrics_note: how those values choose anything (e.g. a threshold on the labels).
    threshold_note: how a thresholded metric's threshold is chosen under this protocol.
    fit_note:       what the fit sees that a deployed detector would not ("" = nothing).
    version:        bump when a change alters what the protocol fits, evaluates or
                    parametrises (the ranges, fitted rows, metric parameters, corpus values):
                    it is part of every cell's keys, so stored scores are not reused across it
                    and ``bench compare`` reports ``protocol version 1 -> 2`` (not comparable)
                    instead of a regression.
    """

    name: str
    description: str
    ranges: Callable[[Any], dict[str, slice | None]] = split_ranges
    fit_rows: Callable[[Any, bool], np.ndarray] | None = None
    uses_labels: bool = False
    metric_params: Callable[[Any, str], dict[str, Any]] | None = None
    dataset_metrics: Callable[..., dict[str, float]] | None = None
    dataset_metrics_note: str = ""
    threshold_note: str = "chosen with the validation range's labels"
    fit_note: str = ""
    version: int = 1

    @property
    def oracle_thresholds(self) -> bool:
        """True when no validation range exists, so thresholds come from the evaluated labels."""
        return self.threshold_note.startswith("ORACLE")

    def rows(self, s: Any) -> dict[str, slice | None]:
        """The series' ``train`` / ``val`` / ``test`` slices under this protocol."""
        return self.ranges(s)

    def fit_mask(self, s: Any, semi: bool = False) -> np.ndarray:
        """Bool mask ``[T]`` of the rows a detector is fitted on; ``semi``: it declares itself
        semi-supervised."""
        if self.fit_rows is not None:
            return np.asarray(self.fit_rows(s, semi), dtype=bool)
        mask = np.zeros(len(s), dtype=bool)
        mask[self.ranges(s)["train"]] = True
        if self.uses_labels:
            mask &= s.labels == 0
        return mask

    def params_for(self, s: Any, metric: str) -> dict[str, Any]:
        """Per-series keyword arguments for ``metric`` (a bare registered name; a metric the run
        bound itself, ``NAME:k=v``, keeps its own)."""
        if self.metric_params is None or ":" in metric:
            return {}
        return dict(self.metric_params(s, metric))


UNSUPERVISED = Profile(
    "unsupervised",
    "bench's chronological split: every row of the training range is fitted (labels unused), "
    "thresholds are chosen with the validation range's labels, the test range is evaluated.")
SEMI_SUPERVISED = Profile(
    "semi-supervised",
    "bench's chronological split: only the normal rows of the training range are fitted (the "
    "labels drop the anomalous ones; windows never cross a dropped row), thresholds are chosen "
    "with the validation range's labels, the test range is evaluated.",
    uses_labels=True)
TSB_AD = Profile(
    "tsb-ad",
    "TSB-AD's procedure (Liu & Paparrizos, NeurIPS 2024): an unsupervised detector is fitted on "
    "every row of the series (a detector declaring supervision='semi-supervised' on its tr_N "
    "training prefix), every row is scored and evaluated, and the headline VUS-PR (VUS-ROC the "
    "same) uses a per-series window equal to the series' dominant period (autocorrelation, "
    "TSB-AD's find_length_rank). No validation range: a thresholded metric's threshold is "
    "chosen with the evaluated rows' labels and reported as ORACLE, as TSB-AD's own F1 columns "
    "are best-F1 over thresholds.",
    ranges=_whole_series, fit_rows=_fit_every_row, metric_params=_period_window,
    threshold_note="ORACLE: chosen with the labels of the rows it evaluates (tsb-ad has no "
                   "validation range)",
    fit_note="detectors are fitted on the rows they score (TSB-AD's procedure)")

_REGISTRY: dict[str, Profile] = {}
_lazy_done = False


def register(profile: Profile) -> None:
    """Add a protocol; a second profile of a registered name is an error."""
    if not isinstance(profile, Profile):
        raise BenchError(f"protocol: register() needs a bench.protocols.Profile, got "
                         f"{type(profile).__name__}")
    old = _REGISTRY.get(profile.name)
    if old is not None and old is not profile:
        raise BenchError(f"protocol {profile.name!r} is already registered; pick another name")
    _REGISTRY[profile.name] = profile


for _p in (UNSUPERVISED, SEMI_SUPERVISED, TSB_AD):
    register(_p)


def _load_lazy() -> None:
    """Import the modules of :data:`LAZY_MODULES` once and register their ``PROFILE``; a module
    that is not there is skipped, one that fails to import is a one-line error naming it."""
    global _lazy_done
    if _lazy_done:
        return
    _lazy_done = True  # set first: a module importing this one must not recurse
    for mod in LAZY_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise BenchError(f"protocol module {mod} failed to import: {exc}") from exc
        profile = getattr(module, "PROFILE", None)
        if isinstance(profile, Profile) and profile.name not in _REGISTRY:
            register(profile)


def names() -> tuple[str, ...]:
    """Every registered protocol name, built-in ones first."""
    _load_lazy()
    return tuple(_REGISTRY)


def all_profiles() -> list[Profile]:
    """Every registered protocol (for ``bench list protocols``)."""
    _load_lazy()
    return list(_REGISTRY.values())


def get(name: str) -> Profile:
    """The protocol ``name`` (``""`` = ``unsupervised``); an unknown name is a one-line error
    listing the registered ones."""
    name = name or "unsupervised"
    if name not in _REGISTRY:
        _load_lazy()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BenchError(f"protocol {name!r} unknown; use one of {', '.join(names())} "
                         f"(bench list protocols)") from None


def is_semi_supervised(factory: Any) -> bool:
    """Whether a detector's tags declare ``supervision="semi-supervised"``
    (:class:`bench.DetectorTags`): under ``tsb-ad`` it is fitted on the series' training prefix
    only."""
    from .tags import detector_tags

    return detector_tags(factory).semi_supervised
