"""bench.testing itself: every check fails on a detector or dataset that breaks its rule (with a
message naming the plugin, the rule and the fix), parametrize_with_checks and its xfail marks,
and the pytest fixtures."""

from __future__ import annotations

import numpy as np
import pytest

import bench
import bench.testing as bt
from bench.testing import ConformanceError

pytest_plugins = ["bench.testing.pytest_plugin", "pytester"]


class Good:
    """A conforming detector: robust enough for every check."""

    def __init__(self, *, k: float = 3.0, flag: bool = False):
        self.k = k
        self.flag = flag

    def fit(self, X, *, X_val=None, seed=0):
        X = np.asarray(X)
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        return self

    def score(self, X):
        if not hasattr(self, "mu_"):
            raise bench.BenchError("good: call fit() before score()")
        X = np.asarray(X)
        if X.shape[1] != len(self.mu_):
            raise bench.BenchError("good: wrong feature count")
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)


class NoSelf(Good):
    def fit(self, X, *, X_val=None, seed=0):
        super().fit(X)


class Unclear(Good):
    def score(self, X):
        return np.abs((X - self.mu_) / self.sd_).max(axis=1)


class BadShape(Good):
    def score(self, X):
        return super().score(X)[:, None].repeat(2, axis=1)


class NaNs(Good):
    def score(self, X):
        s = super().score(X)
        s[0] = np.nan
        return s


class Random(Good):
    def fit(self, X, *, X_val=None, seed=0):
        self.noise_ = np.random.default_rng().normal()
        return super().fit(X)

    def score(self, X):
        return super().score(X) + self.noise_


class Lenient(Good):
    def score(self, X):
        return np.abs((X[:, :len(self.mu_)] - self.mu_) / self.sd_).max(axis=1)


class DividesByZero(Good):
    def fit(self, X, *, X_val=None, seed=0):
        super().fit(X)
        self.sd_ = np.asarray(X).std(0)
        return self

    def score(self, X):
        with np.errstate(all="ignore"):
            return np.abs((X - self.mu_) / self.sd_).max(axis=1)


class NeedsRows(Good):
    def fit(self, X, *, X_val=None, seed=0):
        self.cov_ = np.linalg.cholesky(np.cov(X.T)[:, :] + np.eye(X.shape[1]) * 0)
        if len(X) < 50:
            raise IndexError("index 49 is out of bounds")
        return super().fit(X)


class Mutating(Good):
    def fit(self, X, *, X_val=None, seed=0):
        X -= X.mean(0)
        return super().fit(X)


class Unpicklable(Good):
    def fit(self, X, *, X_val=None, seed=0):
        self.fn_ = lambda x: x
        return super().fit(X)


class Inverted(Good):
    def score(self, X):
        return -super().score(X)


class BadExplain(Good):
    def explain(self, X):
        return np.zeros(len(X))


class NoDefault(Good):
    def __init__(self, *, k: float):
        self.k = k


class IntDefault(Good):
    def __init__(self, *, k: float = 3):  # typed k=3 gives 3.0: another cell key than the default
        self.k = k


class BrokenInCell(Good):
    def fit(self, X, *, X_val=None, seed=0):
        if X_val is not None and len(X_val) > 0 and len(X) == 100:  # only inside a real cell
            raise RuntimeError("cannot fit")
        return super().fit(X)


DETECTOR_CASES = [
    ("check_fit_returns_self", NoSelf, "return self"),
    ("check_score_before_fit_raises", Unclear, "does not mention fit()"),
    ("check_score_shape", BadShape, "returned shape"),
    ("check_score_shape", NaNs, "NaN or infinite"),
    ("check_deterministic", Random, "differ"),
    ("check_feature_mismatch_raises", Lenient, "silently"),
    ("check_constant_series", DividesByZero, "non-finite"),
    ("check_short_series", NeedsRows, "IndexError"),
    ("check_does_not_modify_input", Mutating, "fit() changed the array"),
    ("check_picklable", Unpicklable, "does not pickle"),
    ("check_better_than_chance", Inverted, "score direction"),
    ("check_explain", BadExplain, "explain()"),
    ("check_parameters", NoDefault, "needs parameter"),
    ("check_runs_in_a_cell", BrokenInCell, "cannot fit"),
]


