"""``explain`` covers the rows the cell's protocol evaluates (not always bench's test split), so
a heatmap lines up with the evaluated scores; the report marks no validation line when the
protocol has none."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cell import Cell, Protocol
from bench.data import Dataset, Series, Split
from bench.fitting import fit_and_score
from bench.params import Spec


class RowExplainer:
    """Scores each row by its distance from the training mean; explains it per feature."""

    def fit(self, X, **kw):
        self.mu_ = np.asarray(X, float).mean(0)
        return self

    def explain(self, X):
        return np.abs(np.asarray(X, float) - self.mu_)

    def score(self, X):
        return self.explain(X).sum(1)


def _series():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(240, 3)).astype(np.float32)
    X[200:205] += 6
    labels = np.zeros(240, np.int8)
    labels[200:205] = 1
    return Series(X, labels, name="m3", split=Split(120, 180))


@pytest.mark.parametrize("protocol, rows", [("unsupervised", (180, 240)),
                                            ("tsb-ad", (0, 240))])
def test_explain_covers_the_protocols_evaluated_rows(protocol, rows):
    s = _series()
    cell = Cell(0, Spec("m3"), Spec("row_explainer"), protocol=Protocol(protocol, window=1))
    res, _ = fit_and_score(RowExplainer, {}, s, cell, "row_explainer")
    assert res.explain.shape == (rows[1] - rows[0], 3)
    # the explanation of the evaluated rows, row for row (the anomaly at 200-204 included)
    np.testing.assert_allclose(res.explain.sum(1), res.scores[rows[0]:rows[1]], rtol=1e-5)
    assert res.explain[200 - rows[0]:205 - rows[0]].sum(1).min() > 10


def test_report_rows_follow_the_protocol():
    from bench import report

    s = _series()
    Dataset("m3", [s], description="m3", license="CC0", provenance="test")
    scores = np.abs(s.values).sum(1)
    assert report._rows(s, "unsupervised")["val"] == slice(120, 180)
    assert report._cost_ratio_or_none(s, scores, "unsupervised") is not None
    # TSB-AD has no validation range: no cost-ratio curve (it would need test labels)
    assert report._rows(s, "tsb-ad")["val"] is None
    assert report._cost_ratio_or_none(s, scores, "tsb-ad") is None
