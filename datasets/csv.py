"""Your own data (``csv``): one CSV file, or a folder of them with one series per file.

Each file holds one labelled series: numeric value columns (one feature each), a 0/1 label
column, and optionally a timestamp column.  The layouts of Yahoo S5 (``timestamp,value,
is_anomaly`` / ``timestamps,value,anomaly,...``), TSB-AD (``Data,Label`` or ``0,1,...,Label``,
train length in the file name) and NAB-style ``timestamp,value,label`` files read as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import bench

from . import _util

NAME = "csv"
#: label column names tried in this order (case-insensitive) when ``label=`` is not given
LABEL_NAMES = ("label", "is_anomaly", "anomaly")
#: timestamp column names tried (case-insensitive) when ``timestamp=`` is not given
TIME_NAMES = ("timestamp", "timestamps", "time", "datetime", "date")
#: columns that are never features by default: Yahoo S5 A3/A4 store the components that
#: generated each series beside it (``changepoint`` is itself a label); a detector must not see
#: them.  Name them in ``columns=`` to use them anyway.
GROUND_TRUTH = ("changepoint", "trend", "noise", "seasonality1", "seasonality2", "seasonality3")
#: TSB-AD's file-name convention: ``[index]_[dataset]_id_[id]_[domain]_tr_[train length]_1st_
#: [first anomaly index].csv``
#: names (normalised: lower case, ``-``/space as ``_``, pandas' ``.N`` duplicate suffix dropped)
#: of columns that hold labels: never features, whichever is the label
LABEL_LIKE = frozenset(LABEL_NAMES) | {"labels", "is_anomalous", "anomalies", "anomaly_label",
                                       "is_outlier", "outlier", "ground_truth", "attack"}
#: what float32 (the dtype a series is stored in) holds: larger magnitudes overflow, smaller
#: non-zero ones lose their precision or flush to 0
F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)
TSB_TRAIN = re.compile(r"_tr_(\d+)(?:_|$)")
TSB_FIRST = re.compile(r"_1st_(\d+)(?:_|$)")


def _natural(p: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.as_posix())]


def find_files(root: Path, series: str) -> list[Path]:
    """The CSV files under ``root`` (itself, if it is a file) whose path relative to ``root``
    matches ``series`` (``|``-separated fnmatch patterns), in natural order (2 before 10)."""
    if root.is_file():
        return [root]
    try:
        files = [f for f in root.rglob("*") if f.suffix.lower() == ".csv" and f.is_file()]
    except OSError as exc:  # an unreadable folder inside (e.g. path=/proc)
        raise bench.BenchError(f"dataset '{NAME}': cannot list the CSV files under {root}: "
                               f"{exc.strerror or exc} ({exc.filename}); pass path= a CSV file "
                               f"or a folder of them that you can read") from None
    files = [f for f in files if _util.matches(f.relative_to(root).as_posix(), series)
             or _util.matches(f.relative_to(root).with_suffix("").as_posix(), series)]
    if not files:
        raise bench.BenchError(f"dataset '{NAME}': no .csv file under {root} matches "
                               f"series={series!r}; pass path= a CSV file or a folder of them")
    return sorted(files, key=_natural)


def _pick(f: Path, columns: list[str], given: str, names: tuple[str, ...], what: str,
          param: str) -> str | None:
    """The column named ``given`` (it must exist), else the first of ``names`` present
    (case-insensitive), else None."""
    if given:
        if given not in columns:
            raise bench.BenchError(f"dataset '{NAME}': {f}: no {what} column '{given}'; found "
                                   f"{columns}; pass {param}= one of them")
        return given
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def label_like(column: str) -> bool:
    """Whether a column's name says it holds labels (``label``, ``Is-Anomaly``, ``label.1``:
    pandas' name for a repeated ``label``)."""
    name = re.sub(r"\.\d+$", "", str(column).strip().lower())
    return re.sub(r"[\s\-]+", "_", name) in LABEL_LIKE


def _label_column(f: Path, cols: list[str], given: str) -> str:
    """The label column: ``given`` (it must exist), else the one label-like column; a file
    with several label-like columns and no ``label=`` is refused (which one is the truth is
    not for the harness to guess, and the others must not reach a detector)."""
    if given:
        return _pick(f, cols, given, LABEL_NAMES, "label", "label")
    like = [c for c in cols if label_like(c)]
    if len(like) > 1:
        raise bench.BenchError(f"dataset '{NAME}': {f}: {len(like)} label-like columns "
                               f"{like}; pass label=NAME to choose the label (the others are "
                               f"never features) or remove the extra ones")
    if not like:
        raise bench.BenchError(f"dataset '{NAME}': {f}: no label column (looked for "
                               f"{', '.join(LABEL_NAMES)}); found {cols}; name it with "
                               f"label=COLUMN")
    return like[0]


