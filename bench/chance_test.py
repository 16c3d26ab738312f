"""Chance as a test: is a detector's headline better than the ``random`` detector's?

For each dataset, threshold strategy and detector (as given, seeds pooled), the headline values
are compared with those of ``random`` (the seeded uniform-scores baseline), direction-aware (a
cost headline is lower-is-better):

- **paired** (``method: "wilcoxon"``), when at least :data:`MIN_PAIRED` series have a finite
  headline for both: per series, the detector's mean over its seeds against random's mean over its
  seeds; one-sided Wilcoxon signed-rank test (scipy, zero differences dropped) of "the detector is
  better"; ``better`` when ``p < ALPHA``.  (With 4 series the smallest one-sided p is 1/16, so a
  paired test on fewer than 5 series could never say "better".)
- **seed band** (``method: "seed band"``), otherwise (one series, or too few): the dataset-level
  headline (the detector's mean over its seeds) against each of random's seeds' dataset-level
  headline; ``p = (1 + seeds at least as good) / (1 + seeds)`` (a Monte Carlo rank p-value);
  ``better`` only when it is better than every seed and random has at least :data:`MIN_SEEDS`
  seeds (so ``p <= 1/11``).  With fewer seeds: no test (``method: "none"``, ``better: false``, a
  ``note`` saying why).

The result, ``{"p", "better", "n", "method", "seeds", "rule"}`` (``n``: series paired, or random
seeds in the band), is stored as ``chance_test`` in each non-oracle evaluation of every cell
(:func:`annotate`, called once when a run's record is complete); the leaderboard shows it and
computes it from the record for an older record that lacks it (:func:`results`).  ``random``'s
own cells get none.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any

import numpy as np

#: declared version of the test (its rule, thresholds and stored fields)
VERSION = 1
#: significance level of the paired test
ALPHA = 0.05
#: fewest random seeds for the seed-band rule (p <= 1 / (MIN_SEEDS + 1))
MIN_SEEDS = 10
#: fewest paired series for the Wilcoxon test (one-sided p can reach 1/32 < ALPHA)
MIN_PAIRED = 5
#: the chance detector every other detector is compared with
REFERENCE = "random"


# ----------------------------------------------------------------------------- record access


def _get(obj: Any, key: str, default: Any = None) -> Any:
    v = obj.get(key, default) if hasattr(obj, "get") else getattr(obj, key, default)
    return default if v is None else v


def _label(cell: Any) -> str:
    from .leaderboard.rows import detector_label

    return detector_label(cell)


def _dataset(cell: Any) -> str:
    from .leaderboard.rows import dataset_label

    return dataset_label(cell)


def headline_of(cell: Any) -> str:
    """The headline a cell recorded (``vus_pr``, ``cost:event``)."""
    plan = _get(cell, "plan", {}) or {}
    ev = _get(plan, "evaluation", {}) or {}
    return str(_get(cell, "headline", "") or _get(ev, "headline", "") or "")


def _value(d: Any, key: str) -> float:
    """The headline value in an evaluation or a per-series evaluation: a metric, or the test
    total of ``cost:NAME``; NaN when absent."""
    if key.startswith("cost:"):
        v = (_get(_get(d, "costs", {}), key[5:], {}) or {}).get("test")
    else:
        v = _get(d, "metrics", {}).get(key)
    try:
        return float(v) if v is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def per_series(ev: Any, key: str) -> dict[str, float]:
    """``{series: headline value}`` of an evaluation's per-series records (finite values only)."""
    out = {}
    for p in _get(ev, "per_series", []) or []:
        v = _value(p, key)
        if math.isfinite(v):
            out[str(_get(p, "series", ""))] = v
    return out


def higher_is_better(record: Any, key: str, manager: Any = None) -> bool:
    """Direction of a headline: a cost is lower-is-better; a metric as the record's metadata
    says, else as its plugin declares (higher when neither knows it)."""
    if key.startswith("cost:"):
        return False
    try:
        from . import recordmeta  # type: ignore[attr-defined]

        meta = recordmeta.meta_of(record, "metric", key)
        if meta and "higher_is_better" in meta:
            return bool(meta["higher_is_better"])
    except (ImportError, AttributeError, KeyError):
        pass
    from .params import parse_spec
    from .plugins import get_manager

    manager = manager or get_manager()
    try:
        name = parse_spec(key).name
    except Exception:
        return True
    reg = manager.registry("metric")
    return bool(getattr(reg.get(name).factory, "higher_is_better", True)) if name in reg else True


# ----------------------------------------------------------------------------- the tests


def _mean_by_series(evs: list[Any], key: str) -> dict[str, float]:
    """Per series, the mean over the given evaluations (seeds) of the finite headline values."""
    acc: dict[str, list[float]] = defaultdict(list)
    for ev in evs:
        for s, v in per_series(ev, key).items():
            acc[s].append(v)
    return {s: float(np.mean(v)) for s, v in acc.items()}


def paired(det: dict[str, float], rnd: dict[str, float], higher: bool) -> dict[str, Any]:
    """One-sided paired Wilcoxon signed-rank test of "``det`` is better than ``rnd``" over the
    series both hold."""
    from scipy.stats import wilcoxon

    common = sorted(set(det) & set(rnd))
    d = np.array([det[s] - rnd[s] for s in common], dtype=np.float64)
    d = d if higher else -d
    if not np.any(d != 0):
        p = 1.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(wilcoxon(d, zero_method="wilcox", alternative="greater").pvalue)
    return {"p": p, "better": bool(p < ALPHA), "n": len(common), "method": "wilcoxon",
            "median_diff": float(np.median(d)) if d.size else None,
            "rule": f"paired one-sided Wilcoxon over series vs {REFERENCE}'s per-series mean "
                    f"over its seeds, better when p < {ALPHA:g}"}


