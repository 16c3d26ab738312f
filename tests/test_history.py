"""`bench history --plot` stays readable with 40 lines: panels per dataset, one style per detector,
the legend outside the panels, x labels that do not overlap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench import history

DATASETS = ["hpc", "nab", "smap", "synthetic", "yahoo"]


def _rows(datasets: list[str], detectors: list[str], runs: int = 14) -> list[dict]:
    """History rows as bench.history.collect makes them: every detector on every dataset in each
    of ``runs`` records, one value moving at run 10."""
    rng = np.random.default_rng(0)
    rows = []
    for run, ds, (j, det) in itertools.product(range(runs), datasets, enumerate(detectors)):
        moved = run == 10 and j == 3
        rows.append({"created": f"2026-11-{run + 1:02d}T10:00:00", "run_id": f"run{run:02d}",
                     "commit": f"c{run:06x}", "dataset": ds, "detector": det,
                     "threshold": "best_f1", "seed": 0, "cell": f"{ds} x {det} @ best_f1",
                     "value": 0.5 + 0.04 * j + 0.01 * rng.normal() + (0.05 if moved else 0.0),
                     "moved": moved, "status": "ok"})
    return rows


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _check_readable(fig, n_lines_per_panel: int) -> None:
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    (legend,) = fig.legends
    box = legend.get_window_extent(r)
    for ax in axes:
        assert not _overlaps(box, ax.get_window_extent(r)), "legend covers a panel"
        styles = {(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in ax.get_lines()}
        assert len(styles) == len(ax.get_lines()) == n_lines_per_panel
        labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert len(labels) <= history.MAX_XLABELS
        boxes = [t.get_window_extent(r) for t in labels]
        for a, b in itertools.combinations(boxes, 2):
            assert not _overlaps(a, b), "x labels overlap"
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[-1] == "moved since the previous run"
    return texts


def test_forty_lines_across_five_datasets(tmp_path):
    detectors = [f"detector_{j}(window={8 * j})" for j in range(8)]
    rows = _rows(DATASETS, detectors)
    fig = history.figure(rows, "vus_pr")
    texts = _check_readable(fig, 8)
    assert texts[:-1] == detectors  # one entry per detector, in natural order
    # a detector looks the same in every panel
    style = {}
    for ax in fig.axes:
        for ln in ax.get_lines():
            s = (ln.get_color(), ln.get_linestyle(), ln.get_marker())
            assert style.setdefault(ln.get_label(), s) == s
    path = history.plot(rows, "vus_pr", tmp_path / "h.png")
    assert path.stat().st_size > 20_000


def test_forty_lines_in_one_panel(tmp_path):
    detectors = [f"detector_{j}" for j in range(40)]
    fig = history.figure(_rows(["nab"], detectors), "vus_pr")
    texts = _check_readable(fig, 40)
    assert texts[:3] == ["detector_0", "detector_1", "detector_2"]  # not 0, 1, 10
    assert fig.legends[0]._ncols == 2
    fig.canvas.draw()
    legend_h = fig.legends[0].get_window_extent(fig.canvas.get_renderer()).height
    assert legend_h <= fig.bbox.height  # the legend fits beside the panel


@pytest.mark.parametrize("runs", [2, 60])
def test_x_labels_thin_out_with_many_runs(runs):
    fig = history.figure(_rows(["nab"], ["iforest", "kde"], runs=runs), "f1")
    _check_readable(fig, 2)
