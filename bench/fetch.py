"""``bench fetch NAME``: download a dataset that has a public source into the cache, checked.

The sources (upstream URL, and per file its path, size and SHA-256) are listed in
``datasets/data/sources.json``.  Files land in ``cache_dir() / NAME / PATH``, which is where the
dataset loaders look (after a ``path=`` they are given).  Each file is written to ``PATH.part``,
hashed while it streams, and renamed only when its SHA-256 matches; a file already in the cache
with the right hash is not downloaded again.  A source without a published checksum (loghub's
zenodo archive) is trusted on first download: its SHA-256 is recorded in ``NAME/.sha256.json``
and checked on every later fetch.

``--mirror URL`` (or ``BENCH_FETCH_MIRROR``) downloads ``URL/<mirror_dir>/<path>`` instead of the
upstream URL, e.g. from a local copy of the shared data folder served over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .errors import BenchError

MIRROR_ENV = "BENCH_FETCH_MIRROR"
CHUNK = 1 << 16
NOT_FETCHABLE = {
    "yahoo": "the Yahoo Webscope S5 data may not be redistributed; request 'S5 - A Labeled "
             "Anomaly Detection Dataset' at https://webscope.sandbox.yahoo.com/catalog.php?"
             "datatype=s&did=70, unpack it and pass yahoo:path=DIR (or set BENCH_YAHOO_PATH)",
    "hdfs": "the HDFS 2k sample and deep-loglizer's 100k sessions ship with bench; "
            "`bench fetch hdfs-v1` downloads the full log",
    "hpc": "the HPC data ships with bench",
}


def cache_dir() -> Path:
    """The download cache: ``$BENCH_DATA`` if set, else the platform's user cache directory
    (``$XDG_CACHE_HOME/bench`` or ``~/.cache/bench`` on Linux, ``~/Library/Caches/bench`` on
    macOS, ``%LOCALAPPDATA%\\bench\\Cache`` on Windows)."""
    env = os.environ.get("BENCH_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "bench"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "bench" / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "bench"


@dataclass
class RemoteFile:
    path: str
    sha256: str | None
    size: int | None
    url: str = ""
    query: str = ""


@dataclass
class Source:
    name: str
    description: str
    license: str
    base_url: str
    mirror_dir: str
    files: list[RemoteFile] = field(default_factory=list)
    unpack: bool = False

    def url(self, f: RemoteFile, mirror: str = "") -> str:
        if mirror:
            return f"{mirror.rstrip('/')}/{self.mirror_dir}/{f.path}"
        return f.url or f"{self.base_url}{f.path}{f.query}"

    @property
    def size(self) -> int:
        return sum(f.size or 0 for f in self.files)


def _manifest_path() -> Path:
    from .datasets import DATA_DIR

    return DATA_DIR / "sources.json"


def sources() -> tuple[dict[str, Source], dict[str, str]]:
    """The fetchable sources by name, and aliases (``msl`` -> ``smap``)."""
    raw = json.loads(_manifest_path().read_text())
    out = {}
    for name, s in raw["sources"].items():
        files = [RemoteFile(**f) for f in s.pop("files")]
        out[name] = Source(name=name, files=files, **s)
    return out, raw.get("aliases", {})


def resolve(name: str) -> Source:
    srcs, aliases = sources()
    if name in NOT_FETCHABLE:
        raise BenchError(f"bench fetch {name}: nothing to download: {NOT_FETCHABLE[name]}")
    key = aliases.get(name, name)
    if key not in srcs:
        raise BenchError(f"bench fetch: no public source for '{name}'; fetchable: "
                         f"{', '.join(sorted([*srcs, *aliases]))}")
    return srcs[key]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, expected: str | None,
             advance: Callable[[int], None] = lambda n: None, timeout: float = 60.0) -> str:
    """Stream ``url`` to ``dest`` through ``dest.part``; return its SHA-256.  A mismatch with
    ``expected`` removes the partial file and raises a one-line error."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as out:
            for chunk in iter(lambda: r.read(CHUNK), b""):
                out.write(chunk)
                h.update(chunk)
                advance(len(chunk))
    except urllib.error.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise BenchError(f"bench fetch: {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise BenchError(f"bench fetch: {url}: {reason}; check the network or pass --mirror "
                         f"(env {MIRROR_ENV})") from None
    digest = h.hexdigest()
    if expected and digest != expected:
        part.unlink(missing_ok=True)
        raise BenchError(f"bench fetch: {url}: checksum mismatch (sha256 {digest[:16]}..., "
                         f"expected {expected[:16]}...); the file was not kept")
    part.replace(dest)
    return digest