def band(value: float, seeds: list[float], higher: bool) -> dict[str, Any]:
    """The seed-band rule: ``value`` against random's dataset-level headline of each seed."""
    k = len(seeds)
    if k < MIN_SEEDS or not math.isfinite(value):
        why = (f"{k} {REFERENCE} seed{'s' if k != 1 else ''}: no test (the seed band needs "
               f">= {MIN_SEEDS})") if k < MIN_SEEDS else "no headline value: no test"
        return {"p": None, "better": False, "n": k, "method": "none", "note": why,
                "rule": why}
    s = np.asarray(seeds, dtype=np.float64)
    as_good = int(np.sum(s >= value)) if higher else int(np.sum(s <= value))
    p = (1 + as_good) / (1 + k)
    return {"p": p, "better": bool(as_good == 0), "n": k, "method": "seed band",
            "rule": f"better than each of {k} {REFERENCE} seeds' headline (p = (1 + seeds at "
                    f"least as good) / (1 + seeds))"}


def against_random(det_evs: list[Any], rnd_evs: list[Any], key: str,
                   higher: bool) -> dict[str, Any]:
    """The chance test of one detector (its seeds' evaluations) against random's."""
    det, rnd = _mean_by_series(det_evs, key), _mean_by_series(rnd_evs, key)
    if len(set(det) & set(rnd)) >= MIN_PAIRED:
        out = paired(det, rnd, higher)
    else:
        vals = [_value(ev, key) for ev in det_evs]
        vals = [v for v in vals if math.isfinite(v)]
        seeds = [v for v in (_value(ev, key) for ev in rnd_evs) if math.isfinite(v)]
        out = band(float(np.mean(vals)) if vals else float("nan"), seeds, higher)
    out["seeds"] = len(rnd_evs)
    out["headline"] = key
    out["version"] = VERSION
    return out


# ----------------------------------------------------------------------------- whole record


def _groups(record: Any) -> dict[tuple[str, str], dict[str, list[tuple[Any, Any]]]]:
    """``(dataset label, threshold) -> detector label -> [(cell, evaluation)]`` of the finished
    cells' non-oracle evaluations."""
    out: dict[tuple[str, str], dict[str, list[tuple[Any, Any]]]] = defaultdict(
        lambda: defaultdict(list))
    for cell in _get(record, "cells", []) or []:
        if _get(cell, "status") != "ok":
            continue
        for ev in _get(cell, "evaluations", []) or []:
            if _get(ev, "oracle", False):
                continue
            out[(_dataset(cell), str(_get(ev, "threshold", "")))][_label(cell)].append((cell, ev))
    return out


def results(record: Any, manager: Any = None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(dataset label, threshold, detector label) -> chance_test`` for every detector of the
    record but random itself (computed, not read: see :func:`stored`)."""
    out = {}
    for (ds, thr), by_label in _groups(record).items():
        ref = [ev for lab, pairs in by_label.items() for c, ev in pairs
               if _get(c, "detector") == REFERENCE and not _get(c, "given", {})]
        for lab, pairs in by_label.items():
            cell0 = pairs[0][0]
            if _get(cell0, "detector") == REFERENCE:
                continue
            key = headline_of(cell0)
            if not key:
                continue
            if not ref:
                out[(ds, thr, lab)] = {"p": None, "better": False, "n": 0, "method": "none",
                                       "seeds": 0, "version": VERSION,
                                       "note": f"no {REFERENCE} cell: no test",
                                       "rule": f"no {REFERENCE} cell: no test"}
                continue
            out[(ds, thr, lab)] = against_random([ev for _, ev in pairs], ref, key,
                                       higher_is_better(record, key, manager))
    return out


def stored(record: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The chance tests a record already holds (the first evaluation of each group that has
    one)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for (ds, thr), by_label in _groups(record).items():
        for lab, pairs in by_label.items():
            for _, ev in pairs:
                ct = _get(ev, "chance_test")
                if ct:
                    out.setdefault((ds, thr, lab), dict(ct))
    return out


def _set(ev: Any, value: dict[str, Any]) -> None:
    if isinstance(ev, dict):
        ev["chance_test"] = value
    elif hasattr(ev, "more") and isinstance(ev.more, dict):
        ev.more["chance_test"] = value
    else:
        ev["chance_test"] = value


def annotate(record: Any, manager: Any = None) -> int:
    """Store each detector's chance test in every non-oracle evaluation of its cells (replacing
    any stored one); the number of evaluations annotated.  Call once the record is complete:
    a test reads every seed of the detector and of random."""
    res = results(record, manager)
    n = 0
    for (ds, thr), by_label in _groups(record).items():
        for lab, pairs in by_label.items():
            r = res.get((ds, thr, lab))
            if r is None:
                continue
            for _, ev in pairs:
                _set(ev, dict(r))
                n += 1
    return n


def finalise(record: Any, manager: Any = None, interrupted: bool = False) -> None:
    """What a session calls once its record is complete: :func:`annotate`.  An interrupted run
    gets no stored test (its leaderboard computes one from the cells that finished); a failure
    here is reported on stderr and never costs the record."""
    if interrupted:
        return
    try:
        annotate(record, manager)
    except Exception as exc:  # the record must still be saved
        import sys

        print(f"bench: chance test not stored ({type(exc).__name__}: {exc}); "
              f"`bench leaderboard` computes it from the record", file=sys.stderr)
