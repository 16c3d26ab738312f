"""``scores``: replay precomputed per-row anomaly scores, so that any external system's output is
evaluated under bench's protocols (``bench run -d nab -m scores:path=DIR --protocol nab``).

It reads scores only, never labels or values: a NAB results file's ``label`` column is not even
parsed.  The harness tells ``fit`` which series it is (``fit(X, series=NAME)``); ``score(X)``
returns that series' file, which must hold exactly one score per row.

Where a series ``NAME`` (e.g. ``realTraffic/speed_7578``; ``GROUP/FILE`` for NAB) is looked up
under ``path``, first match wins:

1. a JSON of ``{"NAME.csv" or "NAME": [score per row]}``: ``path`` itself when it is a
   ``.json``/``.json.gz`` file, or the one ``*_scores.json[.gz]`` file in the directory ``path``
   (NAB's ``results/numenta_anomaly_scores.json.gz`` layout);
2. a plain ``path/NAME.csv`` with a ``score`` column;
3. NAB's results layout ``path/GROUP/DETECTOR_FILE.csv`` with an ``anomaly_score`` column
   (``path`` = one detector's folder, e.g. ``NAB/results/numenta``; ``detector=numenta`` with
   ``path=NAB/results`` picks that folder).

For 2 and 3 a name with no exact file falls back to a file with the same last component when
exactly one exists (``path/speed_7578.csv`` for ``realTraffic/speed_7578``).
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

import bench
from bench.params import ExistingPath

NAME = "scores"


@lru_cache(maxsize=4)
def _read_json(path: str, mtime: float) -> dict:
    p = Path(path)
    try:
        raw = gzip.open(p).read() if p.name.endswith(".gz") else p.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise bench.BenchError(f"{NAME}: {p}: not a readable JSON of scores ({exc}); write "
                               f"{{\"SERIES.csv\": [score per row]}}") from None
    if not isinstance(data, dict):
        raise bench.BenchError(f"{NAME}: {p}: expected a JSON object {{\"SERIES.csv\": [score "
                               f"per row]}}, got {type(data).__name__}")
    return data


def _csv_column(f: Path, column: str) -> np.ndarray:
    import pandas as pd

    try:
        df = pd.read_csv(f, usecols=[column])
    except ValueError:
        raise bench.BenchError(f"{NAME}: {f} has no {column!r} column; write one score per "
                               f"row under a {column!r} header") from None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise bench.BenchError(f"{NAME}: {f} cannot be read as CSV ({exc}); write a CSV with a "
                               f"{column!r} column") from None
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise bench.BenchError(f"{NAME}: {f} line {i + 2}: {column} {df[column].iloc[i]!r} is "
                               f"not a finite number; every row needs a score")
    return values


def _unique(cands: list[Path], what: str) -> Path | None:
    if len(cands) > 1:
        shown = ", ".join(map(str, cands[:3]))
        raise bench.BenchError(f"{NAME}: {len(cands)} files could be {what} ({shown}); keep "
                               f"one, or point path= (detector=) at the right folder")
    return cands[0] if cands else None


class ScoresReplay:
    """Replays per-row scores written by another system (NAB results, a ``score`` column per
    series CSV, or a JSON of score lists; see the module docstring).  Learns nothing; its scores
    are whatever the files say (higher = more anomalous), unchanged.  It never reads labels.

    ``nab_scale = "as given"``: under ``--protocol nab`` its scores are compared with one corpus
    threshold as they are (NAB's detectors write [0, 1] scores), not rescaled per file."""

    name = NAME
    nab_scale = "as given"
    #: declared capabilities (bench.DetectorTags): ``fit`` takes the series' name
    __bench_tags__ = bench.DetectorTags(fit_series=True)

    #: checked when a run is planned (bench.params): a missing folder is one line before any cell
    _parameter_constraints = {"path": [ExistingPath()]}

    def __init__(self, *, path: str, detector: str = ""):
        if not path:
            raise bench.BenchError(f"{NAME}: give the folder (or JSON file) of scores: "
                                   f"-m scores:path=DIR")
        root = Path(path).expanduser()
        if detector:
            root = root / detector
        if not root.exists():
            raise bench.BenchError(f"{NAME}: {root} not found; path= must name a folder of "
                                   f"score files or a JSON of scores")
        self.path, self.detector, self.root = path, detector, root

    @staticmethod
    def input_fingerprint(*, path: str = "", detector: str = "") -> str:
        """Digest (16 hex digits) of the names, sizes and modification times of the score files
        under ``path``: part of the key bench stores a cell's scores under, so replaced files are
        read again rather than served from ``--out``'s score store."""
        import hashlib

        root = Path(path).expanduser() / detector if path else Path()
        files = [root] if root.is_file() else sorted(
            f for f in root.rglob("*") if f.is_file() and f.name.endswith(
                (".csv", ".json", ".json.gz"))) if root.is_dir() else []
        h = hashlib.sha256()
        for f in files:
            st = f.stat()
            h.update(f"{f.relative_to(root) if f != root else f.name}\0{st.st_size}\0"
                     f"{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]

    def _json(self) -> Path | None:
        if self.root.is_file():
            return self.root
        return _unique(sorted(self.root.glob("*_scores.json")) +
                       sorted(self.root.glob("*_scores.json.gz")), "the JSON of scores")

    def _find(self, series: str) -> tuple[np.ndarray, str]:
        """(scores, where they came from) of one series."""
        js = self._json()
        if js is not None:
            data = _read_json(str(js), js.stat().st_mtime)
            for key in (series + ".csv", series):
                if key in data:
                    try:
                        arr = np.asarray(data[key], dtype=np.float64).reshape(-1)
                    except (TypeError, ValueError):
                        raise bench.BenchError(f"{NAME}: {js} [{key!r}] is not a list of "
                                               f"numbers") from None
                    if not np.isfinite(arr).all():
                        raise bench.BenchError(f"{NAME}: {js} [{key!r}]: "
                                               f"{int((~np.isfinite(arr)).sum())} scores are not "
                                               f"finite numbers; every row needs a score")
                    return arr, f"{js} [{key!r}]"
            raise bench.BenchError(f"{NAME}: {js} has no entry {series + '.csv'!r} for series "
                                   f"{series!r}; add its scores or point path= elsewhere")
        plain = self.root / f"{series}.csv"
        group, _, file = series.rpartition("/")
        nab = [p for p in sorted((self.root / group).glob(f"*_{file}.csv"))
               if not p.name.endswith("_scores.csv")] if self.root.joinpath(group).is_dir() \
            else []
        if plain.is_file():
            return _csv_column(plain, "score"), str(plain)
        f = _unique(nab, f"NAB's result file of {series!r}")
        if f is not None:
            return _csv_column(f, "anomaly_score"), str(f)
        f = _unique(sorted(p for p in self.root.rglob(f"{file}.csv")), f"the scores of {series!r}")
        if f is not None:
            return _csv_column(f, "score"), str(f)
        f = _unique(sorted(self.root.rglob(f"*_{file}.csv")), f"NAB's result file of {series!r}")
        if f is not None:
            return _csv_column(f, "anomaly_score"), str(f)
        raise bench.BenchError(
            f"{NAME}: no scores for series {series!r} under {self.root}: expected {plain} "
            f"(column 'score'), {self.root / group / ('DETECTOR_' + file + '.csv')} (column "
            f"'anomaly_score') or a *_scores.json; write that file or fix path=")

    def fit(self, X: np.ndarray, *, series: str = ""):
        """Find the scores of ``series`` (the harness passes its name); ``X`` is unused."""
        if not series:
            raise bench.BenchError(f"{NAME}: fit() needs the series name (fit(X, series=NAME)); "
                                   f"run it through bench, which passes it")
        self.series_ = series
        self.scores_, self.source_ = self._find(series)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """The file's scores, one per row of ``X``; a length mismatch is a one-line error."""
        if not hasattr(self, "scores_"):
            raise bench.BenchError(f"{NAME}: call fit() before score()")
        n = len(X)
        if self.scores_.size != n:
            raise bench.BenchError(
                f"{NAME}: {self.source_} holds {self.scores_.size} scores but series "
                f"{self.series_!r} has {n} rows; it needs one score per row of this series "
                f"(scores of another version of the data? regenerate them, or fix path=)")
        return self.scores_.copy()


@bench.hookimpl
def bench_register_detectors(register):
    register(NAME, ScoresReplay, default_run=False,
             description="Replays precomputed per-row scores from files (path=DIR): NAB's "
                         "results layout, SERIES.csv with a score column, or a JSON of lists.")
