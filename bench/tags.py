"""A detector's declared capabilities, read once (scikit-learn's estimator tags are the model).

The harness needs to know a few things about a detector before it fits one: whether it windows
its input itself, which keywords its ``fit`` takes, whether it can train many series together.
A detector says so with a class attribute::

    class MyAE:
        __bench_tags__ = bench.DetectorTags(windows_itself=True, fit_val=True, fit_seed=True)

and the harness reads it with :func:`detector_tags`, nowhere else.  A detector written before
tags existed (no attribute, or the old ``{"fleet": True}`` dict) still works: its tags are then
inferred once, here, from its signatures (``fit(X, *, X_val=None, seed=0)``, a factory taking
``window``, the class attributes ``default_window`` and ``supervision``), so no plugin breaks on
an upgrade.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import BenchError

__all__ = ["DetectorTags", "detector_tags", "disagreements", "SUPERVISION"]

class TagsError(BenchError, ValueError):
    """A declared tag with a value it cannot take (one line naming the tag and the fix)."""


#: the values of :attr:`DetectorTags.supervision`
SUPERVISION = ("unsupervised", "semi-supervised")


@dataclass(frozen=True)
class DetectorTags:
    """What a detector can do; every field defaults to the plain ``fit(X)`` / ``score(X)`` case.

    fleet:          trains the models of many series together (``fit_fleet`` / ``score_fleet``,
                    see :mod:`bench.hookspecs`).
    windows_itself: windows its input itself (its factory takes ``window``), so the harness never
                    wraps it in windows of its own.
    default_window: rows per causal harness window on a univariate series when the run sets no
                    ``--window`` (1: rows as they are).
    fit_val:        ``fit`` takes ``X_val=`` (the unlabelled validation rows, e.g. for early
                    stopping).
    fit_seed:       ``fit`` takes ``seed=``.
    fit_segments:   ``fit`` takes ``segments=[(start, stop), ...]``: the contiguous runs of its
                    rows that its windows must not cross.
    fit_series:     ``fit`` takes ``series=NAME`` (the series' name; e.g. a detector that replays
                    stored scores).
    supervision:    ``"unsupervised"`` (fitted on whatever rows the protocol fits, anomalies
                    included) or ``"semi-supervised"`` (meant to be fitted on anomaly-free rows:
                    under ``tsb-ad`` it gets the series' ``tr_N`` training prefix only, as
                    TSB-AD fits its semi-supervised pool; see :mod:`bench.protocols`).
    """

    fleet: bool = False
    windows_itself: bool = False
    default_window: int = 1
    fit_val: bool = False
    fit_seed: bool = False
    fit_segments: bool = False
    fit_series: bool = False
    supervision: str = "unsupervised"

    def __post_init__(self) -> None:
        if self.supervision not in SUPERVISION:
            raise TagsError(f"DetectorTags.supervision must be one of {', '.join(SUPERVISION)}, "
                            f"got {self.supervision!r}")
        if not isinstance(self.default_window, int) or self.default_window < 1:
            raise TagsError(f"DetectorTags.default_window must be an int >= 1 (1 = rows as they "
                            f"are), got {self.default_window!r}")

    @property
    def semi_supervised(self) -> bool:
        """True for ``supervision="semi-supervised"``."""
        return self.supervision == "semi-supervised"

    def fit_kwargs(self, *, X_val: Any, seed: int) -> dict[str, Any]:
        """The optional keywords of ``fit`` this detector takes, with their values."""
        out: dict[str, Any] = {}
        if self.fit_val:
            out["X_val"] = X_val
        if self.fit_seed:
            out["seed"] = seed
        return out


def detector_tags(factory: Any) -> DetectorTags:
    """The tags of a detector factory (class or function) or of a built detector: its
    ``__bench_tags__`` when that is a :class:`DetectorTags`; otherwise inferred from its
    signatures (detectors written before tags existed), with an old-style ``__bench_tags__``
    dict's keys applied on top."""
    declared = getattr(factory, "__bench_tags__", None)
    if isinstance(declared, DetectorTags):
        return declared
    tags = _inferred(factory)
    if isinstance(declared, dict):
        known = {f.name for f in fields(DetectorTags)}
        tags = replace(tags, **{k: v for k, v in declared.items() if k in known})
    return tags


def _parameters(fn: Any) -> dict[str, inspect.Parameter] | None:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def _inferred(factory: Any) -> DetectorTags:
    """Tags read off the signatures, for a detector that declares none."""
    init = _parameters(factory) or {}
    fit = _parameters(getattr(factory, "fit", None)) or {}
    # a factory function shows its detector's fit only once built: read the built detector's
    # tags (``detector_tags(instance)``) for the fit keywords
    var_kw = any(p.kind == p.VAR_KEYWORD for p in fit.values())
    fit_val = "X_val" in fit or var_kw
    fit_seed = "seed" in fit or var_kw
    default = getattr(factory, "default_window", 1)
    # the ``supervision = "semi-supervised"`` class attribute of detectors written before tags
    supervision = str(getattr(factory, "supervision", "") or "unsupervised").lower()
    return DetectorTags(
        windows_itself="window" in init,
        default_window=int(default) if isinstance(default, int) and default >= 1 else 1,
        fit_val=fit_val,
        fit_seed=fit_seed,
        fit_segments="segments" in fit,
        fit_series="series" in fit,
        supervision=supervision if supervision in SUPERVISION else "unsupervised",
    )


#: tag -> the ``fit`` keyword it declares
FIT_KEYWORDS = {"fit_val": "X_val", "fit_seed": "seed", "fit_segments": "segments",
                "fit_series": "series"}


def disagreements(factory: Any, detector: Any = None) -> list[str]:
    """Where a factory's declared :class:`DetectorTags` contradict its signatures (one phrase
    each; [] when they agree or nothing is declared): a ``fit_*`` tag exactly when ``fit`` takes
    its keyword (a ``**kwargs`` fit takes every one), ``windows_itself`` exactly when the
    factory takes ``window``, ``fleet`` only with ``fit_fleet`` and ``score_fleet``.
    ``detector``: a built detector, whose ``fit`` is read (a factory function shows none)."""
    declared = getattr(factory, "__bench_tags__", None)
    if not isinstance(declared, DetectorTags):
        return []
    out: list[str] = []
    fit = _parameters(getattr(factory if detector is None else detector, "fit", None))
    if fit is not None:
        var_kw = any(p.kind == p.VAR_KEYWORD for p in fit.values())
        for tag, kw in FIT_KEYWORDS.items():
            if getattr(declared, tag) and not (kw in fit or var_kw):
                out.append(f"{tag}=True but fit() takes no {kw}")
            elif not getattr(declared, tag) and kw in fit:
                out.append(f"fit() takes {kw} but {tag}=False (bench never passes it)")
    init = _parameters(factory)
    if init is not None and declared.windows_itself != ("window" in init):
        out.append("windows_itself=True but the factory takes no window" if declared.windows_itself
                   else "the factory takes window but windows_itself=False (bench would window "
                        "its input a second time)")
    lacking = [m for m in ("fit_fleet", "score_fleet") if not callable(getattr(factory, m, None))]
    if declared.fleet and lacking:
        out.append(f"fleet=True but it lacks {' and '.join(lacking)}")
    return out
