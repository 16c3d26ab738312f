"""TSB-AD's univariate files (``tsb-ad``): a downloaded TSB-AD-U folder, or TSB-AD-U-Eva's NAB files
rebuilt from NAB.

TSB-AD (Liu & Paparrizos, NeurIPS 2024) ships each series as
``NNN_SOURCE_id_K_DOMAIN_tr_N_1st_M.csv`` with columns ``Data,Label``: ``tr_N`` = the first N rows
are its training prefix, ``1st_M`` = its first anomaly is at row M.  Its evaluation is the
``tsb-ad`` protocol (:mod:`bench.protocols`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

import bench

from . import _util

NAME = "tsb-ad"
HERE = _util.shipped("tsb_ad")
MAPPING = HERE / "nab_files.json"
PUBLISHED = HERE / "published_nab_vus_pr.csv"
PROVENANCE = ("TheDatumOrg/TSB-AD @ 8763009 (Apache-2.0): file names, File_List/TSB-AD-U-Eva.csv, "
              "uni_mergedTable_VUS-PR.csv; series values and labels rebuilt from numenta/NAB @ "
              "ea702d7 (MIT) by datasets/data/tsb_ad/nab_files.json")
EVALUATION = bench.Evaluation(
    protocol="tsb-ad",
    split="tr_N prefix = train (semi-supervised detectors only); every row is fitted by an "
          "unsupervised detector and evaluated; VUS window = each series' period")
#: ``NNN_SOURCE_id_K_DOMAIN_tr_N_1st_M``
FILE_RE = re.compile(r"^(?P<index>\d+)_(?P<source>[^_]+)_id_(?P<id>\d+)_(?P<domain>.+)_tr_"
                     r"(?P<tr>\d+)_1st_(?P<first>\d+)$")


def parse_name(stem: str) -> dict[str, object]:
    """The fields of a TSB-AD file name (without ``.csv``); a name of another shape is a one-line
    error."""
    m = FILE_RE.match(stem)
    if not m:
        raise bench.BenchError(f"dataset '{NAME}': file name {stem!r} is not TSB-AD's "
                               f"NNN_SOURCE_id_K_DOMAIN_tr_N_1st_M.csv")
    d = m.groupdict()
    return {**d, "tr": int(d["tr"]), "first": int(d["first"])}


def published() -> dict[str, dict[str, float]]:
    """TSB-AD's published per-file VUS-PR of its 32 detectors (and the file statistics) for the
    NAB files of TSB-AD-U-Eva, by file stem (``uni_mergedTable_VUS-PR.csv``, commit 35ba9c3)."""
    import pandas as pd

    df = pd.read_csv(PUBLISHED)
    return {str(r["file"]).removesuffix(".csv"): {k: float(v) for k, v in r.items()
                                                  if k != "file"} for _, r in df.iterrows()}


def _series(stem: str, values: np.ndarray, labels: np.ndarray, source: str,
            pub: dict[str, float] | None) -> bench.Series:
    """A TSB-AD series: split train = the ``tr_N`` prefix, validation and test halves of the
    rest (used only by bench's own protocols; ``tsb-ad`` evaluates every row)."""
    from bench.period import dominant_period

    info = parse_name(stem)
    n = len(values)
    tr = min(max(1, int(info["tr"])), n - 2)
    va = min(max(tr + 1, (tr + n) // 2), n - 1)
    meta = {"tr": int(info["tr"]), "first_anomaly": int(info["first"]),
            "period": int(dominant_period(values)), "source_file": source,
            "domain": info["domain"], "source_dataset": info["source"]}
    if pub:
        meta["published"] = pub
    return bench.Series(values.astype(np.float32), labels.astype(np.int8), name=stem,
                        split=bench.Split(tr, va), meta=meta)


def read_folder(root: Path, files: str) -> list[bench.Series]:
    """Every ``*.csv`` of a TSB-AD-U folder whose stem matches ``files``."""
    paths = sorted(p for p in root.glob("*.csv") if _util.matches(p.stem, files))
    if not paths:
        raise bench.BenchError(f"dataset '{NAME}': no TSB-AD file under {root} matches "
                               f"files={files!r}")
    pub = published()
    out = []
    for p in paths:
        df = _util.read_csv(NAME, p)
        _util.require_columns(NAME, p, df.columns, ["Data", "Label"])
        values = _util.numeric_column(NAME, p, df, "Data")
        labels = _util.numeric_column(NAME, p, df, "Label")
        if not np.isin(labels, (0, 1)).all():
            raise bench.BenchError(f"dataset '{NAME}': {p}: column Label must hold 0 or 1")
        out.append(_series(p.stem, values, labels, str(p), pub.get(p.stem)))
    return out


def _nab_root(nab: str) -> tuple[Path, bool]:
    """The NAB folder (``nab=``, the download cache, ``../shared/data/nab``, else the NAB sample
    shipped with bench) and whether it is that sample."""
    sample = _util.shipped("nab")
    root = _util.locate(NAME, nab, [*_util.default_candidates("nab", "nab"), sample],
                        "a NAB folder (data/, labels/combined_windows.json)", fetch="nab")
    return root, root.resolve() == sample.resolve()


def nab_file(root: Path, stem: str, entry: dict, windows: dict, pub: dict | None) -> bench.Series:
    """TSB-AD's file ``stem`` from its NAB file: rows ``1..rows`` (NAB's first row left out) and
    NAB's label windows each without its first row, or the ranges the mapping gives; checked
    against TSB-AD's published length, anomaly length and anomaly count."""
    import pandas as pd

    f = root / "data" / entry["nab"]
    df = _util.read_csv(NAME, f)
    _util.require_columns(NAME, f, df.columns, ["timestamp", "value"])
    values = _util.numeric_column(NAME, f, df, "value")
    labels = np.zeros(len(df), dtype=np.int8)
    if entry["labels"] == "windows":
        ts = pd.to_datetime(df["timestamp"]).to_numpy()
        for a, b in windows.get(entry["nab"], []):
            rows = np.flatnonzero((ts >= np.datetime64(pd.Timestamp(a))) &
                                  (ts <= np.datetime64(pd.Timestamp(b))))
            labels[rows[1:]] = 1  # TSB-AD leaves each window's first row out
    else:
        for a, b in entry["labels"]:  # [start, stop) rows of TSB-AD's file
            labels[a + 1:b + 1] = 1
    n = int(entry["rows"])
    values, labels = values[1:n + 1], labels[1:n + 1]
    starts = np.flatnonzero(np.diff(np.r_[0, labels]) == 1)
    got = (len(values), int(labels.sum()), len(starts))
    want = (n, int(entry["anomaly_len"]), int(entry["num_anomaly"]))
    if got != want:
        raise bench.BenchError(f"dataset '{NAME}': {f} does not rebuild TSB-AD's {stem} "
                               f"((rows, anomalous rows, anomalies) {got}, TSB-AD has {want}); "
                               f"pass nab= a NAB checkout of numenta/NAB @ ea702d7")
    return _series(stem, values, labels, str(f), pub)


def read_nab(nab: str, files: str) -> tuple[list[bench.Series], bool]:
    """TSB-AD-U-Eva's NAB files that the NAB folder holds (all 22 that map; the shipped NAB
    sample holds one), matching ``files``; and whether the folder was the sample."""
    root, sample = _nab_root(nab)
    mapping = json.loads(MAPPING.read_text())["files"]
    wfile = root / "labels" / "combined_windows.json"
    if not wfile.is_file():
        raise bench.BenchError(f"dataset '{NAME}': {wfile} not found; the NAB folder needs "
                               f"labels/combined_windows.json")
    windows = json.loads(wfile.read_text())
    pub = published()
    stems = [s for s in mapping if _util.matches(s, files)
             and (root / "data" / mapping[s]["nab"]).is_file()]
    if not stems:
        raise bench.BenchError(f"dataset '{NAME}': no TSB-AD NAB file matching files={files!r} "
                               f"has its NAB source under {root / 'data'}; pass nab=DIR")
    return [nab_file(root, s, mapping[s], windows, pub.get(s)) for s in stems], sample


def tsb_ad(*, path: str = "", nab: str = "", files: str = "*") -> bench.Dataset:
    """TSB-AD (Liu & Paparrizos, NeurIPS 2024) univariate files, evaluated with TSB-AD's own
    procedure (protocol tsb-ad: fit and score the whole series, VUS-PR at each series' period).
    path=DIR: a TSB-AD-U folder you downloaded (NNN_SOURCE_id_K_DOMAIN_tr_N_1st_M.csv, columns
    Data,Label). Without path: the NAB files of TSB-AD-U-Eva rebuilt from a NAB folder (nab=DIR,
    else bench fetch nab's cache or ../shared/data/nab, else the NAB sample shipped with bench):
    22 of its 23 NAB files (027 has no NAB source found), each checked against TSB-AD's
    published length and anomaly statistics. files: fnmatch patterns over file stems separated
    by |, e.g. 001_NAB*."""
    sample = False
    if path:
        root = _util.locate(NAME, path, [], "a TSB-AD-U folder of NNN_..._tr_N_1st_M.csv files")
        series = read_folder(root, files)
        title = f"{NAME} ({len(series)} files)"
    else:
        series, sample = read_nab(nab, files)
        title = (f"{NAME} (NAB sample, {len(series)} of 23 NAB files of TSB-AD-U-Eva)" if sample
                 else f"{NAME} ({len(series)} of 23 NAB files of TSB-AD-U-Eva)")
    return bench.Dataset(
        NAME, series, description=_util.describe(tsb_ad),
        license="Apache-2.0 (TSB-AD's tables and names); MIT (NAB's data)",
        family="time-series", provenance=PROVENANCE, evaluation=EVALUATION, title=title,
        meta={"source": str(path or "nab"), "sample": sample})


@bench.hookimpl
def bench_register_datasets(register):
    register(NAME, tsb_ad, default_run=False, evaluation=EVALUATION)
