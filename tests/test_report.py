"""`bench report`: a self-contained interactive page, every series reachable, values escaped, the
leaderboard's ranking, a size that grows slowly with the series; and a headless-Chromium test that
clicks to another series."""

from __future__ import annotations

import base64
import copy
import gzip
import html
import json
import os
import re
import shutil

import numpy as np
import pytest

from bench import api, leaderboard, records, report
from bench.plugins import get_manager

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def record_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    api.run(api.plan(["synthetic:n_series=3,length=800", "hpc"], ["iforest", "kde"]), out=out)
    return records.find(out)[-1]


@pytest.fixture(scope="module")
def record(record_path):
    """The record as its JSON dict: what someone else's file holds, unchecked."""
    return json.loads(record_path.read_text())


@pytest.fixture(scope="module")
def page(record_path, tmp_path_factory):
    path = report.write(record_path, tmp_path_factory.mktemp("page") / "r.html")
    return path, path.read_text()


def _data(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="bench-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def _cell_ids(text: str, dataset: str, detector: str) -> list[str]:
    return re.findall(rf'<div class="cell" id="(c\d+)"[^>]*>\s*<h3>{dataset} &times; '
                      rf'{detector} ', text)


def test_page_is_self_contained(page):
    _, text = page
    assert not re.search(r"<script[^>]+src=", text)  # nothing fetched: plotly.js is inside
    assert 'id="plotly-gz"' in text and len(report.plotly_js_gzip_b64()) > 500_000
    assert "<img" not in text  # no static images


def test_every_series_is_reachable(page, record):
    _, text = page
    data = _data(text)
    (cid,) = _cell_ids(text, "synthetic", "iforest")
    names = [s["name"] for s in data["cells"][cid]]
    assert names == ["cpu-0", "cpu-1", "cpu-2"]
    block = text[text.index(f'id="{cid}"'):]
    options = re.findall(r'<option value="(\d+)">', block[:block.index("</select>")])
    assert options == ["0", "1", "2"]
    # each series carries its own scores, threshold and metrics from the record
    cell = next(c for c in record["cells"] if c["dataset"] == "synthetic"
                and c["detector"] == "iforest")
    per = {p["series"]: p for p in cell["evaluations"][0]["per_series"]}
    for s in data["cells"][cid]:
        assert s["thr"] == pytest.approx(per[s["name"]]["threshold"])
        assert dict(s["metrics"])["vus_pr"] == pytest.approx(per[s["name"]]["metrics"]["vus_pr"])
        assert s["metrics"][0][0] == "vus_pr"  # the headline first


def test_packed_scores_decode_to_the_stored_scores(page, record):
    _, text = page
    data = _data(text)
    (cid,) = _cell_ids(text, "synthetic", "kde")
    cell = next(c for c in record["cells"] if c["dataset"] == "synthetic"
                and c["detector"] == "kde")
    stored = np.load(cell["scores_file"])
    for s in data["cells"][cid]:
        t = s["scores"]
        assert not t["x"] and t["k"] == t["n"] == 800  # short enough to be drawn whole
        x, decoded = report.unpack_trace(t)
        exact = stored[f"scores/{s['name']}"]
        assert np.array_equal(x, np.arange(800))
        assert np.abs(decoded - exact).max() <= 0.5001 * (t["hi"] - t["lo"]) / report.LEVELS


def test_a_long_series_round_trips_through_its_reduction():
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(size=50_000))
    t = report.pack_trace(y, 2000)
    x, decoded = report.unpack_trace(t)
    assert t["x"] and t["k"] == len(x) <= 2000 and np.all(np.diff(x) > 0)
    assert np.abs(decoded - y[x]).max() <= 0.5001 * (y.max() - y.min()) / report.LEVELS
    assert y[x].max() == y.max() and y[x].min() == y.min()


def test_plots_only_where_they_make_sense(page, record):
    _, text = page
    data = _data(text)
    # univariate synthetic: a signal panel, no per-feature heatmap
    (cid,) = _cell_ids(text, "synthetic", "iforest")
    assert re.search(rf'id="{cid}" data-values="synthetic@', text)
    assert all("explain" not in s for s in data["cells"][cid])
    assert 'class="heat"' not in text
    # hpc has 159 features: no signal panel, the score plot alone
    (hid,) = _cell_ids(text, "hpc", "iforest")
    assert f'id="{hid}" data-values=""' in text


def test_heatmap_for_a_multivariate_explanation():
    e = np.random.default_rng(0).normal(size=(1000, 5)).astype(np.float32)
    h = report.pack_heatmap(e, columns=100)
    codes = np.frombuffer(gzip.decompress(base64.b64decode(h["b"])), np.uint8)
    assert (h["f"], h["c"]) == (5, 100) and codes.size == 500
    top = np.log1p(np.abs(e[:10, 2])).max()  # the first bucket of feature 2 is its max
    assert h["lo"] + codes[2 * 100] * (h["hi"] - h["lo"]) / 255 == pytest.approx(top, abs=0.02)


