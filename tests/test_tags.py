"""bench.tags: declared capabilities, and the inference kept for detectors that declare none."""

import numpy as np
import pytest

from bench.tags import DetectorTags, detector_tags


class Declared:
    __bench_tags__ = DetectorTags(fleet=True, fit_val=True, default_window=8)

    def fit(self, X, **kw):  # the declaration wins over the signature
        return self


class Legacy:
    __bench_tags__ = {"fleet": True, "unknown_key": 1}
    default_window = 32

    def __init__(self, *, window: int = 16):
        self.window = window

    def fit(self, X, *, X_val=None, seed=0, segments=None):
        return self


class Plain:
    def fit(self, X):
        return self


class Everything:
    def fit(self, X, **kwargs):
        return self


def test_declared_tags_are_used_as_declared():
    t = detector_tags(Declared)
    assert (t.fleet, t.fit_val, t.fit_seed, t.default_window) == (True, True, False, 8)
    assert detector_tags(Declared()) is Declared.__bench_tags__


def test_legacy_detector_is_inferred_once_with_its_old_dict_applied():
    t = detector_tags(Legacy)
    assert t == DetectorTags(fleet=True, windows_itself=True, default_window=32, fit_val=True,
                             fit_seed=True, fit_segments=True, fit_series=False)


def test_legacy_supervision_attribute_is_read_and_a_bad_one_refused():
    class Semi(Plain):
        supervision = "semi-supervised"

    assert detector_tags(Semi).semi_supervised and not detector_tags(Plain).semi_supervised
    with pytest.raises(ValueError, match="supervision must be one of"):
        DetectorTags(supervision="supervised")


def test_no_signature_probing_left_in_the_harness():
    """Done-when of issue 24: fitting and fleets read capabilities through detector_tags only."""
    import bench.fitting
    import bench.fleet

    for mod in (bench.fitting, bench.fleet):
        src = open(mod.__file__).read()
        assert "inspect" not in src and "__bench_tags__" not in src, mod.__name__


def test_plain_and_var_keyword_fit():
    assert detector_tags(Plain) == DetectorTags()
    assert detector_tags(Plain()).fit_kwargs(X_val=1, seed=2) == {}
    assert detector_tags(Everything()).fit_kwargs(X_val=1, seed=2) == {"X_val": 1, "seed": 2}


def test_factory_function_windows_and_fit_read_from_the_built_detector():
    def factory(*, window: int = 4):
        return Legacy(window=window)

    assert detector_tags(factory).windows_itself
    assert detector_tags(factory()).fit_segments


def test_bad_default_window_is_refused():
    with pytest.raises(ValueError, match="default_window"):
        DetectorTags(default_window=0)


@pytest.mark.parametrize("name", ["iforest", "kde", "dense_ae", "lstm_ae", "lstm_forecast",
                                  "random", "constant"])
def test_builtin_detectors_declare_their_tags(name):
    from bench.plugins import get_manager

    factory = get_manager().get("detector", name).factory
    assert isinstance(getattr(factory, "__bench_tags__", None), DetectorTags), name


class Lying:
    """Declares X_val and its own windows, but fit takes neither and the factory no window."""

    __bench_tags__ = DetectorTags(fit_val=True, windows_itself=True)

    def fit(self, X, *, seed=0):
        return self

    def score(self, X):
        return X[:, 0]


def test_tags_contradicting_the_signatures_fail_conformance_in_one_line():
    from bench.testing import ConformanceError, detector
    from bench.testing.detector_checks import check_tags_match_signatures

    with pytest.raises(ConformanceError) as err:
        check_tags_match_signatures(detector(Lying))
    msg = str(err.value)
    assert "fit_val=True but fit() takes no X_val" in msg
    assert "fit() takes seed but fit_seed=False" in msg
    assert "windows_itself=True but the factory takes no window" in msg
    assert "declared tags match the signatures" in msg and "\n" not in msg.strip()
    check_tags_match_signatures(detector(Legacy))  # nothing declared: inferred, agrees


@pytest.mark.parametrize("name", ["iforest", "kde", "dense_ae", "lstm_ae", "lstm_forecast",
                                  "random", "constant", "scores", "lof", "sub_lof", "poly"])
def test_builtin_declarations_agree_with_their_signatures(name):
    from bench.plugins import get_manager
    from bench.tags import disagreements

    try:
        factory = get_manager().get("detector", name).factory
    except Exception as exc:  # a classical detector not registered in this checkout
        pytest.skip(f"{name} not registered: {exc}")
    assert isinstance(getattr(factory, "__bench_tags__", None), DetectorTags), name
    assert disagreements(factory) == [], name


def test_autoencoders_are_fitted_on_the_training_prefix_under_tsb_ad_only():
    """TSB-AD fits AutoEncoder / LSTMAD on data[:tr_N] (its semi-supervised pool); so does bench
    under --protocol tsb-ad, and under bench's own split every training row as before."""
    from bench.detectors.autoencoders import DenseAE

    import bench
    from bench.cell import Protocol
    from bench.fitting import train_rows

    s = bench.Series(np.arange(100.0), np.zeros(100, "int8"), name="s",
                     split=bench.Split(30, 60))
    semi = detector_tags(DenseAE).semi_supervised
    assert semi
    assert train_rows(s, Protocol("tsb-ad"), semi).sum() == 30
    assert train_rows(s, Protocol("unsupervised"), semi).sum() == 30
    assert train_rows(s, Protocol("tsb-ad"), False).sum() == 100
