"""`bench fetch`: download, checksum, cache and the loaders reading the cache, against a local
HTTP server on 127.0.0.1 (nothing here reaches the internet)."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from bench.datasets import _util, hdfs, nab, smap
from cli_helpers import run_cli

import bench
from bench import fetch

SHARED = Path(__file__).parents[1] / ".." / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "smap").is_dir() or not (SHARED / "nab").is_dir(),
                                  reason="../shared/data not present")


class _Server:
    """A static file server for ``root`` on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                log.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(root: Path) -> _Server:
        servers.append(_Server(root))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty BENCH_DATA cache, and no ../shared/data fallback for the loaders."""
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(_util, "SHARED_DATA", tmp_path / "no-shared-data")
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)
    return tmp_path / "cache"


@needs_shared
def test_fetch_checks_caches_and_the_loaders_read_the_cache(serve, cache):
    with pytest.raises(bench.BenchError, match="bench fetch smap"):
        smap.msl()
    server = serve(SHARED)
    folder = fetch.fetch("msl", mirror=server.url, quiet=True)  # alias of smap
    assert folder == cache / "smap"
    assert fetch.sha256_file(folder / "SMAP.tar.gz") == fetch.resolve("smap").files[0].sha256
    assert len(server.requests) == 2 and [p.name for p in cache.iterdir()] == ["smap"]
    ds = smap.msl()
    assert len(ds) == 27 and ds.series[0].meta["source_file"].startswith(str(cache))
    fetch.fetch("smap", mirror=server.url, quiet=True)
    assert len(server.requests) == 2  # cached files with the right hash are not downloaded
    fetch.fetch("smap", mirror=server.url, quiet=True, force=True)
    assert len(server.requests) == 4


@needs_shared
def test_cli_fetch_nab_with_env_mirror(serve, cache, capsys, monkeypatch):
    server = serve(SHARED)
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    code, out, err = run_cli(capsys, "fetch", "nab")
    assert code == 0, err
    assert str(cache / "nab") in out and "62/62 files" in err
    ds = nab.nab()
    assert len(ds) == 58 and ds.meta["root"] == str(cache / "nab")


def test_checksum_mismatch_keeps_nothing(serve, cache, tmp_path):
    (tmp_path / "mirror" / "smap").mkdir(parents=True)
    (tmp_path / "mirror" / "smap" / "SMAP.tar.gz").write_bytes(b"corrupted")
    server = serve(tmp_path / "mirror")
    with pytest.raises(bench.BenchError, match="SMAP.tar.gz: checksum mismatch"):
        fetch.fetch("smap", mirror=server.url, quiet=True)
    assert not cache.exists() or list(cache.iterdir()) == []  # no folder, no staging left


def _nab_mirror(tmp_path: Path, drop: str | None = None) -> Path:
    """A copy of the shared NAB folder to serve, optionally without one file (a failed fetch
    half-way: 404 on that file)."""
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED / "nab", mirror / "nab")
    if drop:
        (mirror / "nab" / drop).unlink()
    return mirror


@needs_shared
def test_a_failed_fetch_leaves_nothing_a_loader_would_read(serve, cache, tmp_path, monkeypatch):
    """The issue's case: a fetch that fails half-way used to leave an empty or partial `nab`
    folder that `bench run -d nab` then preferred to the data available elsewhere."""
    server = serve(_nab_mirror(tmp_path, drop="data/realTraffic/speed_7578.csv"))
    with pytest.raises(bench.BenchError, match=r"speed_7578.csv: HTTP 404"):
        fetch.fetch("nab", mirror=server.url, quiet=True)
    assert len(server.requests) > 10  # it failed part-way, after many files
    assert list(cache.iterdir()) == []  # no nab folder, no staging folder
    monkeypatch.setattr(_util, "SHARED_DATA", SHARED)
    assert nab.nab(series="realTraffic/*").meta["root"] == str(SHARED / "nab")


@needs_shared
def test_loaders_skip_an_incomplete_cache_folder(cache, monkeypatch):
    """A folder left by an older bench (or a user's half copy) is not data: the loader goes on to
    the next place and, when nothing is found, names the incomplete folder."""
    (cache / "nab" / "data").mkdir(parents=True)
    (cache / "nab" / "LICENSE.txt").write_text("partial")
    assert not fetch.is_complete(cache / "nab")
    with pytest.raises(bench.BenchError, match=r"nab is an incomplete download, skipped.*"
                                               r"bench fetch nab"):
        nab.nab()
    monkeypatch.setattr(_util, "SHARED_DATA", SHARED)
    assert nab.nab(series="realTraffic/*").meta["root"] == str(SHARED / "nab")
    # a complete copy made by hand (every listed file, right sizes) is accepted
    shutil.rmtree(cache / "nab")
    shutil.copytree(SHARED / "nab", cache / "nab")
    assert fetch.is_complete(cache / "nab")
    assert nab.nab(series="realTraffic/*").meta["root"] == str(cache / "nab")


@needs_shared
def test_refetch_failure_keeps_the_previous_folder(serve, cache, tmp_path):
    good = serve(_nab_mirror(tmp_path / "good"))
    folder = fetch.fetch("nab", mirror=good.url, quiet=True)
    assert fetch.is_complete(folder) and (folder / fetch.MARKER).is_file()
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    bad = serve(_nab_mirror(tmp_path / "bad", drop="labels/combined_windows.json"))
    with pytest.raises(bench.BenchError, match="combined_windows.json: HTTP 404"):
        fetch.fetch("nab", mirror=bad.url, quiet=True, force=True)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    assert [p.name for p in cache.iterdir()] == ["nab"]
    assert len(nab.nab()) == 58


@needs_shared
def test_planted_symlinks_are_never_written_through(serve, cache, tmp_path):
    """Links inside the cache folder (a planted ``.part`` file, a data file pointing outside)
    are replaced with the folder; their targets outside the cache keep their bytes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep me")
    (outside / "victim2").write_text("keep me too")
    (cache / "smap").mkdir(parents=True)
    (cache / "smap" / "SMAP.tar.gz.part").symlink_to(outside / "victim")
    (cache / "smap" / "SMAP.tar.gz").symlink_to(outside / "victim2")
    server = serve(SHARED)
    folder = fetch.fetch("smap", mirror=server.url, quiet=True)
    assert (outside / "victim").read_text() == "keep me"
    assert (outside / "victim2").read_text() == "keep me too"
    tar = folder / "SMAP.tar.gz"
    assert not tar.is_symlink() and fetch.sha256_file(tar) == fetch.resolve("smap").files[0].sha256
    assert not (folder / "SMAP.tar.gz.part").exists()
    # the cache folder itself a link to somewhere else: the link is replaced, not written into
    shutil.rmtree(folder)
    (outside / "elsewhere").mkdir()
    (cache / "smap").symlink_to(outside / "elsewhere", target_is_directory=True)
    fetch.fetch("smap", mirror=server.url, quiet=True)
    assert not (cache / "smap").is_symlink() and list((outside / "elsewhere").iterdir()) == []


def test_cache_dir_is_platformdirs_unless_bench_data(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fetch.cache_dir() == platformdirs.user_cache_path("bench", appauthor=False)
    if sys.platform.startswith("linux"):
        assert fetch.cache_dir() == tmp_path / "xdg" / "bench"
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "mine"))
    assert fetch.cache_dir() == tmp_path / "mine"