class _Reporter:
    """A rich progress bar on a terminal, a few plain lines otherwise."""

    def __init__(self, name: str, total: int, n_files: int, quiet: bool):
        self.name, self.total, self.n_files, self.quiet = name, total, n_files, quiet
        self.done_files = 0
        self.tty = sys.stderr.isatty() and not quiet
        self._bar: Any = None

    def __enter__(self) -> _Reporter:
        if self.tty:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(TextColumn(f"fetch {self.name}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TextColumn("{task.description}"),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total or None)
        return self

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def file_done(self, cached_size: int = 0) -> None:
        """One file finished; ``cached_size``: bytes of a file found in the cache."""
        self.done_files += 1
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.done_files}/{self.n_files} files")
            self._bar.advance(self._task, cached_size)
        elif not self.quiet:
            step = max(1, self.n_files // 10)
            if self.done_files % step == 0 or self.done_files == self.n_files:
                click.echo(f"fetch {self.name}: {self.done_files}/{self.n_files} files", err=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def fetch(name: str, *, root: Path | None = None, mirror: str | None = None, force: bool = False,
          quiet: bool = False, timeout: float = 60.0) -> Path:
    """Download the source of dataset ``name`` into ``root / <source>`` (``root`` defaults to
    :func:`cache_dir`); return that folder.  Files already there with the right SHA-256 are kept
    unless ``force``."""
    src = resolve(name)
    mirror = os.environ.get(MIRROR_ENV, "") if mirror is None else mirror
    folder = (root or cache_dir()) / src.name
    folder.mkdir(parents=True, exist_ok=True)
    tofu_path = folder / ".sha256.json"
    tofu = json.loads(tofu_path.read_text()) if tofu_path.exists() else {}
    with _Reporter(src.name, src.size, len(src.files), quiet) as rep:
        for f in src.files:
            dest = folder / f.path
            expected = f.sha256 or tofu.get(f.path)
            if dest.exists() and not force and expected and sha256_file(dest) == expected:
                rep.file_done(f.size or 0)
                continue
            digest = download(src.url(f, mirror), dest, expected, rep.advance, timeout)
            if not f.sha256 and f.path not in tofu:
                tofu[f.path] = digest
                tofu_path.write_text(json.dumps(tofu, indent=1))
                click.echo(f"fetch {src.name}: {f.path} has no published checksum; recorded "
                           f"sha256 {digest} in {tofu_path} and will check it from now on",
                           err=True)
            if src.unpack and dest.suffix == ".zip":
                _unpack(dest, folder)
            rep.file_done()
    return folder


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            for m in z.namelist():
                target = (folder / m).resolve()
                if not str(target).startswith(str(folder.resolve())):
                    raise BenchError(f"bench fetch: {archive}: member {m!r} escapes the folder")
            z.extractall(folder)
    except zipfile.BadZipFile:
        raise BenchError(f"bench fetch: {archive} is not a zip archive; delete it and retry"
                         ) from None


@click.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="List the fetchable datasets.")
@click.option("--mirror", default=None, metavar="URL",
              help=f"Download URL/<folder>/<path> instead of the upstream URL (env {MIRROR_ENV}).")
@click.option("--force", is_flag=True, help="Download again even when the cache holds the file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def fetch_command(names: tuple[str, ...], list_only: bool, mirror: str | None, force: bool,
                  quiet: bool) -> None:
    """Download datasets with a public source into the cache ($BENCH_DATA or the platform cache
    directory), checking each file's SHA-256; the dataset loaders read them from there."""
    if list_only or not names:
        srcs, aliases = sources()
        for s in srcs.values():
            also = [a for a, t in aliases.items() if t == s.name]
            size = f"{s.size / 2**20:.1f} MB" if s.size else "size unknown"
            alias = f" (also: {', '.join(also)})" if also else ""
            click.echo(f"{s.name}{alias}: {len(s.files)} file(s), {size}: {s.description}")
        click.echo(f"cache: {cache_dir()}")
        return
    for name in names:
        folder = fetch(name, mirror=mirror, force=force, quiet=quiet)
        click.echo(f"{name}: {folder}")
