"""Digests of the code that produces a cell's scores, so that a changed detector refits.

A detector's digest covers the module that defines its factory and every module of the same
package that this module imports, directly or through another such module (imports inside
functions count: JAX models are imported lazily).  "The same package" is the top-level package
of a third-party plugin (``my_pkg``), or, for bench's built-in detectors, ``bench.detectors``.
Modules outside it (numpy, JAX, bench's core) are not hashed: their versions are recorded in the
run's environment and compared there.  The harness's own fitting code (standardisation, windows,
fleets) is hashed separately by :func:`harness_fit_digest`.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

#: bench's own modules whose code decides a cell's scores (besides the detector's)
HARNESS_FIT_MODULES = ("fitting.py", "windows.py", "fleet.py", "data.py")


def _root(module_name: str, module_file: Path) -> tuple[str, Path]:
    """(package name, its directory) that bounds the digest of ``module_name``: the top-level
    package, ``bench.detectors`` for bench's built-ins, or ``""`` and the module's directory for
    a module outside any package."""
    parts = module_name.split(".")
    if module_name in ("__main__", "__mp_main__") or len(parts) == 1 and \
            module_file.name != "__init__.py":
        return "", module_file.parent
    root_pkg = "bench.detectors" if parts[:2] == ["bench", "detectors"] else parts[0]
    rel = parts[len(root_pkg.split(".")):]
    up = len(rel) if module_file.name == "__init__.py" else len(rel) - 1
    root_dir = module_file.parent
    for _ in range(max(up, 0)):
        root_dir = root_dir.parent
    return root_pkg, root_dir


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Absolute names a module's import statements mention (``from a import b`` gives ``a``
    and ``a.b``, since ``b`` may be a module)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*base, *( [node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if mod:
                out.add(mod)
            out.update(f"{mod}.{a.name}" if mod else a.name for a in node.names)
    return out


def _file_of(name: str, root_pkg: str, root_dir: Path) -> Path | None:
    if root_pkg:
        if name != root_pkg and not name.startswith(root_pkg + "."):
            return None
        rel = name[len(root_pkg):].lstrip(".").split(".") if name != root_pkg else []
    else:
        rel = name.split(".")
    base = root_dir.joinpath(*rel) if rel else root_dir
    for cand in (base.with_suffix(".py") if rel else None, base / "__init__.py"):
        if cand is not None and cand.is_file():
            return cand
    return None


def _package_of(path: Path, root_pkg: str, root_dir: Path) -> str:
    rel = path.relative_to(root_dir).with_suffix("").parts
    if rel and rel[-1] == "__init__":
        rel = rel[:-1]
        return ".".join(p for p in (root_pkg, *rel) if p)
    return ".".join(p for p in (root_pkg, *rel[:-1]) if p)


def module_closure(module_name: str, module_file: Path) -> list[Path]:
    """The module's file and the files of its package that it imports, transitively, sorted."""
    root_pkg, root_dir = _root(module_name, module_file)
    seen: dict[Path, None] = {}
    todo = [module_file.resolve()]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen[f] = None
        try:
            tree = ast.parse(f.read_bytes(), filename=str(f))
        except (OSError, SyntaxError, ValueError):
            continue
        pkg = _package_of(f, root_pkg, root_dir) if f.is_relative_to(root_dir) else ""
        for name in _imports(tree, pkg):
            g = _file_of(name, root_pkg, root_dir)
            if g is not None:
                todo.append(g.resolve())
    return sorted(seen)


def _digest_files(files: list[Path], base: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(str(f.relative_to(base)).encode() if f.is_relative_to(base) else
                     f.name.encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()[:16]


@lru_cache(maxsize=256)
def _cached(module_name: str, module_file: str, stamp: tuple[Any, ...]) -> str:
    path = Path(module_file)
    files = module_closure(module_name, path)
    return _digest_files(files, _root(module_name, path)[1])


def code_digest(factory: Any) -> str:
    """Digest of the code behind a detector factory (a class or function): its module and the
    modules of its own package that it imports.  ``""`` when the code cannot be found (a factory
    defined interactively), so such a detector is keyed by name, version and parameters only."""
    module_name = getattr(factory, "__module__", None) or ""
    module = sys.modules.get(module_name)
    try:
        file = inspect.getsourcefile(module) if module is not None else None
    except TypeError:
        file = None
    if not file:
        return ""
    path = Path(file).resolve()
    files = module_closure(module_name, path)
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _cached(module_name, str(path), stamp)


def harness_fit_digest() -> str:
    """Digest of bench's own code between the data and the detector (standardisation, training
    rows, windows, fleets)."""
    root = Path(__file__).resolve().parent
    files = [root / m for m in HARNESS_FIT_MODULES if (root / m).is_file()]
    return _digest_files(files, root)
