"""Conformance suite for ``bench`` plugins: run it on your detectors and datasets.

In a plugin's test suite::

    from bench.testing import parametrize_with_checks
    from my_pkg.plugin import MyDetector, my_data

    @parametrize_with_checks([MyDetector, my_data])
    def test_bench_conformance(subject, check):
        check(subject)

or, outside pytest, ``check_detector(MyDetector)`` / ``check_dataset(my_data)``, which raise one
:class:`ConformanceError` listing every broken rule.  Each ``check_*`` function checks one rule
and names the plugin, the rule and the fix when it fails.  The pytest fixtures
(``bench_manager``, ``register_plugin``, ``tiny_series``) live in
:mod:`bench.testing.pytest_plugin`, loaded through the ``pytest11`` entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._core import (
    ConformanceError,
    DataUnavailable,
    Subject,
    as_subject,
    dataset,
    detector,
    plant,
    signal,
    tiny_dataset,
    tiny_series,
)
from ._install import install_for_subprocess
from .dataset_checks import (
    DATASET_CHECKS,
    check_dataset_runs_in_a_cell,
    check_evaluation_declared_once,
    check_fingerprint_stable,
    check_labels_align,
    check_metadata,
    check_returns_dataset,
    check_splits,
    check_timestamps,
    check_values_finite,
)
from .detector_checks import (
    DETECTOR_CHECKS,
    check_better_than_chance,
    check_constant_series,
    check_deterministic,
    check_does_not_modify_input,
    check_explain,
    check_feature_mismatch_raises,
    check_fit_returns_self,
    check_parameters,
    check_params_in_cell_key,
    check_picklable,
    check_runs_in_a_cell,
    check_score_before_fit_raises,
    check_score_shape,
    check_short_series,
    check_tags_match_signatures,
)

Check = Callable[[Any], None]

__all__ = [
    "DATASET_CHECKS", "DETECTOR_CHECKS", "ConformanceError", "DataUnavailable", "Subject",
    "as_subject",
    "check_better_than_chance", "check_constant_series", "check_dataset",
    "check_dataset_runs_in_a_cell", "check_detector", "check_deterministic",
    "check_does_not_modify_input", "check_evaluation_declared_once", "check_explain",
    "check_feature_mismatch_raises",
    "check_fingerprint_stable", "check_fit_returns_self", "check_labels_align", "check_metadata",
    "check_parameters", "check_params_in_cell_key", "check_picklable", "check_returns_dataset",
    "check_runs_in_a_cell", "check_score_before_fit_raises", "check_score_shape",
    "check_short_series", "check_splits", "check_tags_match_signatures", "check_timestamps",
    "check_values_finite", "checks",
    "dataset", "detector", "install_for_subprocess", "parametrize_with_checks", "plant",
    "registered", "signal", "tiny_dataset", "tiny_series",
]


def checks(subject: Any) -> list[Check]:
    """The checks that apply to ``subject`` (a detector's or a dataset's)."""
    s = as_subject(subject)
    return list(DETECTOR_CHECKS if s.kind == "detector" else DATASET_CHECKS)


def _run_all(subject: Subject, skip: Iterable[str]) -> list[str]:
    skip = set(skip)
    failures, passed = [], []
    for check in checks(subject):
        if check.__name__ in skip:
            continue
        try:
            check(subject)
        except ConformanceError as exc:
            failures.append(str(exc))
        except DataUnavailable:
            continue
        except Exception as exc:  # the plugin raised where the rule did not expect it
            failures.append(f"{subject}: {check.__name__} raised {type(exc).__name__}: {exc}")
        else:
            passed.append(check.__name__)
    if failures:
        head = f"{subject} breaks {len(failures)} rule(s) of the bench plugin contract:"
        raise ConformanceError("\n".join([head, *(f"  - {f}" for f in failures)]),
                               failures=failures)
    return passed


def check_detector(factory: Any, *, skip: Iterable[str] = (), **kwargs: Any) -> list[str]:
    """Run every detector check on ``factory``; raise one :class:`ConformanceError` listing
    every broken rule, else return the names of the checks that passed.  ``kwargs`` go to
    :func:`detector` (``name=``, ``params=``, ``plugin=``, size options); ``skip``: check names."""
    s = factory if isinstance(factory, Subject) else detector(factory, **kwargs)
    return _run_all(s, skip)


def check_dataset(factory: Any, *, skip: Iterable[str] = (), **kwargs: Any) -> list[str]:
    """Run every dataset check on ``factory`` (see :func:`check_detector`)."""
    s = factory if isinstance(factory, Subject) else dataset(factory, **kwargs)
    return _run_all(s, skip)


def registered(manager: Any = None, *, kinds: Iterable[str] = ("detector", "dataset"),
               plugins: Iterable[str] | None = None,
               params: Mapping[str, Mapping[str, Any]] | None = None,
               options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Subject]:
    """Subjects for every detector and dataset registered in ``manager`` (default: the
    process-wide one), optionally only those of ``plugins``.  ``params`` / ``options`` map a
    registry name to its construction parameters / check sizes."""
    from ..plugins import get_manager

    manager = manager or get_manager()
    params, options, wanted = params or {}, options or {}, set(plugins or ())
    out = []
    for kind in kinds:
        for e in manager.registry(kind):
            if wanted and e.plugin not in wanted:
                continue
            out.append(Subject(kind, e.name, e.factory, dict(params.get(e.name, {})), e.plugin,
                               e.version, dict(options.get(e.name, {})), meta=dict(e.meta)))
    return out


def parametrize_with_checks(items: Iterable[Any], *,
                            expected_failures: Mapping[str, str] | None = None,
                            strict: bool = True) -> Any:
    """A ``pytest.mark.parametrize("subject, check", ...)`` decorator: one test per subject and
    check, with ids ``NAME-check_name``.

    items:  factories, :class:`Subject` s (:func:`detector`, :func:`dataset`, :func:`registered`),
            or registry entries.
    expected_failures: ``{"check_name" or "NAME-check_name" or "NAME": reason}``; those tests are
            marked ``xfail`` (``strict``: a mark that no longer fails fails the test, so fixed
            checks lose their mark).
    """
    import pytest

    expected = dict(expected_failures or {})
    params, seen = [], set()
    for item in items:
        s = as_subject(item)
        for check in checks(s):
            tid = f"{s.name}-{check.__name__}"
            if tid in seen:
                continue
            seen.add(tid)
            reason = expected.get(tid) or expected.get(s.name) or expected.get(check.__name__)
            marks = [pytest.mark.xfail(reason=reason, strict=strict,
                                       raises=ConformanceError)] if reason else []
            params.append(pytest.param(s, check, id=tid, marks=marks))
    return pytest.mark.parametrize("subject, check", params)
