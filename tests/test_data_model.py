import numpy as np
import pytest

import bench
from bench.windows import sliding_windows, window_starts, windows_to_steps


def _series(n=100, f=2, **kw):
    rng = np.random.default_rng(0)
    labels = np.zeros(n, dtype="int8")
    labels[80:85] = 1
    return bench.Series(rng.normal(size=(n, f)), labels, **kw)


def test_series_coerces_types_and_shapes():
    s = bench.Series(np.arange(10.0), np.zeros(10), name="x")
    assert s.values.dtype == np.float32 and s.values.shape == (10, 1)
    assert s.labels.dtype == np.int8 and len(s) == 10 and s.n_features == 1


def test_split_resolves_fractions_and_ranges():
    s = _series(split=bench.Split(0.5, 0.75))
    r = s.split.ranges(len(s))
    assert (r["train"].stop, r["val"].start, r["val"].stop, r["test"].stop) == (50, 50, 75, 100)
    x, y = s.part("test")
    assert x.shape == (25, 2) and y.sum() == 5


@pytest.mark.parametrize("split", [bench.Split(0, 10), bench.Split(60, 50), bench.Split(10, 200)])
def test_bad_split_is_one_clear_error(split):
    with pytest.raises(bench.BenchError, match="split .* does not fit a series of 100 steps"):
        _series(split=split)


def test_label_length_mismatch_names_the_series():
    with pytest.raises(bench.BenchError, match="series 'bad': 10 rows of values but labels"):
        bench.Series(np.zeros((10, 2)), np.zeros(9), name="bad")


def test_labels_must_be_binary():
    with pytest.raises(bench.BenchError, match="labels must be 0 or 1"):
        bench.Series(np.zeros(3), np.array([0, 2, 1]))


def test_dataset_fingerprint_is_stable_and_content_sensitive():
    a = bench.Dataset("d", [_series(name="a")])
    b = bench.Dataset("d", [_series(name="a")])
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 16
    s = _series(name="a")
    s.values[3, 0] += 1
    assert bench.Dataset("d", [s]).fingerprint() != a.fingerprint()


def test_dataset_rejects_duplicate_and_empty_series():
    with pytest.raises(bench.BenchError, match="duplicate series names"):
        bench.Dataset("d", [_series(name="a"), _series(name="a")])
    with pytest.raises(bench.BenchError, match="has no series"):
        bench.Dataset("d", [])


def test_sliding_windows_cover_every_step_including_a_ragged_end():
    x = np.arange(10, dtype=float)[:, None]
    w = sliding_windows(x, 4, stride=3)
    assert w.shape == (3, 4, 1)
    assert list(window_starts(10, 4, 3)) == [0, 3, 6]
    w = sliding_windows(x, 4, stride=4)  # 0, 4, then 6 so that the last step is covered
    assert list(w[:, 0, 0]) == [0, 4, 6] and w[-1, -1, 0] == 9


def test_window_scores_back_to_steps_mean_and_max():
    # windows of 3 over 5 steps: starts 0,1,2 with scores 1,2,3
    out = windows_to_steps(np.array([1.0, 2.0, 3.0]), 5, 3)
    assert np.allclose(out, [1, 1.5, 2, 2.5, 3])
    out = windows_to_steps(np.array([1.0, 2.0, 3.0]), 5, 3, reduce="max")
    assert np.allclose(out, [1, 2, 3, 3, 3])
    per_pos = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    out = windows_to_steps(per_pos, 5, 3)
    assert np.allclose(out, [1, (2 + 4) / 2, (3 + 5 + 7) / 3, (6 + 8) / 2, 9])


def test_window_longer_than_series_is_a_clear_error():
    with pytest.raises(bench.BenchError, match="shorter than the window"):
        sliding_windows(np.zeros((5, 1)), 8)
