"""`bench list`: one short line per item, plain text, user parameters only; NAME for details."""

from __future__ import annotations

import json
import types

import pytest
from cli_helpers import run_cli

import bench
from bench import listing
from bench.plugins import Entry, Manager

KINDS = ["datasets", "detectors", "metrics", "costs", "thresholds", "executors"]


@pytest.mark.parametrize("what", KINDS)
def test_one_short_plain_line_per_item(capsys, what):
    code, out, _ = run_cli(capsys, "list", what)
    assert code == 0
    rows = out.rstrip("\n").split("\n")
    headings = [r for r in rows if r.startswith("-- ")]  # detectors: built-in, classical, ...
    rows = [r for r in rows if not r.startswith("-- ")]
    if what == "detectors":
        assert headings[0] == "-- built-in" and "-- classical" in headings
        assert headings[-1] == "-- chance"
    else:
        assert headings == []
    names = list(Manager().registry(what[:-1]).names())
    assert len(rows) == len(names) + 2  # a header, one line each, a hint
    assert sorted(r.split()[0] for r in rows[1:-1]) == sorted(names)
    assert max(len(r) for r in rows) <= 100, max(rows, key=len)
    for marker in ("``", ":func:", ":mod:", ":class:", "labels=None", "manager=", "=None"):
        assert marker not in out, marker
    assert rows[-1].startswith(f"bench list {what} NAME")


def test_details_show_the_parameters_a_user_sets(capsys):
    code, out, _ = run_cli(capsys, "list", "detectors", "kde")
    assert code == 0
    assert out.startswith("detector kde (plugin kde)")
    for param in ("bandwidth", "max_train", "backend", "dtype"):
        assert f"\n  {param} " in out
    assert "``" not in out and max(len(r) for r in out.splitlines()) <= 100
    assert "set with: -m kde:" in out
    code, out, _ = run_cli(capsys, "list", "metrics", "vus_roc")
    params = out.split("parameters:")[1]
    assert "window" in params and "labels" not in params and "scores" not in params
    assert "direction: higher is better" in out
    code, out, _ = run_cli(capsys, "list", "executors", "process")
    params = out.split("parameters:")[1]
    assert "manager" not in params and "jobs" in params


def test_details_of_a_dataset_state_how_it_is_evaluated(capsys):
    code, out, _ = run_cli(capsys, "list", "datasets", "hpc")
    assert code == 0
    assert "headline:  vus_pr" in out and "cost:      event:c_alarm=1" in out
    assert "protocol:" in out


def test_unknown_name_is_one_line_with_a_suggestion(capsys):
    code, out, err = run_cli(capsys, "list", "detectors", "kdee")
    assert code == 1 and not out
    assert err.count("\n") == 1
    assert "no detector 'kdee'" in err and "did you mean kde?" in err


def test_json_lists_user_parameters_only(capsys):
    code, out, _ = run_cli(capsys, "list", "metrics", "--json")
    metrics = {d["name"]: d for d in json.loads(out)}
    assert metrics["roc_auc"]["params"] == {}
    assert metrics["vus_roc"]["params"] == {"window": 100}
    assert metrics["vus_roc"]["types"] == {"window": "int"}
    code, out, _ = run_cli(capsys, "list", "datasets", "csv", "--json")
    one = json.loads(out)
    assert one["name"] == "csv" and "path" in one["params"] and one["types"]["path"] == "str"


def test_long_names_and_docstrings_still_fit():
    def factory(*, where: str, alpha: float = 0.5, manager=None, **kwargs):
        """A detector with a very long description that would run far past the edge of any
        terminal: ``alpha`` controls :func:`numpy.mean` and *nothing* else, see
        :class:`~bench.Dataset` for details.  Second sentence."""

    entry = Entry("detector", "a_detector_with_an_unusually_long_registered_name_x", factory,
                  "some_third_party_plugin_package")
    rows = listing.lines([entry], "detector", width=100)
    assert max(len(r) for r in rows) <= 100
    assert rows[1].endswith("...")
    assert listing.summary(entry).startswith("A detector with a very long description")
    text = " ".join(" ".join(listing.details(entry)).split())
    assert "alpha controls numpy.mean and nothing else, see Dataset for details." in text
    assert [p.name for p in listing.user_parameters(entry)] == ["where", "alpha"]
    assert "set with: -m a_detector_with_an_unusually_long_registered_name_x:where=VALUE" in text
    assert listing.as_json([entry])[0]["required"] == ["where"]


@pytest.mark.parametrize("text, first", [
    ("NASA telemetry (Hundman et al. KDD 2018): 54 channels. More.",
     "NASA telemetry (Hundman et al. KDD 2018): 54 channels."),
    ("Normalised NAB score (Lavin, 2015; NAB v1.1). Then more.",
     "Normalised NAB score (Lavin, 2015; NAB v1.1)."),
    ("No full stop at all", "No full stop at all"),
])
def test_first_sentence(text, first):
    assert listing.first_sentence(text) == first


def test_plain_removes_markup():
    assert listing.plain(":func:`bench.metrics.vus_roc` and ``x = 1`` with **bold**") == \
        "bench.metrics.vus_roc and x = 1 with bold"
    assert listing.plain("a * b * c") == "a * b * c"  # arithmetic is not emphasis


def test_a_description_from_meta_wins():
    entry = Entry("detector", "z", types.SimpleNamespace, "p", {"description": "From meta."})
    assert listing.summary(entry) == "From meta."
    assert bench.BenchError  # the package imports cleanly alongside the listing module