@pytest.mark.parametrize("check_name, factory, text", DETECTOR_CASES,
                         ids=[f"{c}-{f.__name__}" for c, f, _ in DETECTOR_CASES])
def test_each_detector_check_catches_its_rule(check_name, factory, text):
    check = getattr(bt, check_name)
    subject = bt.detector(factory, name="sloppy", plugin="sloppy-pkg")
    with pytest.raises(ConformanceError) as exc:
        check(subject)
    msg = str(exc.value)
    assert msg.startswith("detector 'sloppy' (plugin 'sloppy-pkg'): rule '"), msg
    assert text in msg and exc.value.rule
    bt.detector(Good, name="good")  # and the conforming one passes the same check:
    check(bt.detector(Good, name="good"))


def test_parameter_whose_text_form_changes_type_is_flagged():
    with pytest.raises(ConformanceError, match=r"'k=3' typed on the command line becomes 3.0"):
        bt.check_parameters(bt.detector(IntDefault))


def test_params_round_trip_into_the_cell_key():
    s = bt.detector(Good, name="good", params={"k": 2.0})
    bt.check_params_in_cell_key(s)
    cell = bt._run.run_in_cell(s)
    assert cell["key_parts"]["detector"][2] == {"k": 2.0, "flag": False}
    other = bt._run.run_in_cell(s, bt._run.variant(s))
    assert other["key"] != cell["key"] and other["params"] != cell["params"]


def test_check_detector_lists_every_broken_rule():
    with pytest.raises(ConformanceError) as exc:
        bt.check_detector(Mutating, name="mut", plugin="p")
    assert "breaks 1 rule(s)" in str(exc.value) and len(exc.value.failures) == 1
    assert bt.check_detector(Good) == [c.__name__ for c in bt.DETECTOR_CHECKS]
    assert "check_picklable" not in bt.check_detector(Good, skip=["check_picklable"])


# ----------------------------------------------------------------------------- datasets


def good_data(*, n: int = 400, seed: int = 0) -> bench.Dataset:
    return bt.tiny_dataset(n=n, name="good-data")


def _with(**changes):
    def factory(*, n: int = 400) -> bench.Dataset:
        ds = bt.tiny_dataset(n=n, name="good-data")
        for k, v in changes.items():
            setattr(ds, k, v)
        return ds

    return factory


def _series(values=None, labels=None, split=None, timestamps=None):
    s = bt.tiny_series(200)
    return bench.Series(s.values if values is None else values,
                        s.labels if labels is None else labels, name="s",
                        split=split or s.split, timestamps=timestamps)


def _one(series, **kw):
    def factory() -> bench.Dataset:
        return bench.Dataset("good-data", [series], description="d", license="CC0",
                             provenance="here", **kw)

    return factory


_nan = bt.tiny_series(200).values.copy()
_nan[5, 1] = np.nan
_no_test_anomaly = bt.tiny_series(200).labels.copy()
_no_test_anomaly[150:] = 0
_all_anomalous = bt.tiny_series(200).labels.copy()
_all_anomalous[:100] = 1
_counter = iter(range(10**6))