def _check_float32(f: Path, values: np.ndarray, vcols: list[str]) -> None:
    """Refuse a value that float32 cannot hold (it would become inf, or 0 / lose its digits),
    naming the file, its line and column."""
    mag = np.abs(values)  # non-finite values (1e400 reads as inf) are the Dataset's to name
    bad = np.isfinite(values) & ((mag > F32_MAX) | ((mag < F32_TINY) & (mag > 0)))
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        v = float(values[row, col])
        what = "beyond" if abs(v) > F32_MAX else "below"
        raise bench.BenchError(f"dataset '{NAME}': {f} line {row + 2}: value {v:g} in column "
                               f"'{vcols[col]}' is {what} float32's range (normal magnitudes "
                               f"{F32_TINY:.3g} to {F32_MAX:.3g}; {int(bad.sum())} such "
                               f"value(s)); rescale the column (e.g. to other units)")


def _check_order(f: Path, stamps: np.ndarray, column: str) -> None:
    """Refuse timestamps that go back in time: the file's row order is the series' order."""
    back = np.nonzero(stamps[1:] < stamps[:-1])[0]
    if len(back):
        i = int(back[0]) + 1
        raise bench.BenchError(f"dataset '{NAME}': {f} line {i + 2}: timestamp "
                               f"{stamps[i]} in column '{column}' comes before the previous "
                               f"row's {stamps[i - 1]} ({len(back)} such row(s)); sort the file "
                               f"by '{column}' or pass timestamp= another column")


def _value_columns(f: Path, df, used: set[str], columns: str) -> list[str]:
    """``columns`` (``|``-separated names) if given, else every column that is not the label,
    the timestamp or a Yahoo ground-truth component, and holds at least one number (a column
    of text only, such as a host name, is not a feature)."""
    import pandas as pd

    if columns:
        wanted = [c.strip() for c in columns.split("|") if c.strip()]
        _util.require_columns(NAME, f, list(df.columns), wanted)
        return wanted
    out = []
    for c in df.columns:
        if c in used or str(c).strip().lower() in GROUND_TRUTH or label_like(c):
            continue
        if pd.to_numeric(df[c], errors="coerce").notna().any():
            out.append(c)
    if not out:
        raise bench.BenchError(f"dataset '{NAME}': {f}: no numeric value column besides the "
                               f"label and timestamp (columns: {list(df.columns)}); add one or "
                               f"name them with columns=A|B")
    return out


