"""HDFS: Drain parsing agrees with loghub, sessions, labels, splits, errors, the generator."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from bench.datasets import _hdfs_gen, hdfs

import bench

DATA = Path(hdfs.__file__).parent / "data" / "hdfs"
SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "hdfs"


def test_parse_of_raw_2k_log_matches_loghub_structured_csv():
    agree = hdfs.parser_agreement(DATA / "HDFS_2k.log", DATA / "HDFS_2k.log_structured.csv")
    assert agree["lines"] == 2000 and agree["blocks"] == 2200
    assert agree["events_ours"] == agree["events_loghub"] == 14
    assert agree["grouping_accuracy"] == 1.0
    assert agree["blocks_identical"] == 1.0


def test_structured_csv_and_raw_log_give_the_same_dataset():
    raw = hdfs.hdfs(source="2k").series[0]
    csv = hdfs.hdfs(path=str(DATA / "HDFS_2k.log_structured.csv"),
                    labels=str(DATA / "HDFS_2k_block_labels.csv")).series[0]
    assert raw.meta["block_ids"] == csv.meta["block_ids"]
    np.testing.assert_array_equal(raw.labels, csv.labels)
    # same counts up to the order of the event columns
    assert sorted(map(tuple, raw.values.T)) == sorted(map(tuple, csv.values.T))


def test_shipped_2k_sessions_labels_and_chronological_split():
    ds = hdfs.hdfs(source="2k")
    s = ds.series[0]
    assert s.values.shape == (2200, 14) and s.values.dtype == np.float32
    assert int(s.labels.sum()) == 69
    assert (np.diff(s.timestamps.astype("datetime64[s]").astype(np.int64)) >= 0).all()
    assert (s.split.train_end, s.split.val_end) == (1320, 1760)
    for part in ("val", "test"):
        assert s.part(part)[1].sum() > 0
    assert ds.license and ds.provenance and len(ds.fingerprint()) == 16
    assert len(ds.meta["source_sha256"]) == 16
    # each block's counts sum to the lines naming it (a line names a block once)
    incidences = sum(len(set(b)) for _, b, _ in hdfs.iter_events(DATA / "HDFS_2k.log",
                                                                 hdfs.TemplateParser()))
    assert s.values.sum() == incidences == 2206  # 2,000 lines; two name 100 blocks, one 9


def test_feature_weightings_and_line_view():
    counts = hdfs.hdfs(source="2k").series[0]
    binary = hdfs.hdfs(source="2k", features="binary").series[0]
    tfidf = hdfs.hdfs(source="2k", features="tfidf").series[0]
    np.testing.assert_array_equal(binary.values, (counts.values > 0).astype(np.float32))
    assert (tfidf.values[counts.values == 0] == 0).all()
    assert not np.allclose(tfidf.values, counts.values)
    lines = hdfs.hdfs(source="2k", view="lines").series[0]
    assert lines.values.shape == (2000, 14)
    np.testing.assert_array_equal(lines.values.sum(axis=1), 1)
    with pytest.raises(bench.BenchError, match="features="):
        hdfs.hdfs(features="nope")


def test_deeploglizer_sessions_use_its_split():
    s = hdfs.hdfs(source="100k").series[0]
    assert s.values.shape[0] == 7940 and int(s.labels.sum()) == 313
    assert s.split.val_end == 6352  # deep-loglizer's training file
    assert int(s.labels[6352:].sum()) == 57
    n_events = s.values.sum(axis=1)
    assert n_events.min() >= 1


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/hdfs not present")
def test_shared_session_files_read_uncompressed_and_match_the_shipped_copy():
    shared = hdfs.hdfs(path=str(SHARED / "deeploglizer_HDFS_100k" / "hdfs_1.0_tar")).series[0]
    shipped = hdfs.hdfs(source="100k").series[0]
    np.testing.assert_array_equal(shared.values, shipped.values)
    np.testing.assert_array_equal(shared.labels, shipped.labels)


def test_blocks_without_labels_are_named(tmp_path):
    labels = (DATA / "HDFS_2k_block_labels.csv").read_text().splitlines()
    (tmp_path / "labels.csv").write_text("\n".join(labels[:-5]) + "\n")
    with pytest.raises(bench.BenchError, match=r"5 of 2200 blocks have no label in .*labels.csv"):
        hdfs.hdfs(path=str(DATA / "HDFS_2k.log"), labels=str(tmp_path / "labels.csv"))


def test_bad_log_line_and_bad_label_name_file_and_line(tmp_path):
    lines = (DATA / "HDFS_2k.log").read_text().splitlines()[:20]
    lines[6] = "this is not an HDFS line"
    (tmp_path / "x.log").write_text("\n".join(lines) + "\n")
    (tmp_path / "anomaly_label.csv").write_text("BlockId,Label\nblk_1,Maybe\n")
    with pytest.raises(bench.BenchError, match=r"x.log line 7: not a loghub HDFS line"):
        hdfs.hdfs(path=str(tmp_path / "x.log"))
    (tmp_path / "x.log").write_text("\n".join(lines[:6]) + "\n")
    with pytest.raises(bench.BenchError, match=r"anomaly_label.csv line 2: label 'Maybe'"):
        hdfs.hdfs(path=str(tmp_path / "x.log"))
    (tmp_path / "anomaly_label.csv").write_text("Block,Label\n")
    with pytest.raises(bench.BenchError, match=r"missing column\(s\) \['BlockId'\]"):
        hdfs.hdfs(path=str(tmp_path / "x.log"))


def test_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(bench.BenchError, match="not found"):
        hdfs.hdfs(path=str(tmp_path / "none.log"))
    (tmp_path / "a.log").write_text("")
    with pytest.raises(bench.BenchError, match="no anomaly_label.csv beside"):
        hdfs.hdfs(path=str(tmp_path / "a.log"))
    with pytest.raises(bench.BenchError, match="bench fetch hdfs-v1"):
        hdfs.hdfs(source="v1")


def test_generator_is_seeded_and_parses_to_labelled_sessions(tmp_path):
    a = hdfs.hdfs_synthetic(n_blocks=300, seed=3)
    b = hdfs.hdfs_synthetic(n_blocks=300, seed=3)
    c = hdfs.hdfs_synthetic(n_blocks=300, seed=4)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    s = a.series[0]
    assert s.values.shape[0] == 300 and s.labels.sum() == a.meta["anomalous_blocks"]
    # every template the generator writes is recovered by Drain as one event type
    assert 10 <= s.values.shape[1] <= 14
    st = _hdfs_gen.write_log(tmp_path / "g.log", tmp_path / "l.csv", n_lines=5000,
                             anomaly_rate=0.2, seed=1)
    assert 5000 <= st["lines"] < 5200 and st["anomalous"] > 0
    assert sum(1 for _ in open(tmp_path / "g.log")) == st["lines"]


def test_cache_does_not_change_the_parse(tmp_path):
    _hdfs_gen.write_log(tmp_path / "g.log", tmp_path / "l.csv", n_lines=20000, seed=2,
                        anomaly_rate=0.1)
    cached = [e for _, _, e in hdfs.iter_events(tmp_path / "g.log", hdfs.TemplateParser())]
    plain = [e for _, _, e in hdfs.iter_events(tmp_path / "g.log",
                                               hdfs.TemplateParser(cache_size=1))]
    assert cached == plain


def _parse_peak(log: Path) -> float:
    gc.collect()
    tracemalloc.start()
    n = sum(1 for _ in hdfs.iter_events(log, hdfs.TemplateParser()))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n > 0
    return peak / 2**20


def test_streaming_parse_memory_is_flat(tmp_path):
    _hdfs_gen.write_log(tmp_path / "s.log", tmp_path / "s.csv", n_lines=10_000, seed=0)
    _hdfs_gen.write_log(tmp_path / "b.log", tmp_path / "b.csv", n_lines=80_000, seed=0)
    small, big = _parse_peak(tmp_path / "s.log"), _parse_peak(tmp_path / "b.log")
    assert big < small * 1.5 + 0.5, (small, big)  # 8x the lines, not 8x the memory
