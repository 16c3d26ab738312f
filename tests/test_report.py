import re
import shutil
import subprocess

import pytest

from bench import api, report


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    rec = api.run(api.plan(["synthetic:n_series=3,length=800", "hpc"], ["iforest", "kde"]),
                  out=out)
    return rec


def test_report_is_self_contained_with_every_plot(record, tmp_path):
    path = report.write(record["_path"], tmp_path / "r.html")
    html = path.read_text()
    assert "<h3>synthetic (threshold: min_cost" in html and "<h3>overall" in html
    assert "src=\"http" not in html and "<script" not in html  # nothing fetched
    imgs = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{2000,}" alt="([^"]+)"',
                      html)
    assert "ranking plot" in imgs
    # 4 cells x up to 2 series x (trace, precision-recall, cost curve)
    assert sum(a.startswith("score trace") for a in imgs) == 2 * 2 + 1 * 2
    assert sum(a.startswith("precision-recall") for a in imgs) == 6
    assert sum(a.startswith("cost curve") for a in imgs) == 6
    assert sum(a.startswith("cost ratio curve") for a in imgs) == 6
    assert "critical difference" in html or "CD =" in html


def test_report_marks_failed_cells_and_missing_scores(record, tmp_path):
    import copy

    rec = copy.deepcopy(record)
    rec["cells"][0].update(status="error", error="detector: boom")
    rec["cells"][1].pop("scores_file")
    html = report.render(rec)
    assert "ERROR: detector: boom" in html
    assert "no stored scores or dataset for plots" in html


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed "
                    "(apt-get install chromium)")
def test_report_renders_in_headless_chromium(record, tmp_path):
    path = report.write(record["_path"], tmp_path / "r.html")
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'ud'}", "--window-size=1280,2000",
         f"--screenshot={shot}", f"file://{path}"], capture_output=True, text=True, timeout=90)
    assert shot.exists() and shot.stat().st_size > 50_000, res.stderr[-500:]
    # the plots were drawn: the screenshot holds matplotlib's default line blue (#1f77b4)
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    blue = (np.abs(px - [31, 119, 180]).sum(-1) < 40).sum()
    assert blue > 500, f"only {blue} plot-blue pixels in the screenshot"
    # the DOM chromium built holds every image of the file
    res = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={tmp_path / 'ud2'}",
         "--virtual-time-budget=5000", "--dump-dom", f"file://{path}"],
        capture_output=True, text=True, timeout=90)
    assert res.stdout.count("<img") == path.read_text().count("<img") > 10