def test_tables_and_ranking_are_the_leaderboards(page, record):
    _, text = page
    manager = get_manager()
    for t in leaderboard.tables(record, manager):
        title = leaderboard.render_table(t, manager)[0]
        assert f"<h3>{html.escape(title, quote=False)}</h3>" in text.replace("&#39;", "'")
    _, _, body = leaderboard.overall_table(record, manager)
    fig = report.ranking_figure(record, manager)
    assert fig["data"][0]["y"] == [row[0] for row in body]
    ranks = leaderboard.ranking(record, manager)
    assert fig["data"][0]["x"] == pytest.approx([ranks.mean_rank(r[0]) for r in body])


def test_record_values_are_escaped(record):
    rec = copy.deepcopy(record)
    rec["run_id"] = EVIL
    rec["cells"][0]["seed"] = EVIL
    rec["cells"][1].update(status="<img src=x onerror=alert(2)>", error=EVIL)
    rec["cells"][2].update(dataset="<b onmouseover=alert(3)>ds</b>",
                           dataset_title="<b onmouseover=alert(3)>ds</b>")
    rec["cells"][3]["given"] = {"bandwidth": EVIL}
    text = report.render(rec)
    for raw in (EVIL, "<img src=x", "<b onmouseover"):
        assert raw not in text, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b onmouseover=alert(3)&gt;ds&lt;/b&gt;" in text
    # data for the scripts is JSON with <, > and & escaped, so it cannot close its element
    assert text.count("</script>") == 4


def test_size_grows_slowly_with_series(page):
    _, text = page
    sizes = report.page_size(text)
    n_plots = sum(len(v) for v in _data(text)["cells"].values())
    assert n_plots == 3 + 3 + 1 + 1
    assert sizes["data"] / n_plots < 8_000  # 800-row series: about 2-4 kB each
    assert sizes["total"] - sizes["plotly_js"] - sizes["data"] < 100_000


def test_downsampling_keeps_every_bucket_extreme():
    y = np.sin(np.linspace(0, 60, 100_000)) + np.where(np.arange(100_000) == 77_777, 9.0, 0.0)
    x, ys = report.minmax_downsample(y, 2000)
    assert len(ys) <= 2000 and np.all(np.diff(x) > 0)
    assert ys.max() == y.max() and x[np.argmax(ys)] == 77_777
    assert ys.min() == y.min()
    assert report.minmax_downsample(y[:1500], 2000)[0] is None


def test_failed_cell_and_missing_scores(record):
    rec = copy.deepcopy(record)
    rec["cells"][0].update(status="error", error="detector: boom")
    rec["cells"][1].pop("scores_file")
    text = report.render(rec)
    assert "ERROR: detector: boom" in text
    assert "no plots: the stored scores or the dataset could not be loaded again" in text


# ----------------------------------------------------------------------------- in a browser


def _browser():
    """A headless Chromium driven by chromedriver (Debian's chromium and chromium-driver); in CI
    a missing browser is a failure, elsewhere a skip."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        msg = "chromium and chromedriver not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + "; .ci/run installs them")
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.mark.slow
def test_clicking_to_another_series_redraws_the_plot(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    path, text = page
    (cid,) = _cell_ids(text, "synthetic", "kde")
    browser = _browser()
    try:
        browser.get(path.as_uri())
        wait = WebDriverWait(browser, 30)
        cell = browser.find_element(By.ID, cid)
        browser.execute_script("arguments[0].scrollIntoView()", cell)
        plot = cell.find_element(By.CSS_SELECTOR, ".plot")
        wait.until(lambda _: plot.get_attribute("data-series") == "cpu-0")
        # the drawn score line (plotly names a trace's SVG group "trace" + its uid)
        line = "return arguments[0].querySelector('.tracescores path.js-line').getAttribute('d')"
        before = browser.execute_script(line, plot)
        cell.find_element(By.CSS_SELECTOR, "button.next").click()
        wait.until(lambda _: plot.get_attribute("data-series") == "cpu-1")
        after = browser.execute_script(line, plot)
        assert before and after and before != after
        Select(cell.find_element(By.CSS_SELECTOR, "select.series")).select_by_index(2)
        wait.until(lambda _: plot.get_attribute("data-series") == "cpu-2")
        assert "cpu-2" in cell.find_element(By.CSS_SELECTOR, ".metrics").text
        shots = os.environ.get("BENCH_REPORT_SCREENSHOTS")
        if shots:
            cell.screenshot(os.path.join(shots, "report-series-cpu-2.png"))
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        browser.quit()