def test_http_error_names_the_url(serve, cache, tmp_path):
    (tmp_path / "empty").mkdir()
    server = serve(tmp_path / "empty")
    with pytest.raises(bench.BenchError, match=r"/nab/LICENSE.txt: HTTP 404"):
        fetch.fetch("nab", mirror=server.url, quiet=True)


def test_unpublished_checksum_is_recorded_then_enforced_and_zip_unpacked(serve, cache, tmp_path):
    """hdfs-v1 (zenodo) has no published checksum: the first download's SHA-256 is recorded and
    checked afterwards; the zip is unpacked and `hdfs:source=v1` reads it from the cache."""
    mirror = tmp_path / "mirror" / "hdfs-v1"
    mirror.mkdir(parents=True)
    src = Path(hdfs.__file__).parent / "data" / "hdfs"
    with zipfile.ZipFile(mirror / "HDFS_v1.zip", "w") as z:
        z.write(src / "HDFS_2k.log", "HDFS.log")
        z.write(src / "HDFS_2k_block_labels.csv", "preprocessed/anomaly_label.csv")
    server = serve(tmp_path / "mirror")
    folder = fetch.fetch("hdfs-v1", mirror=server.url, quiet=True)
    assert (folder / ".sha256.json").is_file() and (folder / "HDFS.log").is_file()
    ds = hdfs.hdfs(source="v1")
    assert ds.series[0].values.shape == (2200, 14)
    shutil.copy(src / "HDFS_2k.log", mirror / "HDFS_v1.zip")  # the upstream file changes
    with pytest.raises(bench.BenchError, match="checksum mismatch"):
        fetch.fetch("hdfs-v1", mirror=server.url, quiet=True, force=True)


