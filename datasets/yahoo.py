"""Yahoo Webscope S5 (``yahoo``): 367 labelled series the user unpacks locally, and a seeded
generator with the published structure of its synthetic parts (``yahoo-synthetic``).

The S5 data is licensed by Yahoo and may not be redistributed: ``bench`` never ships or
downloads it.  Request "S5 - A Labeled Anomaly Detection Dataset" from Yahoo Webscope, unpack
``ydata-labeled-time-series-anomalies-v1_0`` and pass ``yahoo:path=DIR`` or set
``BENCH_YAHOO_PATH=DIR``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

import bench

from . import _util

NAME = "yahoo"
ENV = "BENCH_YAHOO_PATH"
WEBSCOPE = "https://webscope.sandbox.yahoo.com/catalog.php?datatype=s&did=70"
BENCHMARKS = ("A1", "A2", "A3", "A4")
#: Per benchmark: (time column, label column); A3/A4 also hold the generating components.
COLUMNS = {"A1": ("timestamp", "is_anomaly"), "A2": ("timestamp", "is_anomaly"),
           "A3": ("timestamps", "anomaly"), "A4": ("timestamps", "anomaly")}
COMPONENTS = ("changepoint", "trend", "noise", "seasonality1", "seasonality2", "seasonality3")
#: default split per benchmark, (train_end, val_end) as fractions of each series.  A2 differs:
#: its 100 series (1,421 rows) hold every anomaly in rows 623-~900, so the 50/75 split left none
#: in the test range (every metric n/a); test from 43 % (row 611) holds them all.  Its validation
#: range then holds none either: label-chosen thresholds fall back and the table says so.
SPLITS = {"A1": (0.5, 0.75), "A2": (0.25, 0.43), "A3": (0.5, 0.75), "A4": (0.5, 0.75)}


def _root(path: str) -> Path:
    path = path or os.environ.get(ENV, "")
    if not path:
        raise bench.BenchError(
            f"dataset '{NAME}': the Yahoo Webscope S5 data may not be redistributed, so bench "
            f"does not ship it; request 'S5 - A Labeled Anomaly Detection Dataset' at {WEBSCOPE}, "
            f"unpack it and pass yahoo:path=DIR (or set {ENV}=DIR)")
    p = Path(path).expanduser()
    if not p.is_dir():
        raise bench.BenchError(f"dataset '{NAME}': {p} is not a directory; pass the unpacked "
                               f"ydata-labeled-time-series-anomalies-v1_0 folder")
    return p


def _files(root: Path, bench_name: str) -> list[Path]:
    folder = root / f"{bench_name}Benchmark"
    if not folder.is_dir():
        raise bench.BenchError(f"dataset '{NAME}': no {bench_name}Benchmark/ under {root}; pass "
                               f"path= the unpacked Webscope S5 folder "
                               f"(ydata-labeled-time-series-anomalies-v1_0)")
    files = [f for f in folder.glob("*.csv") if not f.stem.endswith("_all")]
    if not files:
        raise bench.BenchError(f"dataset '{NAME}': {folder} holds no series CSV")
    return sorted(files, key=lambda f: (re.sub(r"\d+", "", f.stem),
                                        int((re.findall(r"\d+", f.stem) or ["0"])[-1])))


def read_file(f: Path, bench_name: str, train_end: float | None, val_end: float | None,
              changepoints: bool) -> bench.Series:
    """One S5 CSV -> a ``[T, 1]`` series; labels from its anomaly column (plus A4's change
    points when ``changepoints``)."""
    tcol, lcol = COLUMNS[bench_name]
    df = _util.read_csv(NAME, f)
    need = [tcol, "value", lcol] + (["changepoint"] if changepoints and bench_name == "A4" else [])
    _util.require_columns(NAME, f, df.columns, need)
    values = _util.numeric_column(NAME, f, df, "value")
    t = _util.numeric_column(NAME, f, df, tcol)
    lab = _util.numeric_column(NAME, f, df, lcol)
    if changepoints and bench_name == "A4":
        lab = np.maximum(lab, _util.numeric_column(NAME, f, df, "changepoint"))
    bad = ~np.isin(lab, (0, 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise bench.BenchError(f"dataset '{NAME}': {f} line {i + 2}: label {lab[i]:g} in column "
                               f"'{lcol}' is not 0 or 1")
    default = SPLITS[bench_name]
    tr, va = _util.split_bounds(len(df), default[0] if train_end is None else train_end,
                                default[1] if val_end is None else val_end, NAME)
    return bench.Series(values.astype(np.float32), lab.astype(np.int8),
                        name=f"{bench_name}/{f.stem}", split=bench.Split(tr, va), timestamps=t,
                        meta={"benchmark": bench_name, "source_file": str(f)})


def load(root: Path, benchmark: str, train_end: float | None, val_end: float | None,
         changepoints: bool,
         name: str = NAME) -> tuple[list[bench.Series], list[Path]]:
    wanted = BENCHMARKS if benchmark == "all" else (benchmark,)
    if any(b not in BENCHMARKS for b in wanted):
        raise bench.BenchError(f"dataset '{name}': benchmark={benchmark!r}; use A1, A2, A3, A4 "
                               f"or all")
    series, files = [], []
    for b in wanted:
        for f in _files(root, b):
            series.append(read_file(f, b, train_end, val_end, changepoints))
            files.append(f)
    return series, files


def yahoo(*, path: str = "", benchmark: str = "all", train_end: float | None = None,
          val_end: float | None = None, changepoints: bool = False) -> bench.Dataset:
    """Yahoo Webscope S5 (not redistributable: pass path= or set BENCH_YAHOO_PATH): A1 (67 real
    Yahoo traffic series), A2 (100 synthetic), A3 and A4 (100 synthetic each, with outliers; A4
    also change points); one [T, 1] series per file, 367 in all.

    Per-series chronological split (train_end, val_end fractions; default 0.5 / 0.75, for A2
    0.25 / 0.43 so that its anomalies, rows 623-~900, fall in the test range).  benchmark: A1 |
    A2 | A3 | A4 | all.  changepoints=true also labels A4's change points."""
    root = _root(path)
    series, files = load(root, benchmark, train_end, val_end, changepoints)
    return bench.Dataset(
        NAME, series, description=_util.describe(yahoo),
        license="Yahoo Webscope data licence (not redistributable)", family="time-series",
        provenance=f"Yahoo Webscope S5 ydata-labeled-time-series-anomalies-v1_0 at {root}",
        meta={"source_sha256": _util.sha256_files(files), "benchmark": benchmark},
        evaluation=EVALUATION,
    )


