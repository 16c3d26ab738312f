"""``bench.run``: one call from Python (a notebook) on a pandas DataFrame, a :class:`bench.Dataset`
or registered datasets by name, returning the run record.

>>> import bench, pandas as pd
>>> df = pd.read_csv("cpu.csv", parse_dates=["timestamp"])     # columns: timestamp, cpu, label
>>> record = bench.run(df, "iforest")                          # doctest: +SKIP
>>> record = bench.run({"web": df_web, "db": df_db}, ["iforest", "kde"], seeds=[0, 1])

In-memory data is registered as a dataset plugin for the duration of the call, so it runs through
the same cells, thresholds, metrics and records as ``bench run`` (with the in-process executor:
worker processes cannot see a notebook's memory; for those, write a CSV and pass
``"csv:path=FILE"``).  Nothing is written unless ``out=`` is given.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import hookimpl
from .data import Dataset, Series, Split
from .errors import BenchError
from .params import Spec

#: label / timestamp column names tried (case-insensitive), and columns never used as features:
#: the same rules as the ``csv`` dataset
LABEL_NAMES = ("label", "is_anomaly", "anomaly")
TIME_NAMES = ("timestamp", "timestamps", "time", "datetime", "date")
GROUND_TRUTH = ("changepoint", "trend", "noise", "seasonality1", "seasonality2", "seasonality3")

#: keyword options of :func:`run` that describe how a DataFrame is read (see :func:`from_frame`)
FRAME_OPTIONS = ("label", "timestamp", "columns", "by", "train_len", "train_end", "val_end")
#: keyword options passed to :func:`bench.api.plan`; the rest go to :func:`bench.api.run`
PLAN_OPTIONS = ("thresholds", "costs", "metrics", "seeds", "protocol")

_counter = itertools.count()


def _find(df, given: str | None, names: tuple[str, ...], what: str, where: str) -> str | None:
    cols = [str(c) for c in df.columns]
    if given:
        if given not in cols:
            raise BenchError(f"{where}: no {what} column {given!r}; columns: {cols}")
        return given
    lower = {c.strip().lower(): c for c in cols}
    return next((lower[n] for n in names if n in lower), None)


def _numeric(df, column: str, where: str) -> np.ndarray:
    """A column as float64; the first missing or non-numeric value is named by its row label."""
    import pandas as pd

    vals = pd.to_numeric(df[column], errors="coerce")
    bad = vals.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise BenchError(f"{where}: column {column!r} at row {df.index[i]!r}: "
                         f"{str(df[column].iloc[i])!r} is not a number ({int(bad.sum())} such "
                         f"row(s)); fill or drop them (df.dropna(), df.interpolate())")
    return vals.to_numpy(dtype=np.float64)


def _split(n: int, train_len: int, train_end: float, val_end: float, where: str) -> Split:
    """Train on the first ``train_len`` rows and halve the rest (validation, then test), or
    split by the fractions ``train_end`` / ``val_end``."""
    if train_len:
        if not 1 <= train_len <= n - 2:
            raise BenchError(f"{where}: train_len={train_len} does not fit {n} rows; need "
                             f"1 <= train_len <= {n - 2}")
        return Split(train_len, train_len + (n - train_len) // 2)
    if not 0.0 < train_end <= val_end < 1.0:
        raise BenchError(f"{where}: need 0 < train_end <= val_end < 1, got "
                         f"train_end={train_end}, val_end={val_end}")
    tr = min(max(1, round(train_end * n)), n - 2)
    return Split(tr, min(max(tr + 1, round(val_end * n)), n - 1))


def frame_series(df, name: str, *, label: str | None = None, timestamp: str | None = None,
                 columns: Sequence[str] | None = None, train_len: int = 0,
                 train_end: float = 0.5, val_end: float = 0.75) -> Series:
    """One DataFrame -> one :class:`bench.Series` (rows in time order, one feature per value
    column).  A ``DatetimeIndex`` is used as the timestamps when no timestamp column is found."""
    import pandas as pd

    where = f"DataFrame {name!r}"
    if len(df) < 3:
        raise BenchError(f"{where}: {len(df)} rows is too few to split into train, validation "
                         f"and test")
    lcol = _find(df, label, LABEL_NAMES, "label", where)
    if lcol is None:
        raise BenchError(f"{where}: no label column (looked for {', '.join(LABEL_NAMES)}); "
                         f"columns: {[str(c) for c in df.columns]}; pass label='COLUMN'")
    tcol = _find(df, timestamp, TIME_NAMES, "timestamp", where)
    if columns:
        vcols = [str(c) for c in columns]
        missing = [c for c in vcols if c not in df.columns]
        if missing:
            raise BenchError(f"{where}: no column(s) {missing}; columns: {list(df.columns)}")
    else:
        vcols = [c for c in df.columns if c not in (lcol, tcol)
                 and str(c).strip().lower() not in GROUND_TRUTH
                 and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
        if not vcols:
            raise BenchError(f"{where}: no numeric value column besides the label; columns: "
                             f"{list(df.columns)}; pass columns=[...]")
    values = np.column_stack([_numeric(df, c, where) for c in vcols])
    labels = _numeric(df, lcol, where)
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise BenchError(f"{where}: label {labels[i]:g} at row {df.index[i]!r} in column "
                         f"{lcol!r} is not 0 or 1; labels are 1 = anomaly, 0 = normal")
    if tcol is not None:
        stamps = df[tcol].to_numpy()
    elif isinstance(df.index, pd.DatetimeIndex):
        stamps = df.index.to_numpy()
    else:
        stamps = None
    return Series(values.astype(np.float32), labels.astype(np.int8), name=name,
                  split=_split(len(df), train_len, train_end, val_end, where),
                  timestamps=stamps, meta={"columns": [str(c) for c in vcols],
                                           "label_column": lcol})


def from_frame(df, name: str = "frame", *, by: str | None = None, **options: Any) -> Dataset:
    """A :class:`bench.Dataset` from a DataFrame: one series, or one per value of the column
    ``by`` (long format, e.g. one row per host and minute).  ``options``: ``label``,
    ``timestamp``, ``columns``, ``train_len``, ``train_end``, ``val_end`` (see
    :func:`frame_series`)."""
    if by is not None:
        if by not in df.columns:
            raise BenchError(f"DataFrame {name!r}: no column {by!r} to group by; columns: "
                             f"{list(df.columns)}")
        series = [frame_series(g.drop(columns=[by]), str(key), **options)
                  for key, g in df.groupby(by, sort=False)]
    else:
        series = [frame_series(df, name, **options)]
    return Dataset(name, series, description=f"in-memory DataFrame ({len(df)} rows)",
                   license="the user's own data", family="time-series",
                   provenance="pandas DataFrame passed to bench.run")


def _is_frame(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")


def _is_arrays(x: Any) -> bool:
    """``(values, labels)``: two array-likes (numpy arrays, lists)."""
    return (isinstance(x, tuple) and len(x) == 2
            and all(isinstance(a, (np.ndarray, list)) for a in x))


def from_arrays(values: Any, labels: Any, name: str = "arrays", **options: Any) -> Dataset:
    """A one-series :class:`bench.Dataset` from numpy arrays: ``values`` ``[T]`` or ``[T, F]``,
    ``labels`` ``[T]`` of 0/1 (1 = anomaly); ``options`` as :func:`frame_series` (``train_len``,
    ``train_end``, ``val_end``)."""
    import pandas as pd

    X, y = np.asarray(values), np.asarray(labels)
    if X.ndim not in (1, 2) or y.ndim != 1 or len(X) != len(y):
        raise BenchError(f"arrays {name!r}: values of shape {X.shape} and labels of shape "
                         f"{y.shape}: pass values [T] or [T, F] and labels [T] of 0/1")
    X = X.reshape(len(X), -1)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["label"] = y
    opts = {k: v for k, v in options.items() if k in ("train_len", "train_end", "val_end")}
    ds = from_frame(df, name, **opts)
    return Dataset(name, ds.series, description=f"in-memory arrays ({len(X)} rows)",
                   license=ds.license, family=ds.family,
                   provenance="numpy arrays passed to bench.run")


def _items(datasets: Any) -> list[tuple[str | None, Any]]:
    """``(name or None, item)`` for one item, a list of items or a ``{name: item}`` mapping."""
    if datasets is None:
        return []
    if isinstance(datasets, Mapping):
        return [(str(k), v) for k, v in datasets.items()]
    if isinstance(datasets, (str, Spec, Dataset, Series)) or _is_frame(datasets) \
            or _is_arrays(datasets):
        return [(None, datasets)]
    return [(None, d) for d in datasets]


class _InMemory:
    """A dataset plugin holding in-memory datasets for one :func:`run` call."""

    def __init__(self, datasets: dict[str, Dataset]):
        self.datasets = datasets

    def factory(self, ds: Dataset):
        fp = ds.fingerprint()

        def in_memory(*, fingerprint: str = fp) -> Dataset:
            """A dataset passed to bench.run from Python."""
            return ds

        in_memory.__doc__ = ds.description or in_memory.__doc__
        return in_memory  # the fingerprint default keys the loader cache by content

    @hookimpl
    def bench_register_datasets(self, register):
        for name, ds in self.datasets.items():
            register(name, self.factory(ds))


def _resolve(datasets: Any, frame_options: dict[str, Any], manager: Any
             ) -> tuple[list[str | Spec], dict[str, Dataset]]:
    """Spec strings as they are; DataFrames, Series and Datasets become in-memory datasets."""
    specs: list[str | Spec] = []
    memory: dict[str, Dataset] = {}
    for key, item in _items(datasets):
        if isinstance(item, (str, Spec)):
            specs.append(item)
            continue
        if _is_frame(item):
            ds = from_frame(item, key or "frame", **frame_options)
        elif _is_arrays(item):
            ds = from_arrays(*item, name=key or "arrays", **frame_options)
        elif isinstance(item, Series):
            ds = Dataset(key or item.name, [item], description="in-memory series",
                         family="time-series", provenance="bench.Series passed to bench.run")
        elif isinstance(item, Dataset):
            ds = item
            if key and key != ds.name:
                ds = Dataset(key, ds.series, ds.description, ds.license, ds.family,
                             ds.provenance, dict(ds.meta))
        else:
            raise BenchError(f"bench.run: cannot use a {type(item).__name__} as a dataset; pass "
                             f"a pandas DataFrame, (values, labels) numpy arrays, a "
                             f"bench.Dataset, a bench.Series or a spec string such as "
                             f"'nab:sample=true'")
        if ds.name in memory:
            raise BenchError(f"bench.run: two datasets are named {ds.name!r}; pass a dict "
                             f"{{name: data}} to name them")
        if ds.name in manager.registry("dataset"):
            raise BenchError(f"bench.run: {ds.name!r} is already a registered dataset; name "
                             f"yours differently, e.g. bench.run({{'my-{ds.name}': data}}, ...)")
        memory[ds.name] = ds
        specs.append(Spec(ds.name))
    return specs, memory


class _Detectors:
    """A detector plugin holding the classes and objects passed to one :func:`run` call."""

    def __init__(self, factories: dict[str, Any]):
        self.factories = factories

    @hookimpl
    def bench_register_detectors(self, register):
        for name, factory in self.factories.items():
            register(name, factory, description=f"passed to bench.run from Python ({name})")


def _instance_factory(obj: Any) -> Any:
    """A factory giving a fresh copy of a configured detector object for every series."""
    import copy

    def from_object() -> Any:
        return copy.deepcopy(obj)

    from_object.__qualname__ = from_object.__name__ = type(obj).__name__
    return from_object


def _resolve_detectors(detectors: Any, manager: Any) -> tuple[list[str | Spec], dict[str, Any]]:
    """Spec strings as they are; a detector class, or an object with ``fit`` and ``score``
    (its copies are fitted), is registered for the call under its class's name."""
    if detectors is None:
        return [], {}
    if isinstance(detectors, (str, Spec)) or not isinstance(detectors, (list, tuple)):
        detectors = [detectors]
    specs: list[str | Spec] = []
    objects: dict[str, Any] = {}
    for d in detectors:
        if isinstance(d, (str, Spec)):
            specs.append(d)
            continue
        is_class = isinstance(d, type)
        if not (hasattr(d, "fit") and hasattr(d, "score")):
            raise BenchError(f"bench.run: {d!r:.60} is not a detector: pass a spec string "
                             f"('iforest'), a class or an object with fit(X) and score(X)")
        name = d.__name__ if is_class else type(d).__name__
        if name in manager.registry("detector") or name in objects:
            raise BenchError(f"bench.run: a detector named {name!r} is already registered; "
                             f"rename your class")
        objects[name] = d if is_class else _instance_factory(d)
        specs.append(Spec(name))
    return specs, objects


