"""``bench fetch NAME``: download a dataset that has a public source into the cache, checked.

The sources (upstream URL, and per file its path, size and SHA-256) are listed in
``datasets/data/sources.json``.  Downloads and checksums are pooch's (``pooch.retrieve`` with a
known hash: each file streams to a temporary name and is kept only when its SHA-256 matches); the
cache directory is platformdirs' user cache (or ``$BENCH_DATA``).

A fetch never leaves something a loader could take for data: every file of a source is
downloaded (or copied from the current cache folder when its hash still matches) into a fresh
private staging folder ``.NAME.partial-XXXX`` beside the cache folder, zips are unpacked there, a
``.complete.json`` marker listing each file's SHA-256 is written last, and only then is the
staging folder renamed to ``NAME`` (the previous folder, if any, is moved aside first and
removed).  A failed, interrupted or corrupted fetch leaves the previous folder as it was, and
nothing is ever written inside an existing cache folder, so a symlink planted there cannot
redirect a write.  The loaders use a cache folder only when it is complete (:func:`is_complete`).

A source without a published checksum (loghub's zenodo archive) is trusted on first download:
its SHA-256 is recorded in ``NAME/.sha256.json`` and checked on every later fetch.

Sizes are limited (issue 22): a download stops as soon as it passes the size the manifest lists
for the file (or :data:`MAX_DOWNLOAD_BYTES` when none is listed), and an archive is unpacked only
when the sizes its members declare add up to at most :data:`MAX_UNPACK_BYTES` (env
``BENCH_FETCH_MAX_BYTES`` / ``BENCH_FETCH_MAX_UNPACK_BYTES`` raise them).

``--mirror URL`` (or ``BENCH_FETCH_MIRROR``) downloads ``URL/<mirror_dir>/<path>`` instead of the
upstream URL, e.g. from a local copy of the shared data folder served over HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .errors import BenchError

MIRROR_ENV = "BENCH_FETCH_MIRROR"
#: written last into a fetched folder: ``{"source", "fetched", "files": {path: sha256}}``
MARKER = ".complete.json"
#: trust-on-first-use checksums of files without a published one
TOFU = ".sha256.json"
NOT_FETCHABLE = {
    "yahoo": "the Yahoo Webscope S5 data may not be redistributed; request 'S5 - A Labeled "
             "Anomaly Detection Dataset' at https://webscope.sandbox.yahoo.com/catalog.php?"
             "datatype=s&did=70, unpack it and pass yahoo:path=DIR (or set BENCH_YAHOO_PATH)",
    "hdfs": "the HDFS 2k sample and deep-loglizer's 100k sessions ship with bench; "
            "`bench fetch hdfs-v1` downloads the full log",
    "hpc": "the HPC data ships with bench",
}


#: a download with no size in the manifest stops past this many bytes
MAX_DOWNLOAD_BYTES = 4 * 2**30
#: an archive whose members declare more bytes than this in all is not unpacked
MAX_UNPACK_BYTES = 16 * 2**30
#: nor one with more members than this
MAX_UNPACK_MEMBERS = 200_000


def _limit(env: str, default: int) -> int:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BenchError(f"{env}={text!r}: write a number of bytes, e.g. {default}") from None
    if value <= 0:
        raise BenchError(f"{env}={text!r}: must be a positive number of bytes")
    return value


class _SizeGuard:
    """A pooch progress bar that stops a download (raises) once it passes ``limit`` bytes."""

    def __init__(self, url: str, limit: int, listed: bool):
        self.url, self.limit, self.listed, self.n, self.total = url, limit, listed, 0, None

    #: pooch counts whole chunks (1 KiB), so the last one may overshoot a little
    SLACK = 2**20

    def update(self, n: int) -> None:
        self.n += n
        if self.n > self.limit + self.SLACK:
            why = ("the size the manifest lists for it" if self.listed else
                   "the limit for a file of unknown size (env BENCH_FETCH_MAX_BYTES)")
            raise _TooBig(f"bench fetch: {self.url}: more than {self.limit} bytes arrived, "
                          f"{why}; the download was stopped and nothing was kept")

    def reset(self) -> None:
        self.n = 0

    def close(self) -> None:
        pass


class _TooBig(Exception):
    pass


def cache_dir() -> Path:
    """The download cache: ``$BENCH_DATA`` if set, else platformdirs' user cache directory for
    ``bench`` (``$XDG_CACHE_HOME/bench`` or ``~/.cache/bench`` on Linux,
    ``~/Library/Caches/bench`` on macOS, ``%LOCALAPPDATA%\\bench\\Cache`` on Windows)."""
    env = os.environ.get("BENCH_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("bench", appauthor=False)


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


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_complete(folder: Path) -> bool:
    """Whether a cache folder holds a whole fetch: the marker a finished fetch writes last, or,
    for a folder fetched before markers existed, every file of its source with its listed size.
    An empty or partial folder (an interrupted download, a failed fetch) is not complete."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    if (folder / MARKER).is_file():
        return True
    try:
        src = resolve(folder.name)
    except BenchError:
        return False
    for f in src.files:
        p = folder / f.path
        if not p.is_file() or (f.size is not None and p.stat().st_size != f.size):
            return False
    return True


