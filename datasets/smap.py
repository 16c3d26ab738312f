"""NASA spacecraft telemetry (``smap``, ``msl``): the telemanom channels of Hundman et al.
(KDD 2018), one series per channel."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np

import bench

from . import _util

SAMPLE = _util.shipped("smap", "SMAP_sample.tar.gz")
LABELS = "labeled_anomalies.csv"
PROVENANCE = ("salesforce/Merlion @ 085ef8a data/smap/SMAP.tar.gz (telemanom data, "
              "Hundman et al. KDD 2018)")


class _Source:
    """The channel files: a folder (``labeled_anomalies.csv``, ``train/``, ``test/``, possibly
    one level down) or a ``.tar.gz`` of one, read without unpacking."""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path
        self.files: dict[str, bytes | Path] = {}
        if path.is_dir():
            for p in path.rglob("*"):
                if p.is_file():
                    self.files[p.relative_to(path).as_posix()] = p
        else:  # pass 1: names, and the small CSV files' bytes
            self._scan(lambda m: m.name.endswith(".csv"), names=True)

    def _scan(self, want, names: bool = False) -> None:
        try:
            with tarfile.open(self.path, "r:*") as tar:
                for m in tar:
                    if not m.isfile():
                        continue
                    key = m.name.removeprefix("./")
                    if names:
                        self.files.setdefault(key, b"")
                    if want(m):
                        f = tar.extractfile(m)
                        self.files[key] = f.read() if f else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise bench.BenchError(f"dataset '{self.name}': {self.path} is not a readable tar "
                                   f"archive ({exc}); pass SMAP.tar.gz or its unpacked folder"
                                   ) from None

    def fetch(self, keys: list[str]) -> None:
        """Read ``keys`` from a tar archive in one pass (a no-op for a folder)."""
        if self.path.is_file():
            wanted = set(keys)
            self._scan(lambda m: m.name.removeprefix("./") in wanted)

    def find(self, suffix: str) -> str | None:
        hits = sorted(k for k in self.files if k == suffix or k.endswith("/" + suffix))
        return hits[0] if hits else None

    def text(self, key: str) -> str:
        v = self.files[key]
        return v.decode() if isinstance(v, bytes) else Path(v).read_text()

    def array(self, key: str) -> np.ndarray:
        v = self.files[key]
        try:
            a = np.load(io.BytesIO(v) if isinstance(v, bytes) else v, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise bench.BenchError(f"dataset '{self.name}': {self.path}:{key} is not a numpy "
                                   f"array file ({exc})") from None
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
            raise bench.BenchError(f"dataset '{self.name}': {self.path}:{key}: expected a numeric "
                                   f"[T, F] array, got {a.dtype} {a.shape}")
        return a


def _ranges(name: str, where: str, line: int, text: str) -> list[list[int]]:
    try:
        r = json.loads(text)
        ok = all(len(x) == 2 and int(x[0]) <= int(x[1]) for x in r)
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise bench.BenchError(f"dataset '{name}': {where} line {line}: anomaly_sequences "
                               f"{text[:60]!r} is not a list of [start, end] index pairs")
    return [[int(a), int(b)] for a, b in r]


def load(name: str, spacecraft: str, path: str, sample: bool, channels: str,
         val_frac: float) -> bench.Dataset:
    if sample and not path:
        p = SAMPLE
    else:
        cands = [_util.cache_dir() / "smap" / "SMAP.tar.gz", _util.cache_dir() / "smap",
                 _util.SHARED_DATA / "smap" / "SMAP.tar.gz"]
        p = _util.locate(name, path, cands, "SMAP.tar.gz or its unpacked folder "
                         "(labeled_anomalies.csv, train/*.npy, test/*.npy)", fetch="smap")
    src = _Source(name, p)
    lab_key = src.find(LABELS)
    if lab_key is None:
        raise bench.BenchError(f"dataset '{name}': no {LABELS} in {p}")
    import pandas as pd

    where = f"{p}:{lab_key}"
    df = pd.read_csv(io.StringIO(src.text(lab_key)))
    _util.require_columns(name, Path(where), df.columns,
                          ["chan_id", "spacecraft", "anomaly_sequences", "num_values"])
    rows, ranges = [], {}
    for i, r in enumerate(df.itertuples(index=False), 2):
        if r.spacecraft == spacecraft and _util.matches(r.chan_id, channels):
            if r.chan_id not in ranges:  # a channel listed twice (P-2) gets both rows' ranges
                rows.append((i, r))
                ranges[r.chan_id] = []
            ranges[r.chan_id] += _ranges(name, where, i, r.anomaly_sequences)
    if not rows:
        raise bench.BenchError(f"dataset '{name}': no {spacecraft} channel in {where} matches "
                               f"channels={channels!r}")
    series, used = [], [lab_key]
    for line, r in rows:
        keys = [src.find(f"{part}/{r.chan_id}.npy") for part in ("train", "test")]
        if None in keys:
            raise bench.BenchError(f"dataset '{name}': {p} has no train/ and test/ "
                                   f"{r.chan_id}.npy for channel {r.chan_id} ({where} line {line})")
        used += keys
    src.fetch(used[1:])
    for (line, r), keys in zip(rows, zip(used[1::2], used[2::2], strict=True), strict=True):
        train, test = src.array(keys[0]), src.array(keys[1])
        if train.shape[1] != test.shape[1] or len(test) != int(r.num_values):
            raise bench.BenchError(
                f"dataset '{name}': channel {r.chan_id}: train {train.shape} / test {test.shape} "
                f"disagree with num_values={r.num_values} ({where} line {line})")
        y = np.zeros(len(train) + len(test), dtype=np.int8)
        for a, b in ranges[r.chan_id]:
            if b >= len(test):
                raise bench.BenchError(f"dataset '{name}': {where} line {line}: range [{a}, {b}] "
                                       f"beyond the {len(test)} test rows of {r.chan_id}")
            y[len(train) + a: len(train) + b + 1] = 1
        n_tr = len(train)
        va = n_tr + max(1, min(len(test) - 1, int(round(val_frac * len(test)))))
        series.append(bench.Series(
            np.concatenate([train, test]).astype(np.float32), y, name=r.chan_id,
            split=bench.Split(n_tr, va),
            meta={"features": ["telemetry"] + [f"command_{i}" for i in range(1, train.shape[1])],
                  "anomaly_sequences": ranges[r.chan_id], "n_train": n_tr,
                  "source_file": str(p)}))
    h = _util.sha256_files([p]) if p.is_file() else _util.sha256_files(src.files[k] for k in used)
    return bench.Dataset(
        name, series, description=DESCRIPTIONS[name], license="BSD-3-Clause (LICENSE_Merlion.txt)",
        family="telemetry", provenance=PROVENANCE,
        meta={"source_sha256": h, "spacecraft": spacecraft,
              "split_rule": f"train = the channel's train array (no labels); validation = first "
                            f"{val_frac:.0%} of its test array; test = the rest"},
        evaluation=EVALUATION,
        title=_util.title(name, p == SAMPLE, len(series), CHANNELS[name], "channels"),
    )


#: the channels' training arrays were curated to be nominal (a use of labels: semi-supervised)
EVALUATION = bench.Evaluation(
    protocol="semi-supervised",
    split="train = the channel's nominal train array; validation = the first part of its test "
          "array; test = the rest")

#: distinct channels in the full sets (telemanom's labeled_anomalies.csv; P-2 is listed twice)
CHANNELS = {"smap": 54, "msl": 27}

DESCRIPTIONS = {
    "smap": "NASA SMAP satellite telemetry (telemanom, Hundman et al. KDD 2018): 54 channels "
            "(55 label rows; P-2 is listed twice and its ranges are merged), [T, 25] "
            "(telemetry value + 24 one-hot command flags), expert-labelled anomaly ranges.",
    "msl": "NASA Mars Science Laboratory (Curiosity) telemetry (telemanom, Hundman et al. KDD "
           "2018): 27 channels, [T, 55] (telemetry value + 54 command flags), labelled ranges.",
}

_SPLIT_DOC = """

    Each channel is one series: its train array (assumed normal, unlabelled) then its test array.
    Training range = the train array; validation = the first val_frac of the test array; test =
    the rest.  Anomalies sit late in most test arrays, so with val_frac=0.5 only 18 of the 82
    label rows have a range in validation (13 in both validation and test): label-free
    thresholds (mean_std, percentile of the unlabelled validation scores) suit this set.
    channels: fnmatch patterns separated by | (e.g. P-*|T-3); sample=true: the 4 channels per
    spacecraft shipped with bench (a bare `bench run` uses all 4; see PROVENANCE.md)."""


def smap(*, path: str = "", sample: bool = False, channels: str = "*",
         val_frac: float = 0.5) -> bench.Dataset:
    return load("smap", "SMAP", path, sample, channels, val_frac)


def msl(*, path: str = "", sample: bool = False, channels: str = "*",
        val_frac: float = 0.5) -> bench.Dataset:
    return load("msl", "MSL", path, sample, channels, val_frac)


smap.__doc__ = DESCRIPTIONS["smap"] + _SPLIT_DOC
msl.__doc__ = DESCRIPTIONS["msl"] + _SPLIT_DOC


@bench.hookimpl
def bench_register_datasets(register):
    register("smap", smap, default_run={"sample": True}, evaluation=EVALUATION)
    register("msl", msl, default_run={"sample": True}, evaluation=EVALUATION)
