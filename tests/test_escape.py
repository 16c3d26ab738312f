"""Escaping (issue 22): a title, name or error from a record cannot change the structure of any
output bench writes: a LaTeX comment, a markdown table, a csv file opened in a spreadsheet, HTML,
a wiki table, a plotly label."""

from __future__ import annotations

import csv
import io
import json
import re

import fault_plugins
import pytest

import bench
from bench import api, escape
from bench.leaderboard import render
from bench.records import load

HOSTILE = ("x\n\\input{/etc/passwd}\r\u2028=HYPERLINK(\"http://e\")|c| "
           "<a href=\"http://e\">link</a> [l](http://e) 50% ^^M")


def test_one_line_removes_every_line_break_and_control():
    for brk in ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x85", "\u2028", "\u2029", "\x00",
                "\t"]:
        out = escape.one_line(f"a{brk}b")
        assert out.splitlines() == [out] and "\t" not in out and out.startswith("a"), repr(out)


def test_latex_text_and_comment():
    assert escape.latex("50% a_b & $x$ #1 {y} ~ ^ \\input") == (
        r"50\% a\_b \& \$x\$ \#1 \{y\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{}input")
    assert escape.latex_comment("t\n\\input{x} ^^M ^^^J") == "t \\input{x} ^ ^M ^ ^ ^J"


@pytest.mark.parametrize("value,expect", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok", "ok"), (-0.5, -0.5), (3, 3), (None, None),
    (True, True), ("a=b", "a=b")])
def test_csv_cell_prefixes_formulas(value, expect):
    assert escape.csv_cell(value) == expect


def test_markdown_keeps_plain_text_and_stops_markup():
    assert escape.markdown("dense_ae p < 0.05 *x*") == "dense_ae p < 0.05 *x*"
    out = escape.markdown(HOSTILE)
    assert "\n" not in out and "<a" not in out and not re.search(r"(?<!\\)\]\(", out)
    assert "\\|c\\|" in out and "&lt;a href" in out and "[l\\](http" in out
    assert escape.plotly("<a href='x'>y</a> & <br>") == "&lt;a href='x'&gt;y&lt;/a&gt; &amp; " \
                                                       "&lt;br&gt;"
    assert escape.wiki("a|b [[Page]] {{tpl}}") == "a¦b [ [Page] ] { {tpl} }"


def hostile(*, n_series: int = 1) -> bench.Dataset:
    """The tiny dataset under a title no output should let loose."""
    import dataclasses

    ds = [dataclasses.replace(s, name=f"<a href='http://e'>s{i}</a>")
          for i, s in enumerate(fault_plugins.tiny(n_series=n_series))]
    return bench.Dataset("hostile", ds, description="tiny", license="CC0", title=HOSTILE)


class Fails(fault_plugins.ZScore):
    def fit(self, X, *, X_val=None, seed=0):
        raise ValueError("=cmd|' /C calc'!A0\u2028\\input{/etc/passwd}")


@bench.hookimpl
def bench_register_datasets(register):
    register("hostile", hostile)


@bench.hookimpl
def bench_register_detectors(register):
    register("fails_hostile", Fails)


@pytest.fixture(scope="module")
def hostile_record(tmp_path_factory):
    """A real record whose dataset title and a cell's error are hostile text."""
    import sys

    out = tmp_path_factory.mktemp("rec")
    m = fault_plugins.manager()
    m.register(sys.modules[__name__], "escape-tests")
    cells = api.plan(["hostile"], ["zscore_ok", "fails_hostile"], manager=m)
    api.run(cells, out=out, manager=m)
    (path,) = out.glob("*.json")
    return load(path), m, out


def test_latex_output_has_no_line_the_record_wrote(hostile_record):
    record, m, _ = hostile_record
    for fmt in ("latex", "latex_booktabs", "latex_raw", "latex_longtable"):
        text = render(record, fmt, manager=m)
        for line in text.splitlines():
            assert not line.lstrip().startswith("\\input"), (fmt, line)
        assert "\\input{/etc/passwd}" in text  # the title is shown, in a comment
        for line in text.splitlines():
            if "input" in line and "passwd" in line:
                assert line.startswith("%"), (fmt, line)
        assert "^^M" not in text


def test_markdown_output_rows_and_headings_stay_put(hostile_record):
    record, m, _ = hostile_record
    text = render(record, "github", manager=m)
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings and all("input" in h for h in headings[:1])
    assert "<a href" not in text and not re.search(r"(?<!\\)\]\(http", text)
    for line in text.splitlines():
        if line.startswith("|"):  # every table row has as many cells as its header
            assert line.replace("\\|", "").count("|") == \
                text.splitlines()[text.splitlines().index(line)].replace("\\|", "").count("|")
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len({row.replace("\\|", "").count("|") for row in table[:4]}) == 1


def test_csv_output_has_no_formula_cell(hostile_record):
    record, m, _ = hostile_record
    rows = list(csv.reader(io.StringIO(render(record, "csv", manager=m))))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")], cells
    assert all(len(row) == len(rows[0]) for row in rows)


def test_csv_output_of_a_tampered_record(hostile_record, tmp_path):
    """A record from elsewhere whose dataset and detector names are formulas."""
    record, m, _ = hostile_record
    data = record.to_json()
    for c in data["cells"]:
        c["dataset"] = "=HYPERLINK(\"http://e\",\"x\")"
        c["detector"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    rows = list(csv.reader(io.StringIO(render(load(path), "csv", manager=m))))
    cells = [c for row in rows[1:] for c in row]
    assert "'=HYPERLINK(\"http://e\",\"x\")" in cells, cells
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]


def test_html_and_wiki_outputs(hostile_record):
    record, m, _ = hostile_record
    text = render(record, "html", manager=m)
    assert "<a href" not in text and "&lt;a href" in text
    wiki = render(record, "mediawiki", manager=m)
    assert "[[" not in wiki
    assert all(not line.startswith("\\input") for line in wiki.splitlines())


def test_report_plot_labels_render_no_html(hostile_record):
    """The HTML report: plotly renders HTML in titles, legends and axis labels; every label it
    gets from a record is escaped (the page's other text is escaped by Jinja)."""
    from bench import report

    record, m, record_dir = hostile_record
    page = report.render(record, m, store_dir=record_dir / "scores")
    start = page.index('id="bench-data"')
    data = json.loads(page[page.index(">", start) + 1:page.index("</script>", start)])
    series = [s for c in data["cells"].values() for s in c]
    assert len(series) == 1, data["cells"]
    for s in series:
        assert s["label"] == escape.plotly(s["name"]) and "<a" not in s["label"]
    assert "<a href='http://e'>" not in page.replace("\\u003c", "<").split("bench-data")[0]
