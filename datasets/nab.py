"""The Numenta Anomaly Benchmark (``nab``): 58 univariate series labelled with anomaly windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import bench

from . import _util

NAME = "nab"
SAMPLE = _util.shipped("nab")
WINDOWS = Path("labels") / "combined_windows.json"
PROVENANCE = "numenta/NAB @ ea702d7 (data/, labels/combined_windows.json)"
#: NAB detectors learn online with no labels: unsupervised; VUS-PR headline, F1 beside it
EVALUATION = bench.Evaluation(
    split="probation (train) 15 %, validation 15-50 %, test 50-100 % of each series")


def _root(path: str, sample: bool) -> Path:
    if sample and not path:
        return SAMPLE
    return _util.locate(NAME, path, _util.default_candidates("nab", "nab"),
                        "the NAB repository folder (data/, labels/combined_windows.json)",
                        fetch="nab")


def read_series(root: Path, key: str, windows: list, train_end: float,
                val_end: float) -> bench.Series:
    """One NAB file (``timestamp,value``) labelled 1 inside each of its ``windows``
    (``[start, end]`` timestamps, both ends included)."""
    import pandas as pd

    f = root / "data" / key
    df = _util.read_csv(NAME, f)
    _util.require_columns(NAME, f, df.columns, ["timestamp", "value"])
    values = _util.numeric_column(NAME, f, df, "value")
    ts = pd.to_datetime(df["timestamp"], errors="coerce")
    if ts.isna().any():
        i = int(np.argmax(ts.isna().to_numpy()))
        raise bench.BenchError(f"dataset '{NAME}': {f} line {i + 2}: bad timestamp "
                               f"{df['timestamp'].iloc[i]!r}")
    labels = np.zeros(len(df), dtype=np.int8)
    for w in windows:
        try:
            a, b = pd.Timestamp(w[0]), pd.Timestamp(w[1])
        except (TypeError, ValueError, IndexError):
            raise bench.BenchError(f"dataset '{NAME}': {root / WINDOWS}: bad window {w!r} for "
                                   f"{key}; expected [start, end] timestamps") from None
        labels[((ts >= a) & (ts <= b)).to_numpy()] = 1
    tr, va = _util.split_bounds(len(df), train_end, val_end, NAME)
    return bench.Series(values.astype(np.float32), labels, name=key.removesuffix(".csv"),
                        split=bench.Split(tr, va), timestamps=ts.to_numpy(),
                        meta={"windows": [list(map(str, w)) for w in windows],
                              "probation": tr, "source_file": str(f)})


def nab(*, path: str = "", sample: bool = False, series: str = "*", train_end: float = 0.15,
        val_end: float = 0.5) -> bench.Dataset:
    """Numenta Anomaly Benchmark: 58 univariate series (365,558 points, 7 groups) labelled with
    NAB's anomaly windows (labels/combined_windows.json).

    Split: the first 15 % of each series is its training prefix (NAB's probation period);
    validation is 15-50 % and test the rest.  Of the splits tried (validation ending at 40, 50 or
    60 %), ending at 50 % leaves the most series with a labelled window in both validation and
    test (30 of 58; 35 have one in validation, 47 in test).  series: fnmatch patterns over
    group/file separated by |, e.g. realKnownCause/* or *cpu*.  sample=true: the 4 series shipped
    with bench (a bare `bench run` uses one)."""
    root = _root(path, sample)
    wfile = root / WINDOWS
    if not wfile.is_file():
        raise bench.BenchError(f"dataset '{NAME}': {wfile} not found; the NAB folder needs "
                               f"labels/combined_windows.json")
    try:
        windows = json.loads(wfile.read_text())
    except json.JSONDecodeError as exc:
        raise bench.BenchError(f"dataset '{NAME}': {wfile} line {exc.lineno}: bad JSON") from None
    files = sorted((root / "data").glob("*/*.csv"))
    keys = [f"{f.parent.name}/{f.name}" for f in files]
    keys = [k for k in keys if _util.matches(k.removesuffix(".csv"), series)]
    if not keys:
        raise bench.BenchError(f"dataset '{NAME}': no series under {root / 'data'} matches "
                               f"series={series!r}")
    missing = [k for k in keys if k not in windows]
    if missing:
        raise bench.BenchError(f"dataset '{NAME}': {len(missing)} series have no entry in "
                               f"{wfile} (first: {missing[0]}); the label file and data disagree")
    out = [read_series(root, k, windows[k], train_end, val_end) for k in keys]
    return bench.Dataset(
        NAME, out, description=_util.describe(nab),
        license="MIT (LICENSE.txt)", family="time-series", provenance=PROVENANCE,
        evaluation=EVALUATION, title=_util.title(NAME, root == SAMPLE, len(out), 58, "series"),
        meta={"source_sha256": _util.sha256_files([wfile, *(root / "data" / k for k in keys)]),
              "root": str(root), "split_rule": "probation 15 %, validation 15-50 %, test 50-100 %"},
    )


@bench.hookimpl
def bench_register_datasets(register):
    register(NAME, nab, default_run={"sample": True, "series": "realTraffic/speed_7578"},
             evaluation=EVALUATION)
