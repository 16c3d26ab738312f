"""Conformance checks for a detector factory: one rule each.

Every check takes a :class:`~bench.testing.Subject` (or a bare factory) and raises
:class:`~bench.testing.ConformanceError` naming the plugin, the rule and the fix.
"""

from __future__ import annotations

import inspect
import json
import pickle
from typing import Any

import numpy as np

from ..errors import BenchError
from ..metrics import roc_auc
from ..params import bind, jsonable
from ..tags import detector_tags, disagreements
from ._core import Subject, as_subject, plant, signal
from ._run import run_in_cell, variant


def _subject(x: Any) -> Subject:
    s = as_subject(x, "detector")
    if s.kind != "detector":
        raise TypeError(f"{s} is not a detector")
    return s


def _data(s: Subject, n: int | None = None, seed: int = 0) -> np.ndarray:
    return signal(n or s.opt("n_train"), s.opt("n_features"), seed)


def _fit(s: Subject, X: np.ndarray, seed: int = 0) -> Any:
    """Build a fresh detector and fit it the way the runner does (``X_val``/``seed`` only when
    its tags say ``fit`` takes them, :func:`bench.tags.detector_tags`); return the fitted
    detector."""
    det = s.build()
    kwargs = detector_tags(det).fit_kwargs(X_val=X[-max(1, len(X) // 4):], seed=seed)
    out = det.fit(X, **kwargs)
    return det if out is None else out


def _scores(s: Subject, det: Any, X: np.ndarray, rule: str) -> np.ndarray:
    raw = det.score(X)
    try:
        arr = np.asarray(raw)
    except Exception as exc:  # pragma: no cover - exotic return types
        raise s.fail(rule, f"score() returned {type(raw).__name__}: {exc}",
                     "return a numpy float array of shape [T]") from None
    return arr


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# ----------------------------------------------------------------------------- the checks


def check_parameters(subject: Any) -> None:
    """Parameters are keyword arguments with defaults that survive a text and JSON round trip."""
    s, rule = as_subject(subject), "parameters are keywords with defaults, text and JSON-safe"
    try:
        bound = bind(s.kind, s.name, s.factory, s.params)
    except BenchError as exc:
        raise s.fail(rule, str(exc), "give every keyword parameter a default") from None
    except (TypeError, ValueError) as exc:
        raise s.fail(rule, f"its signature cannot be read: {_error(exc)}",
                     "register a class or function with keyword parameters") from None
    js = jsonable(bound)
    if json.loads(json.dumps(js)) != js or any(
            isinstance(v, str) and not isinstance(bound[k], str) for k, v in js.items()):
        raise s.fail(rule, f"resolved parameters {bound!r} are not plain JSON values",
                     "use numbers, strings, booleans, None or tuples of them")
    for key, value in bound.items():
        if isinstance(value, bool | int | float | str) and not (
                isinstance(value, float) and not np.isfinite(value)):
            try:
                back = bind(s.kind, s.name, s.factory, {key: str(value)})[key]
            except BenchError as exc:
                raise s.fail(rule, f"'{key}={value}' typed on the command line fails: {exc}",
                             f"annotate '{key}' with its type") from None
            if back != value or type(back) is not type(value):
                raise s.fail(rule, f"'{key}={value}' typed on the command line becomes "
                             f"{back!r} ({type(back).__name__})", f"annotate '{key}'")
    if s.kind != "detector":
        return  # building a dataset loads it: the dataset checks do that
    try:
        s.factory(**bound)
    except Exception as exc:
        raise s.fail(rule, f"constructing it with {bound} raised {_error(exc)}",
                     "__init__ should only store parameters") from None


def check_fit_returns_self(subject: Any) -> None:
    """``fit()`` returns the detector itself."""
    s = _subject(subject)
    det = s.build()
    out = det.fit(_data(s), **({"seed": 0} if "seed" in inspect.signature(det.fit).parameters
                               else {}))
    if out is not det:
        raise s.fail("fit returns self", f"fit() returned {type(out).__name__}",
                     "end fit() with `return self`")


def check_score_before_fit_raises(subject: Any) -> None:
    """``score()`` before ``fit()`` raises an error whose message says to call ``fit()``."""
    s, rule = _subject(subject), "score before fit raises a clear error"
    det = s.build()
    try:
        det.score(_data(s, 20))
    except Exception as exc:
        if "fit" not in str(exc).lower():
            raise s.fail(rule, f"it raised {_error(exc)}, which does not mention fit()",
                         f"raise bench.BenchError(\"{s.name}: call fit() before score()\")"
                         ) from None
        return
    raise s.fail(rule, "score() on an unfitted detector returned without error",
                 f"raise bench.BenchError(\"{s.name}: call fit() before score()\")")


def check_score_shape(subject: Any) -> None:
    """``score(X)`` returns one finite float per row: shape ``[T]`` for any ``T``."""
    s, rule = _subject(subject), "scores have shape [T], float, finite"
    det = _fit(s, _data(s))
    for n in (s.opt("n_test"), s.opt("n_test") + 7):
        out = _scores(s, det, _data(s, n, seed=1), rule)
        if out.shape != (n,):
            raise s.fail(rule, f"score() of {n} rows returned shape {out.shape}",
                         f"return one score per row, shape ({n},)")
        if not np.issubdtype(out.dtype, np.floating):
            raise s.fail(rule, f"score() returned dtype {out.dtype}", "return float scores")
        if not np.isfinite(out).all():
            raise s.fail(rule, f"{int((~np.isfinite(out)).sum())} of {n} scores are NaN or "
                         "infinite", "return finite scores")


def check_deterministic(subject: Any) -> None:
    """The same data and seed give the same scores."""
    s, rule = _subject(subject), "the same seed gives the same scores"
    X, Xt = _data(s), _data(s, s.opt("n_test"), seed=1)
    a = np.asarray(_fit(s, X, seed=3).score(Xt), dtype=np.float64)
    b = np.asarray(_fit(s, X, seed=3).score(Xt), dtype=np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-6):
        diff = np.max(np.abs(a - b)) if a.shape == b.shape else "shape"
        raise s.fail(rule, f"two fits with seed=3 differ (max difference {diff})",
                     "seed every random choice from fit()'s seed argument")


def check_feature_mismatch_raises(subject: Any) -> None:
    """Scoring rows with another feature count than ``fit`` saw raises an error."""
    s, rule = _subject(subject), "a feature-count mismatch raises"
    f = s.opt("n_features")
    det = _fit(s, _data(s))
    try:
        out = det.score(signal(s.opt("n_test"), f + 2, seed=1))
    except Exception:
        return
    raise s.fail(rule, f"fitted on {f} features, score() of {f + 2} features returned "
                 f"{type(out).__name__} {getattr(out, 'shape', '')} silently",
                 "check X.shape[1] in score() and raise bench.BenchError")


def _handled(s: Subject, rule: str, X: np.ndarray, Xt: np.ndarray, what: str) -> None:
    """Fit on ``X`` and score ``Xt``: finite scores of the right shape, or a BenchError."""
    try:
        out = np.asarray(_fit(s, X).score(Xt), dtype=np.float64)
    except BenchError:
        return
    except Exception as exc:
        raise s.fail(rule, f"{what}: raised {_error(exc)}",
                     "handle it, or raise bench.BenchError saying what the detector needs"
                     ) from None
    if out.shape != (len(Xt),) or not np.isfinite(out).all():
        raise s.fail(rule, f"{what}: returned shape {out.shape} with "
                     f"{int((~np.isfinite(out)).sum())} non-finite scores",
                     "return finite scores (guard divisions by a zero spread)")


def check_constant_series(subject: Any) -> None:
    """A constant training series (zero spread) gives finite scores or a clear BenchError."""
    s = _subject(subject)
    f = s.opt("n_features")
    X = np.zeros((s.opt("n_train"), f), dtype=np.float32)
    _handled(s, "constant series are handled", X, np.zeros((20, f), np.float32) + 0.5,
             "fit on a constant series")


def check_short_series(subject: Any) -> None:
    """A very short series (a few rows) gives finite scores or a clear BenchError."""
    s = _subject(subject)
    n = s.opt("short")
    _handled(s, "very short series are handled", _data(s, n), _data(s, 3, seed=1),
             f"fit on {n} rows, score 3 rows")


def check_does_not_modify_input(subject: Any) -> None:
    """``fit`` and ``score`` leave their input arrays unchanged."""
    s, rule = _subject(subject), "fit and score do not modify their input"
    X, Xt = _data(s), _data(s, s.opt("n_test"), seed=1)
    X0, Xt0 = X.copy(), Xt.copy()
    _fit(s, X).score(Xt)
    for arr, ref, what in ((X, X0, "fit"), (Xt, Xt0, "score")):
        if not np.array_equal(arr, ref):
            raise s.fail(rule, f"{what}() changed the array it was given",
                         "work on a copy (np.array(X, copy=True))")


def check_picklable(subject: Any) -> None:
    """The factory, an unfitted and a fitted detector pickle; the copy scores the same."""
    s, rule = _subject(subject), "the detector is picklable"
    X, Xt = _data(s), _data(s, s.opt("n_test"), seed=1)
    for what, obj in (("the factory", s.factory), ("an unfitted detector", s.build())):
        try:
            pickle.loads(pickle.dumps(obj))
        except Exception as exc:
            raise s.fail(rule, f"{what} does not pickle: {_error(exc)}",
                         "define it at module level; keep no open handles or lambdas") from None
    det = _fit(s, X)
    try:
        copy = pickle.loads(pickle.dumps(det))
    except Exception as exc:
        raise s.fail(rule, f"a fitted detector does not pickle: {_error(exc)}",
                     "store fitted state as arrays (define __getstate__ if needed)") from None
    a, b = np.asarray(det.score(Xt), np.float64), np.asarray(copy.score(Xt), np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-6):
        raise s.fail(rule, "the unpickled copy scores differently",
                     "pickle every fitted attribute")


def check_better_than_chance(subject: Any) -> None:
    """On a sanity series with planted offsets of 6 standard deviations, ROC-AUC >= ``min_auc``."""
    s, rule = _subject(subject), "better than chance on planted anomalies"
    n, f = s.opt("n_test"), s.opt("n_features")
    starts = [n // 6, n // 2, (5 * n) // 6 - 5]
    Xt, labels = plant(signal(n, f, seed=7), starts, width=5)
    auc = roc_auc(labels, np.asarray(_fit(s, _data(s)).score(Xt), dtype=np.float64))
    if not auc >= s.opt("min_auc"):
        raise s.fail(rule, f"ROC-AUC {auc:.3f} < {s.opt('min_auc')} on obvious anomalies",
                     "check the score direction: higher must mean more anomalous")


def check_explain(subject: Any) -> None:
    """``explain(X)``, when defined, returns finite ``[T, F]`` contributions."""
    s, rule = _subject(subject), "explain returns [T, F]"
    det = _fit(s, _data(s))
    if not callable(getattr(det, "explain", None)):
        return
    n, f = s.opt("n_test"), s.opt("n_features")
    out = np.asarray(det.explain(_data(s, n, seed=1)))
    if out.shape != (n, f) or not np.isfinite(out.astype(np.float64)).all():
        raise s.fail(rule, f"explain() of [{n}, {f}] returned shape {out.shape}",
                     "return one finite contribution per row and feature")


def check_protocol(subject: Any) -> None:
    """The detector satisfies :class:`bench.contract.Detector`, and what it declares is typed as
    the contract says: after ``fit``, ``device_`` a str and ``compiles_`` an int >= 0 when set;
    a factory with the ``fleet`` tag has ``fit_fleet`` and ``score_fleet``."""
    from .. import contract

    s, rule = _subject(subject), "follows bench.contract.Detector"
    missing = contract.conforms(s.build(), contract.Detector)
    if missing:
        raise s.fail(rule, f"the detector lacks {', '.join(missing)}",
                     "define fit(X, *, X_val=None, seed=0) -> self and score(X) -> [T]")
    det = _fit(s, _data(s))
    device = getattr(det, "device_", "cpu")
    if not isinstance(device, str):
        raise s.fail(rule, f"device_ is {type(device).__name__} {device!r}",
                     "set device_ to a string such as 'cpu' or 'cuda:0'")
    compiles = getattr(det, "compiles_", 0)
    if isinstance(compiles, bool) or not isinstance(compiles, (int, np.integer)) or compiles < 0:
        raise s.fail(rule, f"compiles_ is {compiles!r}",
                     "set compiles_ to the number of programs compiled (an int >= 0)")
    if detector_tags(s.factory).fleet:
        lacking = [m for m in ("fit_fleet", "score_fleet") if not callable(getattr(s.factory, m,
                                                                                    None))]
        if lacking:
            raise s.fail(rule, f"declares the fleet capability but lacks {', '.join(lacking)}",
                         "define fit_fleet and score_fleet or declare fleet=False in "
                         "__bench_tags__")


def check_tags_match_signatures(subject: Any) -> None:
    """A detector declaring its capabilities (``__bench_tags__ = bench.DetectorTags(...)``)
    declares what its signatures say: ``fit_val`` / ``fit_seed`` / ``fit_segments`` /
    ``fit_series`` exactly when ``fit`` takes ``X_val`` / ``seed`` / ``segments`` / ``series``
    (a ``**kwargs`` fit takes each), ``windows_itself`` exactly when its factory takes
    ``window``, ``fleet`` only with ``fit_fleet`` and ``score_fleet``.  A detector declaring
    nothing has its tags inferred from those signatures and passes."""
    s, rule = _subject(subject), "declared tags match the signatures"
    problems = disagreements(s.factory, s.build())
    if problems:
        raise s.fail(rule, "; ".join(problems),
                     "declare in __bench_tags__ = bench.DetectorTags(...) what fit() and the "
                     "factory take, or change the signatures")


def check_fleet_matches_series(subject: Any) -> None:
    """A detector declaring the ``fleet`` capability: ``fit_fleet`` + ``score_fleet`` on three
    series of different lengths give each series the scores ``fit`` + ``score`` of a fresh
    detector give it (same seed, relative tolerance 1e-3), and ``members_`` holds one fitted
    detector per series."""
    from ..fleet import can_fleet

    s, rule = _subject(subject), "fleet results equal per-series results"
    if not detector_tags(s.factory).fleet:
        return
    if not can_fleet(s.factory):
        raise s.fail(rule, "it declares the fleet capability without fit_fleet and score_fleet",
                     "define both methods, or drop \"fleet\" from __bench_tags__")
    n = s.opt("n_train")
    trains = [_data(s, n - 37 * i, seed=10 + i) for i in range(3)]
    vals = [x[-max(1, len(x) // 4):] for x in trains]
    tests = [_data(s, s.opt("n_test") + 11 * i, seed=20 + i) for i in range(3)]
    seeds = [5, 6, 5]
    fleet = s.build()
    fleet = fleet.fit_fleet(trains, X_vals=vals, seeds=seeds) or fleet
    got = fleet.score_fleet(tests)
    members = getattr(fleet, "members_", None)
    if members is None or len(members) != 3:
        raise s.fail(rule, "after fit_fleet on 3 series, members_ is not 3 fitted detectors",
                     "set members_ to one fitted detector per series")
    for i, (X, Xv, Xt, seed) in enumerate(zip(trains, vals, tests, seeds, strict=True)):
        det = s.build()
        det = det.fit(X, X_val=Xv, seed=seed) or det
        want = np.asarray(det.score(Xt), np.float64)
        have = np.asarray(got[i], np.float64)
        tol = 1e-3 * max(float(np.abs(want).max()), 1e-6)
        if have.shape != want.shape or not np.allclose(have, want, rtol=1e-3, atol=tol):
            diff = np.abs(have - want).max() if have.shape == want.shape else "shape"
            raise s.fail(rule, f"series {i}: score_fleet differs from fit + score of a fresh "
                         f"detector with seed {seed} (max difference {diff})",
                         "give every series its own model, data, seed and early stopping")


def check_runs_in_a_cell(subject: Any) -> None:
    """``bench``'s runner runs it end to end on a tiny dataset with status ``ok``."""
    s = _subject(subject)
    cell = run_in_cell(s)
    if cell["status"] != "ok":
        raise s.fail("runs in a cell", f"the cell failed: {cell.get('error', '?')}",
                     "run the cell's traceback (bench --traceback run -m NAME) and fix it")


def check_params_in_cell_key(subject: Any) -> None:
    """The resolved parameters (defaults included) are in the cell key; other values give
    another key."""
    s, rule = _subject(subject), "parameters round-trip into the cell key"
    cell = run_in_cell(s)
    if "key_parts" not in cell:
        raise s.fail(rule, f"the cell failed before its key: {cell.get('error', '?')}")
    bound = jsonable(bind(s.kind, s.name, s.factory, s.params))
    name, _, params = cell["key_parts"]["detector"]
    if name != s.name or params != bound:
        raise s.fail(rule, f"key has {name} {params}, expected {s.name} {bound}",
                     "keep parameters as keyword arguments of the factory")
    alt = variant(s)
    if alt is not None:
        other = run_in_cell(s, alt)
        if other["key"] == cell["key"]:
            raise s.fail(rule, f"parameters {alt} give the same key as {s.params}",
                         "keep parameters as keyword arguments of the factory")


DETECTOR_CHECKS = [
    check_parameters,
    check_fit_returns_self,
    check_score_before_fit_raises,
    check_score_shape,
    check_deterministic,
    check_feature_mismatch_raises,
    check_constant_series,
    check_short_series,
    check_does_not_modify_input,
    check_picklable,
    check_better_than_chance,
    check_explain,
    check_protocol,
    check_tags_match_signatures,
    check_fleet_matches_series,
    check_runs_in_a_cell,
    check_params_in_cell_key,
]
