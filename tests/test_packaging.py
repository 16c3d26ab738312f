"""The build: one distribution name everywhere, and every folder of package data declared."""

from __future__ import annotations

from pathlib import Path

import tomllib

from bench.plugins import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared_packages() -> set[str]:
    return set(PYPROJECT["tool"]["setuptools"]["packages"])


def _folders(package: str, folder: Path) -> set[str]:
    """Every folder under ``folder`` that holds files, as the dotted package name setuptools
    gives it (the folders it warns about when they are not declared)."""
    out = set()
    for d in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        if d.name == "__pycache__" or not any(f.is_file() for f in d.iterdir()):
            continue
        rel = d.relative_to(folder).parts
        out.add(".".join((package, *rel)))
    return out


def test_every_package_data_folder_is_declared():
    """setuptools warns ("absent from the packages configuration") for a data folder that is not
    declared; the wheel then depends on deprecated behaviour.  Declare new data folders in
    pyproject.toml's [tool.setuptools] packages."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    wanted = _folders("bench.datasets.data", ROOT / mapping["bench.datasets"] / "data")
    wanted |= _folders("bench.templates", ROOT / "bench" / "templates")
    missing = sorted(wanted - _declared_packages())
    assert not missing, f"declare these in pyproject.toml [tool.setuptools] packages: {missing}"
    stale = sorted(p for p in _declared_packages() if p.startswith("bench.datasets.data")
                   and p not in wanted)
    assert not stale, f"declared but absent (remove from pyproject.toml): {stale}"


def test_every_python_package_is_declared():
    """A package folder (one with ``__init__.py``) left out of [tool.setuptools] packages is
    missing from the wheel: ``bench`` then fails to import from a real install, while every
    editable-install test passes (bench.leaderboard was missed once; CI's wheel step caught it)."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    roots = {"bench": ROOT / "bench", "bench.detectors": ROOT / mapping["bench.detectors"],
             "bench.datasets": ROOT / mapping["bench.datasets"]}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            found.add(".".join((name, *init.parent.relative_to(folder).parts)))
    missing = sorted(found - _declared_packages())
    assert not missing, f"declare these in pyproject.toml [tool.setuptools] packages: {missing}"


def test_distribution_name_is_used_everywhere():
    assert PYPROJECT["project"]["name"] == DISTRIBUTION == "anomaly-bench"
    example = tomllib.loads((ROOT / "examples" / "bench-plugin-example" / "pyproject.toml")
                            .read_text())
    assert any(d.split(">")[0].split("=")[0].strip() == DISTRIBUTION
               for d in example["project"]["dependencies"])
    assert f'"{DISTRIBUTION}"' in (ROOT / "docs" / "plugins.md").read_text()


def test_builtin_plugins_report_the_distribution():
    from bench.plugins import get_manager

    infos = get_manager().plugins
    assert infos["kde"].package == DISTRIBUTION and infos["kde"].builtin