# ----------------------------------------------------------------------------- the generator


def _components(rng: np.random.Generator, length: int, n_seasons: int):
    t = np.arange(length, dtype=np.float64)
    trend = rng.uniform(-0.5, 0.5) * t / length * rng.uniform(50, 500) + rng.uniform(0, 1000)
    seasons = np.zeros((3, length))
    for k in range(n_seasons):
        period = rng.choice([12, 24, 72, 168, 336])
        seasons[k] = rng.uniform(20, 300) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
    noise = rng.normal(0, rng.uniform(5, 40), length)
    return trend, seasons, noise


def write_series(f: Path, rng: np.random.Generator, kind: str, length: int) -> None:
    """One synthetic S5-like CSV: ``A2`` (``timestamp,value,is_anomaly``, unix timestamps) or
    ``A3``/``A4`` (``timestamps,value,anomaly,changepoint,trend,noise,seasonality1..3``).
    value = trend + seasonalities + noise, plus outliers (0.2-1 % of points, 3-8 noise
    standard deviations of the signal, at least one in each of the last two quarters) and, for
    A4, 1-3 change points (a level or trend shift from that point on)."""
    trend, seasons, noise = _components(rng, length, int(rng.integers(1, 4)))
    change = np.zeros(length, dtype=int)
    if kind == "A4":
        for cp in rng.choice(np.arange(length // 10, length - length // 10),
                             size=int(rng.integers(1, 4)), replace=False):
            change[cp] = 1
            ramp = np.arange(length - cp)
            trend[cp:] += rng.uniform(100, 400) * rng.choice([-1, 1]) + rng.uniform(-1, 1) * ramp
    value = trend + seasons.sum(axis=0) + noise
    spread = value.std()
    anomaly = np.zeros(length, dtype=int)
    n_out = max(2, int(rng.uniform(0.002, 0.01) * length))
    quarter = length // 4  # one outlier in each of the last two quarters (the default val/test)
    where = np.unique(np.concatenate([
        rng.integers(2 * quarter, 3 * quarter, size=1), rng.integers(3 * quarter, length, size=1),
        rng.choice(np.arange(length // 20, length), size=n_out - 2, replace=False)]))
    n_out = len(where)
    value[where] += rng.choice([-1, 1], size=n_out) * rng.uniform(3, 8, size=n_out) * spread
    anomaly[where] = 1
    stamps = 1416722400 + 3600 * np.arange(length)
    with open(f, "w") as out:
        if kind == "A2":
            out.write("timestamp,value,is_anomaly\n")
            for t, v, a in zip(stamps, value, anomaly, strict=True):
                out.write(f"{t:d},{v:.6f},{a:d}\n")
        else:
            out.write("timestamps,value,anomaly,changepoint,trend,noise,seasonality1,"
                      "seasonality2,seasonality3\n")
            for i in range(length):
                out.write(f"{stamps[i]:d},{value[i]:.6f},{anomaly[i]:d},{change[i]:d},"
                          f"{trend[i]:.6f},{noise[i]:.6f},{seasons[0, i]:.6f},"
                          f"{seasons[1, i]:.6f},{seasons[2, i]:.6f}\n")


def write_tree(root: Path, *, n_series: int, length: int, seed: int,
               benchmarks: tuple[str, ...] = ("A2", "A3", "A4")) -> None:
    """Write an S5-shaped folder (``A2Benchmark/synthetic_N.csv``, ``A3Benchmark/
    A3Benchmark-TSN.csv``, ``A4Benchmark/A4Benchmark-TSN.csv``) of generated series."""
    rng = np.random.default_rng(seed)
    for b in benchmarks:
        folder = root / f"{b}Benchmark"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(1, n_series + 1):
            stem = f"synthetic_{i}" if b == "A2" else f"{b}Benchmark-TS{i}"
            write_series(folder / f"{stem}.csv", rng, b, length)


def yahoo_synthetic(*, n_series: int = 4, length: int = 1680, benchmark: str = "all",
                    seed: int = 0, train_end: float = 0.5, val_end: float = 0.75,
                    changepoints: bool = False) -> bench.Dataset:
    """Seeded series with the published structure of Yahoo S5 A2-A4 (trend, up to three
    seasonal periods, noise, outliers; A4 change points), written as S5 CSV files and read back
    through the yahoo loader; n_series per benchmark."""
    wanted = ("A2", "A3", "A4") if benchmark == "all" else (benchmark,)
    if any(b not in ("A2", "A3", "A4") for b in wanted):
        raise bench.BenchError(f"dataset 'yahoo-synthetic': benchmark={benchmark!r}; use A2, A3, "
                               f"A4 or all")
    with tempfile.TemporaryDirectory(prefix="bench-yahoo-") as tmp:
        write_tree(Path(tmp), n_series=n_series, length=length, seed=seed, benchmarks=wanted)
        series = [s for b in wanted
                  for s in load(Path(tmp), b, train_end, val_end, changepoints,
                                "yahoo-synthetic")[0]]
    for s in series:
        s.meta.pop("source_file", None)
    return bench.Dataset(
        "yahoo-synthetic", series,
        description=_util.describe(yahoo_synthetic),
        license="CC0-1.0 (generated)", family="time-series",
        provenance=f"bench.datasets.yahoo generator, seed={seed}",
        evaluation=EVALUATION,
    )


#: time series: VUS-PR headline, F1 beside it, unsupervised
EVALUATION = bench.Evaluation(
    split="chronological fractions of each series (train_end, val_end): 50 % / 75 %, A2 25 % / "
          "43 % (its anomalies lie in rows 623-~900)")


@bench.hookimpl
def bench_register_datasets(register):
    register(NAME, yahoo, evaluation=EVALUATION)
    register("yahoo-synthetic", yahoo_synthetic, evaluation=EVALUATION)
