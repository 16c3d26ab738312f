"""Firefox telemetry histogram distances (``telemetry``): day-to-day change of each probe's
histogram, with anomalies injected into the later days as the Mozilla telemetry study did."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

import bench

from . import _util

NAME = "telemetry"
SAMPLE = _util.shipped("telemetry", "example_data")
DISTANCES = ("bhattacharyya", "wasserstein", "energy", "max_abs_diff", "sum_abs_diff")
INJECTIONS = ("shift", "scale", "spike")
PROVENANCE = "mozilla/canary_anomaly_detection @ 965872c example_data/ (Firefox Nightly, " \
             "2018-03-12..2018-06-07)"


# ----------------------------------------------------------------------------- distances


def distances(h: np.ndarray) -> np.ndarray:
    """``[days, buckets]`` histogram counts -> ``[days - 1, 5]`` distances between consecutive
    days, each ``log(1 + d)``: Bhattacharyya distance ``-ln sum sqrt(p q)`` (its coefficient
    floored at 1e-12), the Wasserstein-1 and energy distances with bucket *index* as the position
    (buckets are one unit apart, whatever their values, so exponential and categorical probes are
    comparable), and the maximum and the sum of ``|p - q|`` over buckets.  ``p``, ``q``: the two
    days' histograms normalised to sum 1.  The Wasserstein and energy values equal
    ``scipy.stats.wasserstein_distance`` / ``energy_distance`` on the same weights."""
    tot = h.sum(axis=1, keepdims=True)
    p = h / np.where(tot > 0, tot, 1.0)
    a, b = p[:-1], p[1:]
    bc = np.sqrt(a * b).sum(axis=1)
    bhat = -np.log(np.clip(bc, 1e-12, 1.0))
    cdf = np.cumsum(a, axis=1)[:, :-1] - np.cumsum(b, axis=1)[:, :-1]
    wass = np.abs(cdf).sum(axis=1)
    energy = np.sqrt(2.0 * (cdf**2).sum(axis=1))
    diff = np.abs(a - b)
    d = np.stack([bhat, wass, energy, diff.max(axis=1), diff.sum(axis=1)], axis=1)
    return np.log1p(np.maximum(d, 0.0))


# ----------------------------------------------------------------------------- injection


def inject(h: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One day's histogram with an anomaly of ``kind``: ``shift`` moves 30-70 % of the fullest
    bucket's mass 1 to n/5 buckets away; ``scale`` multiplies a quarter of the buckets (a
    contiguous run, never all of them) by 3-8 or divides them by it; ``spike`` adds 20-50 % of
    the day's total to the emptiest bucket."""
    h = h.astype(np.float64).copy()
    n, total = len(h), max(h.sum(), 1.0)
    if kind == "shift":
        src = int(np.argmax(h))
        k = int(rng.integers(1, max(1, n // 5) + 1))
        dst = src + k if (src + k < n and (rng.random() < 0.5 or src - k < 0)) else src - k
        dst = int(np.clip(dst, 0, n - 1))
        if dst == src:
            dst = (src + 1) % n
        moved = rng.uniform(0.3, 0.7) * h[src]
        h[src] -= moved
        h[dst] += moved
    elif kind == "scale":
        width = max(1, min(n - 1, n // 4))
        start = int(rng.integers(0, n - width + 1))
        f = rng.uniform(3.0, 8.0)
        h[start:start + width] *= f if rng.random() < 0.5 else 1.0 / f
    elif kind == "spike":
        h[int(np.argmin(h))] += rng.uniform(0.2, 0.5) * total
    else:
        raise ValueError(kind)
    return h


def _label_days(n_days: int, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """Injected day indices, and the split in rows: train rows ``[0, tr)`` compare training days
    only (the first two thirds); the remaining rows are halved into validation and test, and at
    least one injected day lands in each half."""
    train_days = int(round(2 * n_days / 3))
    tr = train_days - 1
    va = tr + (n_days - 1 - tr) // 2
    later = np.arange(train_days, n_days)
    k = max(2, int(round(rate * len(later))))
    first = rng.choice(np.arange(train_days, va + 1))  # its row j-1 is in validation
    second = rng.choice(np.arange(va + 1, n_days))  # its row j-1 is in test
    rest = np.setdiff1d(later, [first, second])
    extra = rng.choice(rest, size=min(len(rest), k - 2), replace=False) if k > 2 else []
    return np.unique(np.concatenate([[first, second], extra]).astype(int)), tr, va


def make_series(name: str, dates: list[str], h: np.ndarray, rate: float, seed: int,
                meta: dict) -> bench.Series:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    days, tr, va = _label_days(len(dates), rate, rng)
    h = h.astype(np.float64).copy()
    kinds = []
    for d in days:
        kind = INJECTIONS[int(rng.integers(len(INJECTIONS)))]
        h[d] = inject(h[d], kind, rng)
        kinds.append(kind)
    injected = np.zeros(len(dates), dtype=bool)
    injected[days] = True
    labels = (injected[:-1] | injected[1:]).astype(np.int8)
    ts = np.array([np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:8]}") for d in dates[1:]])
    return bench.Series(
        distances(h).astype(np.float32), labels, name=name, split=bench.Split(tr, va),
        timestamps=ts,
        meta={**meta, "features": list(DISTANCES),
              "injected": {dates[d]: k for d, k in zip(days, kinds, strict=True)}},
    )


# ----------------------------------------------------------------------------- reading


def read_probe(path: Path) -> dict:
    """A probe file: ``{buckets, kind, description, data: [{date, count, sum, histogram,
    label}]}``, checked."""
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise bench.BenchError(f"dataset '{NAME}': {path} line {exc.lineno}: bad JSON "
                               f"({exc.msg})") from None
    if not isinstance(d, dict) or "data" not in d or "buckets" not in d:
        raise bench.BenchError(f"dataset '{NAME}': {path}: expected a JSON object with 'buckets' "
                               f"and 'data'")
    for i, e in enumerate(d["data"]):
        hist, date = e.get("histogram"), str(e.get("date", ""))
        ok = isinstance(hist, list) and all(isinstance(x, (int, float)) and not
                                            isinstance(x, bool) for x in hist)
        if not ok or len(date) != 8 or not date.isdigit():
            raise bench.BenchError(f"dataset '{NAME}': {path} data entry {i} (date {date!r}): "
                                   f"need a YYYYMMDD date and a numeric histogram list")
    return d


def probe_histograms(d: dict, keys: str) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{key: (sorted dates, [days, buckets] counts)}``; ``keys="aggregate"`` sums every key of a
    keyed probe per day (one entry, key ``""``), ``"split"`` keeps one entry per key.  Histograms
    of one probe shorter than its longest are padded with zero buckets (flag probes list 2
    buckets but report 3 counts)."""
    width = max([len(d["buckets"])] + [len(e["histogram"]) for e in d["data"]])
    acc: dict[str, dict[str, np.ndarray]] = {}
    for e in d["data"]:
        key = (e.get("label") or "") if keys == "split" else ""
        row = acc.setdefault(key, {}).setdefault(str(e["date"]), np.zeros(width))
        row[: len(e["histogram"])] += np.asarray(e["histogram"], dtype=np.float64)
    out = {}
    for key, by_date in acc.items():
        dates = sorted(by_date)
        out[key] = (dates, np.stack([by_date[x] for x in dates]))
    return out


def telemetry(*, path: str = "", sample: bool = False, probes: str = "*",
              keys: str = "aggregate", min_days: int = 21, anomaly_rate: float = 0.2,
              seed: int = 0) -> bench.Dataset:
    """Firefox Nightly telemetry, 625 probes: 5 distances between consecutive days' histograms
    (log1p of Bhattacharyya, Wasserstein, energy, max and sum of bucket differences), one
    [days - 1, 5] series per probe; labels are anomalies INJECTED into the last third of the days.

    The probes carry no anomaly labels: as in the telemetry study, the first two thirds of the
    days are training, and anomalies are injected (seeded) into anomaly_rate of the remaining
    days' histograms: mass shifted between buckets, a run of buckets scaled, or a new spike
    bucket; a row (a pair of consecutive days) is labelled when either day was injected.  The
    remaining rows are halved into validation and test, each holding at least one injected day.
    keys: aggregate (sum a keyed probe's keys per day) or split (one series per key).  probes:
    fnmatch patterns over probe names separated by |.  Probes (or keys) with fewer than min_days
    days are skipped.  sample=true: the 25 probes shipped with bench (a bare `bench run` uses all
    of them: about 41 training rows each, so means over few probes are noise)."""
    if keys not in ("aggregate", "split"):
        raise bench.BenchError(f"dataset '{NAME}': keys={keys!r}; use aggregate or split")
    if sample and not path:
        folder = SAMPLE
    else:
        cands = [_util.cache_dir() / "telemetry" / "example_data",
                 _util.SHARED_DATA / "telemetry_histograms" / "example_data"]
        folder = _util.locate(NAME, path, cands, "a folder of telemetry probe JSON files",
                              fetch="telemetry")
    files = sorted(f for f in folder.glob("*.json") if _util.matches(f.stem, probes))
    if not files:
        raise bench.BenchError(f"dataset '{NAME}': no *.json probe in {folder} matches "
                               f"probes={probes!r}")
    series, skipped = [], 0
    for f in files:
        d = read_probe(f)
        for key, (dates, h) in probe_histograms(d, keys).items():
            if len(dates) < max(min_days, 6):
                skipped += 1
                continue
            name = f.stem if key == "" else f"{f.stem}[{key}]"
            meta = {"kind": d.get("kind", ""), "description": d.get("description", ""),
                    "source_file": str(f), "key": key}
            series.append(make_series(name, dates, h, anomaly_rate, seed, meta))
    if not series:
        raise bench.BenchError(f"dataset '{NAME}': none of the {len(files)} probe(s) in {folder} "
                               f"has {min_days}+ days; lower min_days")
    return bench.Dataset(
        NAME, series, description=_util.describe(telemetry),
        license="MPL-2.0", family="telemetry", provenance=PROVENANCE,
        meta={"source_sha256": _util.sha256_files(files), "skipped": skipped,
              "labels": "injected (no real labels); see the description", "seed": seed},
        evaluation=EVALUATION,
        title=_util.title(NAME, folder == SAMPLE, len(files), 625, "probes"),
    )


#: injected anomalies fall in the later days only; unsupervised.  Headline PR-AUC, not VUS-PR:
#: a probe has at most 62 rows and VUS's 100-row buffer spans its whole 10-20-row test range
#: (measured on the 25 shipped probes: VUS-PR of random scores 0.954, of a constant 0.951).
#: On 10-20 test rows one probe's PR-AUC is mostly chance (random scores average 0.54 where the
#: anomaly rate is 0.37), so the table judges it against random's per-probe values by the paired
#: chance test over the probes (bench.chance_test), not against the anomaly rate.  No time-based
#: cost (time_costs=False): the event cost's 12-step tolerance spans a probe's whole 11-row test
#: range, so a detector that alarms on every row (constant) costs 0.
EVALUATION = bench.Evaluation(
    headline="pr_auc", time_costs=False,
    split="train: the first two thirds of the days; validation and test: halves of the rest")


@bench.hookimpl
def bench_register_datasets(register):
    register(NAME, telemetry, default_run={"sample": True},
             evaluation=EVALUATION)