DATASET_CASES = [
    ("check_returns_dataset", lambda: {"not": "a dataset"}, "returned dict"),
    ("check_returns_dataset", _with(name="other-name"), "name it 'good-data'"),
    ("check_metadata", _with(provenance=""), "empty provenance"),
    ("check_values_finite", _one(_series(values=_nan)), "(first at row 5)"),
    ("check_labels_align", _one(_series(labels=_no_test_anomaly)), "no test range"),
    ("check_splits", _one(_series(split=bench.Split(100, 100))), "empty val range"),
    ("check_splits", _one(_series(labels=_all_anomalous)), "every training row"),
    ("check_timestamps", _one(_series(timestamps=np.arange(200)[::-1])), "goes back"),
    ("check_fingerprint_stable", lambda: bt.tiny_dataset(n=200 + 4 * next(_counter),
                                                         name="good-data"), "two loads"),
    ("check_dataset_runs_in_a_cell",  # semi-supervised with no normal training row
     _one(_series(labels=_all_anomalous),
          evaluation=bench.Evaluation(protocol="semi-supervised")), "no training rows"),
]


@pytest.mark.parametrize("check_name, factory, text", DATASET_CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(DATASET_CASES)])
def test_each_dataset_check_catches_its_rule(check_name, factory, text):
    check = getattr(bt, check_name)
    with pytest.raises(ConformanceError) as exc:
        check(bt.dataset(factory, name="good-data", plugin="data-pkg"))
    assert str(exc.value).startswith("dataset 'good-data' (plugin 'data-pkg'): rule '")
    assert text in str(exc.value), str(exc.value)
    check(bt.dataset(good_data, name="good-data"))


def test_check_dataset_whole():
    assert bt.check_dataset(good_data, name="good-data") == [c.__name__ for c in
                                                              bt.DATASET_CHECKS]


def test_as_subject_guesses_the_kind():
    assert bt.as_subject(Good).kind == "detector"
    assert bt.as_subject(good_data).kind == "dataset"
    assert bt.as_subject(lambda: bt.tiny_dataset()).kind == "dataset"


# ----------------------------------------------------------------------------- pytest side


def test_parametrize_with_checks_and_expected_failures(pytester):
    pytester.makepyfile(test_it="""
        import numpy as np
        import bench.testing as bt

        class Mutating:
            def __init__(self, *, k: float = 1.0):
                self.k = k
            def fit(self, X, seed=0):
                X -= 0
                X[0, 0] = 1e9
                self.m_ = X.mean(0)
                return self
            def score(self, X):
                if not hasattr(self, "m_"):
                    raise RuntimeError("call fit() first")
                if X.shape[1] != len(self.m_):
                    raise ValueError("features")
                return np.abs(X - self.m_).sum(1)

        @bt.parametrize_with_checks(
            [bt.detector(Mutating, name="mut")],
            expected_failures={"check_does_not_modify_input": "known", "mut-check_deterministic":
                               "not expected to fail: strict xfail must flag it"})
        def test_conf(subject, check):
            check(subject)
    """)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-rxX")
    result.assert_outcomes(passed=len(bt.DETECTOR_CHECKS) - 2, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_conf[[]mut-check_deterministic[]]*",
                                 "[[]XPASS(strict)[]] not expected to fail*"])


def test_fixtures(bench_manager, register_plugin, tiny_series, tiny_dataset):
    from bench.plugins import get_manager

    assert get_manager() is bench_manager
    assert len(tiny_series) == 200 and tiny_series.labels[100:].sum() > 0
    assert tiny_series.labels[:100].sum() == 0 and len(tiny_dataset) == 2

    class P:
        @bench.hookimpl
        def bench_register_detectors(register):
            register("fixture-good", Good)

    name = register_plugin(P, "fixture-plugin")
    assert name == "fixture-plugin"
    assert bench_manager.get("detector", "fixture-good").plugin == "fixture-plugin"


def test_missing_data_skips_rather_than_fails():
    def needs_files(*, path: str = "/nonexistent") -> bench.Dataset:
        raise bench.BenchError(f"dataset 'remote': {path} not found; pass remote:path=DIR")

    with pytest.raises(bt.DataUnavailable, match="not found; pass remote:path=DIR"):
        bt.check_labels_align(bt.dataset(needs_files, name="remote"))
    assert bt.check_dataset(needs_files, name="remote") == ["check_parameters"]