def run(datasets: Any = None, detectors: Any = None, **options: Any) -> Any:
    """Run datasets x detectors from Python and return the run record (what
    :func:`bench.api.run` returns).

    datasets:  a pandas DataFrame (numeric value columns, a 0/1 label column), numpy arrays
               ``(values, labels)``, a :class:`bench.Dataset` or :class:`bench.Series`, a spec
               string (``"hpc"``, ``"csv:path=data/"``), a list of these, or
               ``{name: item}``.
    detectors: a spec string (``"iforest"``, ``"kde:bandwidth=0.5"``), a detector class, an
               object with ``fit(X)`` and ``score(X)`` (each series fits a copy), or a list of
               these (default: every registered detector).  The result has ``.to_frame()``,
               ``.leaderboard()`` and shows as a table in a notebook.
    options:   for DataFrames: ``label``, ``timestamp``, ``columns``, ``by``, ``train_len``,
               ``train_end``, ``val_end`` (see :func:`from_frame`); for the grid:
               ``thresholds``, ``costs``, ``metrics``, ``seeds``, ``protocol``; for the run:
               ``out`` (default None: nothing written), ``executor``, ``executor_options``,
               ``reuse``, ``on_cell``, ``manager``.
    """
    from . import api
    from .plugins import get_manager

    frame_options = {k: options.pop(k) for k in FRAME_OPTIONS if k in options}
    plan_options = {k: options.pop(k) for k in PLAN_OPTIONS if k in options}
    if isinstance(plan_options.get("seeds"), int):
        plan_options["seeds"] = [plan_options["seeds"]]
    options.setdefault("out", None)
    manager = options.pop("manager", None) or get_manager()
    specs, memory = _resolve(datasets, frame_options, manager)
    if memory and options.get("executor", "inline") != "inline":
        raise BenchError("bench.run: in-memory data runs with executor='inline' (worker "
                         "processes cannot see it); write it to CSV and pass 'csv:path=FILE' to "
                         "use another executor")
    det_specs, objects = _resolve_detectors(detectors, manager)
    if objects and options.get("executor", "inline") != "inline":
        raise BenchError("bench.run: detector classes and objects run with executor='inline'; "
                         "register them in a plugin to use another executor")
    n = next(_counter)
    plugins = [(obj, f"bench-notebook-{what}-{n}") for obj, what in
               ((_InMemory(memory), "data"), (_Detectors(objects), "detectors"))
               if (memory if what == "data" else objects)]
    for obj, name in plugins:
        manager.register(obj, name)
    try:
        cells = api.plan(specs, det_specs, manager=manager, **plan_options)
        return api.run(cells, manager=manager, **options)
    finally:
        for _, name in plugins:
            manager.unregister(name)