def _labels(f: Path, df, column: str) -> np.ndarray:
    lab = _util.numeric_column(NAME, f, df, column)
    bad = ~np.isin(lab, (0, 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise bench.BenchError(f"dataset '{NAME}': {f} line {i + 2}: label {lab[i]:g} in column "
                               f"'{column}' is not 0 or 1; labels are 1 = anomaly, 0 = normal")
    return lab.astype(np.int8)


def _timestamps(f: Path, df, column: str) -> np.ndarray:
    """Numbers stay numbers (unix seconds, step indices); anything else must parse as a date."""
    import pandas as pd

    raw = df[column]
    num = pd.to_numeric(raw, errors="coerce")
    if num.notna().all():
        return num.to_numpy()
    ts = pd.to_datetime(raw, errors="coerce", format="mixed")
    if ts.isna().any():
        i = int(np.argmax(ts.isna().to_numpy()))
        raise bench.BenchError(f"dataset '{NAME}': {f} line {i + 2}: bad timestamp "
                               f"{str(raw.iloc[i])[:40]!r} in column '{column}'; write a date "
                               f"(2024-01-31 12:00) or a number, or pass timestamp= another "
                               f"column")
    return ts.to_numpy()


def train_length(f: Path, given: int) -> tuple[int | None, str]:
    """The training length of ``f``: ``train_len`` if given (> 0), else TSB-AD's ``_tr_N``
    in the file name, else None (the fractions apply).  Also says where it came from."""
    if given > 0:
        return given, "train_len"
    m = TSB_TRAIN.search(f.stem)
    if m:
        return int(m.group(1)), "file name (_tr_N)"
    return None, ""


def split_for(f: Path, n: int, train: int | None, train_end: float,
              val_end: float) -> tuple[int, int]:
    """Train ``[0, train)`` and the rest halved into validation then test when a train length
    is known; otherwise the fractions ``train_end`` / ``val_end`` of the series."""
    if train is None:
        return _util.split_bounds(n, train_end, val_end, NAME)
    if not 1 <= train <= n - 2:
        raise bench.BenchError(f"dataset '{NAME}': {f}: train length {train} does not fit a "
                               f"series of {n} rows; need 1 <= train length <= {n - 2} (rows "
                               f"are left for validation and test)")
    return train, train + (n - train) // 2


def read_file(f: Path, name: str, *, label: str = "", timestamp: str = "", columns: str = "",
              train_len: int = 0, train_end: float = 0.5, val_end: float = 0.75) -> bench.Series:
    """One CSV file -> one :class:`bench.Series` named ``name``.  Every problem is one line
    naming the file (and the line and column where there is one)."""
    df = _util.read_csv(NAME, f)
    if len(df) == 0:
        raise bench.BenchError(f"dataset '{NAME}': {f} has a header but no rows")
    cols = [str(c) for c in df.columns]
    df.columns = cols
    lcol = _label_column(f, cols, label)
    tcol = _pick(f, cols, timestamp, TIME_NAMES, "timestamp", "timestamp")
    used = {lcol} | ({tcol} if tcol else set())
    vcols = _value_columns(f, df, used, columns)
    values = np.column_stack([_util.numeric_column(NAME, f, df, c) for c in vcols])
    _check_float32(f, values, vcols)
    labels = _labels(f, df, lcol)
    stamps = _timestamps(f, df, tcol) if tcol else None
    if stamps is not None:
        _check_order(f, stamps, tcol)
    train, source = train_length(f, train_len)
    tr, va = split_for(f, len(df), train, train_end, val_end)
    meta = {"source_file": str(f), "columns": vcols, "label_column": lcol,
            "timestamp_column": tcol or "", "train_length_from": source or "fractions"}
    first = TSB_FIRST.search(f.stem)
    if first:
        meta["first_anomaly"] = int(first.group(1))
    return bench.Series(values.astype(np.float32), labels, name=name, split=bench.Split(tr, va),
                        timestamps=stamps, meta=meta)


def csv_dataset(*, path: str = "", label: str = "", timestamp: str = "", columns: str = "",
                series: str = "*", train_len: int = 0, train_end: float = 0.5,
                val_end: float = 0.75) -> bench.Dataset:
    """Your own CSV data: path= one file or a folder of them (searched recursively, one series
    per file, named by its path without .csv).

    Values: every numeric column except label-like ones (label, is_anomaly, anomaly, label.1,
    ...), the timestamp and Yahoo's ground-truth components, or columns=A|B; a value float32
    cannot hold is refused.  Label: 0/1, the one column named label, is_anomaly or anomaly (any
    case; a file with several needs label=NAME), or label=NAME.  Timestamp (optional):
    timestamp, timestamps, time, datetime or date, or timestamp=NAME; it must not go back in
    time.  Split: train_len=N rows (or TSB-AD's _tr_N in the
    file name) trains on the first N rows and halves the rest into validation then test;
    otherwise the fractions train_end / val_end.  series: fnmatch patterns over the relative
    file path separated by |, e.g. A2Benchmark/*."""
    if not path:
        raise bench.BenchError(f"dataset '{NAME}': no path given; pass csv:path=FILE_OR_DIR (a "
                               f"CSV file or a folder of CSV files)")
    root = Path(path).expanduser()
    if not root.exists():
        raise bench.BenchError(f"dataset '{NAME}': {root} not found; pass csv:path= a CSV file or "
                               f"a folder of CSV files")
    files = find_files(root, series)
    base = root.parent if root.is_file() else root
    out = [read_file(f, f.relative_to(base).with_suffix("").as_posix(), label=label,
                     timestamp=timestamp, columns=columns, train_len=train_len,
                     train_end=train_end, val_end=val_end) for f in files]
    return bench.Dataset(
        NAME, out, description=_util.describe(csv_dataset), license="the user's own data",
        family="time-series", provenance=f"CSV files at {root.resolve()}",
        meta={"source_sha256": _util.sha256_files(files), "root": str(root.resolve()),
              "files": len(files)},
    )


@bench.hookimpl
def bench_register_datasets(register):
    register(NAME, csv_dataset)
