"""docs/plugins.md: the hook reference is the generated one, every hook and check is documented,
and the tutorial's listings work as written."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from test_plugins_contract import bench_cli, write_package

import bench.testing as bt
from bench import hookspecs
from bench.testing import docs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
TEXT = DOC.read_text()


def listings(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", TEXT, flags=re.S)


def test_hook_reference_is_in_sync():
    assert docs.update(TEXT) == TEXT, "run `python -m bench.testing.docs docs/plugins.md`"
    assert docs.main(["--check", str(DOC)]) == 0


def test_every_hook_documented_with_its_exact_signature():
    for name, fn in vars(hookspecs).items():
        if name.startswith("bench_") and inspect.isfunction(fn):
            assert f"#### `{name}{inspect.signature(fn)}`" in TEXT, name
            first_line = inspect.getdoc(fn).splitlines()[0].replace("``", "`")
            assert first_line in TEXT


def test_every_check_documented():
    for check in [*bt.DETECTOR_CHECKS, *bt.DATASET_CHECKS]:
        assert f"`{check.__name__}`" in TEXT, check.__name__


def test_stale_reference_is_detected(tmp_path):
    stale = tmp_path / "plugins.md"
    stale.write_text(TEXT.replace("Register detector factories.", "Register detectors."))
    assert docs.main(["--check", str(stale)]) == 1
    assert docs.main([str(stale)]) == 0 and stale.read_text() == TEXT


def test_markers_are_required():
    with pytest.raises(ValueError, match="markers not found"):
        docs.update("no markers here")


def test_dataset_listing_passes_the_suite():
    namespace: dict = {}
    exec(listings("python")[1], namespace)  # noqa: S102 - our own documentation
    assert bt.check_dataset(namespace["my_data"], name="my-data", plugin="docs")


def test_first_listing_is_a_complete_working_plugin(tmp_path):
    plugin, pyproject = listings("python")[0], listings("toml")[0]
    assert 'zscore = "my_pkg.plugin"' in pyproject
    src = write_package(tmp_path / "src", pyproject, {"plugin": plugin}, "my_pkg")
    env = bt.install_for_subprocess(src, tmp_path / "site")
    info = {p["name"]: p for p in json.loads(bench_cli(env, "plugins", "--json").stdout)}
    assert info["zscore"]["provides"] == {"detector": ["zscore"]}
    proc = bench_cli(env, "run", "-q", "-m", "zscore", "-d", "synthetic:n_series=1",
                     "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "| zscore " in proc.stdout