def test_cli_list_and_refusals(capsys, cache):
    code, out, _ = run_cli(capsys, "fetch", "--list")
    assert code == 0
    for name in ("nab", "telemetry", "smap", "msl", "hdfs-v1"):
        assert name in out
    code, _, err = run_cli(capsys, "fetch", "yahoo")
    assert code == 1 and "Webscope" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "fetch", "nope")
    assert code == 1 and "fetchable: hdfs-v1, msl, nab, smap, telemetry" in err


def test_every_source_file_has_a_checksum_except_the_trusted_on_first_use_one():
    srcs, aliases = fetch.sources()
    assert set(srcs) == {"nab", "telemetry", "smap", "hdfs-v1"} and aliases == {"msl": "smap"}
    assert len(srcs["nab"].files) == 62 and len(srcs["telemetry"].files) == 625
    for name, s in srcs.items():
        for f in s.files:
            assert (f.sha256 is None) == (name == "hdfs-v1"), f.path
            assert s.url(f).startswith("https://")


def test_staging_left_by_a_killed_fetch_is_swept_later(serve, cache, tmp_path):
    import os
    import time

    old = cache / ".smap.partial-killed"
    (old / "sub").mkdir(parents=True)
    (old / "sub" / "SMAP.tar.gz").write_bytes(b"half")
    recent = cache / ".smap.partial-running"
    recent.mkdir()
    past = time.time() - fetch.STALE_S - 60
    os.utime(old, (past, past))
    (tmp_path / "empty").mkdir()
    server = serve(tmp_path / "empty")
    with pytest.raises(bench.BenchError, match="HTTP 404"):
        fetch.fetch("smap", mirror=server.url, quiet=True)
    assert sorted(p.name for p in cache.iterdir()) == [".smap.partial-running"]


# ----------------------------------------------------------------------------- issue 22: sizes


def test_a_download_past_its_size_limit_is_stopped_and_nothing_kept(serve, cache, tmp_path,
                                                                   monkeypatch):
    """hdfs-v1 lists no size: a file of unknown size stops at BENCH_FETCH_MAX_BYTES (plus the
    1 MiB a chunked download may overshoot by)."""
    mirror = tmp_path / "mirror" / "hdfs-v1"
    mirror.mkdir(parents=True)
    (mirror / "HDFS_v1.zip").write_bytes(os.urandom(3 * 2**20))
    server = serve(tmp_path / "mirror")
    monkeypatch.setenv("BENCH_FETCH_MAX_BYTES", "1000")
    with pytest.raises(bench.BenchError) as exc:
        fetch.fetch("hdfs-v1", mirror=server.url, quiet=True)
    msg = str(exc.value)
    assert "more than 1000 bytes arrived" in msg and "BENCH_FETCH_MAX_BYTES" in msg
    assert "\n" not in msg
    assert not list(Path(cache).glob("hdfs-v1*")) and not list(Path(cache).glob(".hdfs-v1*"))
    monkeypatch.setenv("BENCH_FETCH_MAX_BYTES", "-1")
    with pytest.raises(bench.BenchError, match="BENCH_FETCH_MAX_BYTES=.-1.: must be a positive"):
        fetch.fetch("hdfs-v1", mirror=server.url, quiet=True)


def test_a_zip_bomb_is_not_unpacked(serve, cache, tmp_path, monkeypatch):
    """A 60 MB member that compresses to about 60 kB: refused from the sizes the archive
    declares, before anything is written."""
    mirror = tmp_path / "mirror" / "hdfs-v1"
    mirror.mkdir(parents=True)
    with zipfile.ZipFile(mirror / "HDFS_v1.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("HDFS.log", b"\0" * (60 * 2**20))
    assert (mirror / "HDFS_v1.zip").stat().st_size < 2**20
    server = serve(tmp_path / "mirror")
    monkeypatch.setenv("BENCH_FETCH_MAX_UNPACK_BYTES", str(10 * 2**20))
    with pytest.raises(bench.BenchError, match=r"HDFS_v1.zip: 1 members declaring 62914560 "
                                               r"bytes in all, over the limit"):
        fetch.fetch("hdfs-v1", mirror=server.url, quiet=True)
    assert not list(Path(cache).glob("hdfs-v1*"))