def _pooch_error(url: str, exc: Exception) -> BenchError:
    """One line for a failed download: HTTP status, network failure or checksum mismatch."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        r = exc.response
        return BenchError(f"bench fetch: {url}: HTTP {r.status_code} {r.reason}")
    if isinstance(exc, requests.exceptions.RequestException):
        return BenchError(f"bench fetch: {url}: {type(exc).__name__}; check the network or pass "
                          f"--mirror (env {MIRROR_ENV})")
    text = str(exc).replace("\n", " ")
    if "hash" in text.lower():
        return BenchError(f"bench fetch: {url}: checksum mismatch ({text[:160]}); the file was "
                          f"not kept")
    return BenchError(f"bench fetch: {url}: {text}")


def download(url: str, dest: Path, expected: str | None, timeout: float = 60.0,
             size: int | None = None) -> str:
    """Download ``url`` to ``dest`` with pooch, checking ``expected`` (SHA-256 hex) when given
    and stopping once more than ``size`` bytes (else :data:`MAX_DOWNLOAD_BYTES`) arrived;
    return the file's SHA-256.  ``dest`` must lie in a folder this process created (the staging
    folder): pooch writes a temporary file beside it and renames it into place."""
    import pooch

    pooch.get_logger().setLevel("WARNING")
    guard = _SizeGuard(url, size if size else _limit("BENCH_FETCH_MAX_BYTES",
                                                     MAX_DOWNLOAD_BYTES), bool(size))
    try:
        pooch.retrieve(url, known_hash=f"sha256:{expected}" if expected else None,
                       fname=dest.name, path=dest.parent,
                       downloader=pooch.HTTPDownloader(progressbar=guard, timeout=timeout))
    except _TooBig as exc:
        raise BenchError(str(exc)) from None
    except Exception as exc:  # requests' errors, pooch's ValueError for a hash mismatch
        raise _pooch_error(url, exc) from None
    return expected or sha256_file(dest)


class _Reporter:
    """A rich progress bar (bytes, per file) on a terminal, a few plain lines otherwise."""

    def __init__(self, name: str, total: int, n_files: int, quiet: bool):
        self.name, self.total, self.n_files, self.quiet = name, total, n_files, quiet
        self.done_files = 0
        self.tty = sys.stderr.isatty() and not quiet
        self._bar: Any = None

    def __enter__(self) -> _Reporter:
        if self.tty:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self._bar = Progress(TextColumn(f"fetch {self.name}"), BarColumn(), DownloadColumn(),
                                 TextColumn("{task.description}"), transient=False)
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total or None)
        return self

    def file_done(self, size: int = 0) -> None:
        self.done_files += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=size,
                             description=f"{self.done_files}/{self.n_files} files")
        elif not self.quiet:
            step = max(1, self.n_files // 10)
            if self.done_files % step == 0 or self.done_files == self.n_files:
                click.echo(f"fetch {self.name}: {self.done_files}/{self.n_files} files", err=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


#: a staging or set-aside folder older than this (seconds) was left by a killed fetch
STALE_S = 24 * 3600


def _sweep(root: Path, name: str) -> None:
    """Remove ``.NAME.partial-*`` / ``.NAME.old-*`` folders a killed fetch left in ``root`` more
    than :data:`STALE_S` ago (a fetch running now in another process keeps its own)."""
    now = time.time()
    for p in [*root.glob(f".{name}.partial-*"), *root.glob(f".{name}.old-*")]:
        try:
            if p.is_symlink() or now - p.lstat().st_mtime < STALE_S:
                continue
        except OSError:
            continue
        shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _staging(root: Path, name: str) -> Iterator[Path]:
    """A fresh private folder ``root/.NAME.partial-XXXX`` (mode 0700); removed on any failure."""
    root.mkdir(parents=True, exist_ok=True)
    _sweep(root, name)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=root))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _publish(stage: Path, folder: Path) -> None:
    """Replace ``folder`` with ``stage`` by renames (the old folder moves aside, then goes)."""
    old = None
    if folder.is_symlink() or folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        old.rmdir()
        os.replace(folder, old)
    os.replace(stage, folder)
    if old is not None:
        if old.is_symlink() or old.is_file():
            old.unlink()
        else:
            shutil.rmtree(old, ignore_errors=True)


def _reuse(folder: Path, f: RemoteFile, expected: str | None, stage: Path) -> bool:
    """Copy ``folder/f.path`` into the staging folder when it is a regular file (not a link)
    whose SHA-256 is ``expected``; say whether it was."""
    src = folder / f.path
    if not expected or src.is_symlink() or not src.is_file() or sha256_file(src) != expected:
        return False
    dest = stage / f.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return True


def fetch(name: str, *, root: Path | None = None, mirror: str | None = None, force: bool = False,
          quiet: bool = False, timeout: float = 60.0) -> Path:
    """Download the source of dataset ``name`` into ``root / <source>`` (``root`` defaults to
    :func:`cache_dir`); return that folder.  A complete folder whose files all match their
    SHA-256 is kept as it is unless ``force``; files that still match are copied, not
    downloaded again."""
    src = resolve(name)
    mirror = os.environ.get(MIRROR_ENV, "") if mirror is None else mirror
    root = Path(root or cache_dir())
    folder = root / src.name
    tofu = _read_json(folder / TOFU) if folder.is_dir() else {}
    expected = {f.path: f.sha256 or tofu.get(f.path) for f in src.files}
    if not force and (folder / MARKER).is_file() and all(
            h and (folder / p).is_file() and not (folder / p).is_symlink()
            and sha256_file(folder / p) == h for p, h in expected.items()):
        return folder
    with _Reporter(src.name, src.size, len(src.files), quiet) as rep, \
            _staging(root, src.name) as stage:
        hashes: dict[str, str] = {}
        for f in src.files:
            if not force and folder.is_dir() and _reuse(folder, f, expected[f.path], stage):
                hashes[f.path] = expected[f.path] or ""
            else:
                hashes[f.path] = download(src.url(f, mirror), stage / f.path, expected[f.path],
                                          timeout, f.size)
            if not f.sha256 and f.path not in tofu:
                tofu[f.path] = hashes[f.path]
                click.echo(f"fetch {src.name}: {f.path} has no published checksum; recorded "
                           f"sha256 {hashes[f.path]} in {folder / TOFU} and will check it from "
                           f"now on", err=True)
            if src.unpack and f.path.endswith(".zip"):
                _unpack(stage / f.path, stage)
            rep.file_done(f.size or 0)
        if tofu:
            (stage / TOFU).write_text(json.dumps(tofu, indent=1))
        (stage / MARKER).write_text(json.dumps(
            {"source": src.name, "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "files": hashes}, indent=1))
        _publish(stage, folder)
    return folder


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            total, limit = sum(i.file_size for i in infos), _limit(
                "BENCH_FETCH_MAX_UNPACK_BYTES", MAX_UNPACK_BYTES)
            if total > limit or len(infos) > MAX_UNPACK_MEMBERS:
                raise BenchError(f"bench fetch: {archive.name}: {len(infos)} members declaring "
                                 f"{total} bytes in all, over the limit of {limit} bytes and "
                                 f"{MAX_UNPACK_MEMBERS} members (env "
                                 f"BENCH_FETCH_MAX_UNPACK_BYTES); not unpacked, nothing kept")
            for m in z.namelist():
                target = (folder / m).resolve()
                if not target.is_relative_to(folder.resolve()):
                    raise BenchError(f"bench fetch: {archive.name}: member {m!r} escapes the "
                                     f"folder")
            z.extractall(folder)
    except zipfile.BadZipFile:
        raise BenchError(f"bench fetch: {archive.name} is not a zip archive") from None


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
