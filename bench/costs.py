"""Cost models: what a detector's alarms, or its compute, cost an operator.  Lower is better.

``event`` and ``nab`` score alarms (``model(labels, pred)``, with a vectorised ``sweep`` for
``min_cost``); ``compute`` reads a cell record's timings (``kind="compute"``); ``cost_curve``
gives the event cost over a grid of cost ratios and tolerances."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import maximum_filter1d

import bench

from .metrics import check_pred, check_scores, nab
from .params import Interval


def _near(mask: np.ndarray, tolerance: int) -> np.ndarray:
    """``out[t]`` is True when ``mask`` holds a True within ``tolerance`` steps of ``t``."""
    if tolerance <= 0 or not mask.any():
        return mask.copy()
    return maximum_filter1d(mask.astype(np.uint8), size=2 * tolerance + 1, mode="constant") > 0


class EventCost:
    """``c_alarm * false_alarms + c_missed * missed``, counted per time step with a tolerance.

    * A step with an alarm is a *false alarm* when no anomalous step lies within ``tolerance``
      steps of it (``|t - s| <= tolerance``).
    * An anomalous step is *missed* when no alarm lies within ``tolerance`` steps of it.

    The unit is the operator's cost unit; lower is better; 0 is perfect.  This is the cost model of
    the HPC anomaly-detection course (c_alarm=1, c_missed=5, tolerance=12 steps of 5 minutes).
    """

    higher_is_better = False
    #: declared version of the model; bump it when a cost it reports changes
    version = 1

    #: the values each parameter accepts, checked when the run is planned (bench.params)
    _parameter_constraints = {"c_alarm": [Interval(float, 0, None)],
                              "c_missed": [Interval(float, 0, None)],
                              "tolerance": [Interval(int, 0, None)]}

    def __init__(self, *, c_alarm: float = 1.0, c_missed: float = 5.0, tolerance: int = 12):
        if tolerance < 0:
            raise bench.BenchError(f"cost 'event': tolerance must be >= 0, got {tolerance}")
        self.c_alarm = c_alarm
        self.c_missed = c_missed
        self.tolerance = tolerance

    def counts(self, labels: np.ndarray, pred: np.ndarray) -> tuple[int, int]:
        """``(false_alarms, missed)`` step counts."""
        y, p = check_pred(labels, pred)
        false_alarms = int(np.count_nonzero(p & ~_near(y, self.tolerance)))
        missed = int(np.count_nonzero(y & ~_near(p, self.tolerance)))
        return false_alarms, missed

    def __call__(self, labels: np.ndarray, pred: np.ndarray) -> float:
        fa, miss = self.counts(labels, pred)
        return float(self.c_alarm * fa + self.c_missed * miss)

    def sweep(self, labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
        """Cost of the alarms ``scores >= t`` for every ``t`` in ``thresholds``, in
        O((T + K) log T): a step far from every anomaly is a false alarm when its score reaches
        ``t``; an anomalous step is missed when the highest score within ``tolerance`` steps of it
        stays below ``t``."""
        fa, miss = sweep_counts(labels, scores, thresholds, self.tolerance)
        return self.c_alarm * fa + self.c_missed * miss


def sweep_counts(labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray,
                 tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(false_alarms, missed)`` step counts of :class:`EventCost` for the alarms
    ``scores >= t``, for every ``t`` in ``thresholds``."""
    y, s = check_scores(labels, scores)
    t = np.asarray(thresholds, dtype=np.float64)
    far = np.sort(s[~_near(y, tolerance)])
    fa = far.size - np.searchsorted(far, t, side="left")
    if tolerance > 0:
        reach = maximum_filter1d(s, size=2 * tolerance + 1, mode="constant", cval=-np.inf)
    else:
        reach = s
    peak = np.sort(reach[y])
    miss = np.searchsorted(peak, t, side="left")
    return fa, miss


class NabCost:
    """NAB points lost against the perfect detector: ``perfect - raw`` of NAB's scoring function
    (see :mod:`bench.metrics.nab`) under one of its three application profiles, ``standard``,
    ``reward_low_FP_rate`` (false positives cost twice as much) or ``reward_low_FN_rate`` (missed
    windows cost twice as much).  Each anomaly range is a NAB window; the first ``probation``
    fraction of the range (at most ``probation * 5000`` steps) is not scored.  Unit: NAB points
    (``perfect`` = the number of scored windows x tpWeight); lower is better; 0 is perfect; the
    null detector (no alarm) costs ``n_windows * (tpWeight + fnWeight)``.  Sums over series as
    NAB sums over files."""

    higher_is_better = False
    #: declared version of the model; bump it when a cost it reports changes
    version = 1

    def __init__(self, *, profile: str = "standard", probation: float = nab.PROBATION):
        nab.profile_weights(profile)
        if not 0.0 <= probation < 1.0:
            raise bench.BenchError(f"cost 'nab': probation must be in [0, 1), got {probation}")
        self.profile = profile
        self.probation = probation

    def __call__(self, labels: np.ndarray, pred: np.ndarray) -> float:
        raw, _, perfect = nab.nab_raw(labels, pred, profile=self.profile,
                                      probation=self.probation)
        return float(perfect - raw)

    def sweep(self, labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
        """Cost of ``scores >= t`` for every ``t`` (one sort, as NAB's optimiser sweeps)."""
        curve = nab.NabCurve(labels, scores, profile=self.profile, probation=self.probation)
        return curve.perfect - curve.raw(np.asarray(thresholds, dtype=np.float64))


# ----------------------------------------------------------------------------- compute cost

#: default hourly prices, placeholders to override: a small cloud CPU VM and one data-centre GPU
CPU_USD_PER_HOUR = 0.10
GPU_USD_PER_HOUR = 2.50


def _is_gpu(device: str) -> bool:
    d = device.lower()
    return any(k in d for k in ("gpu", "cuda", "rocm", "tpu"))


def compute_cost(cell: dict, *, cpu_usd_per_hour: float = CPU_USD_PER_HOUR,
                 gpu_usd_per_hour: float = GPU_USD_PER_HOUR,
                 n_points: int | None = None) -> dict:
    """What a cell's compute costs, from its record (``bench.runner.run_cell``'s dict).

    Reads ``fit_s`` and ``score_s`` (seconds, summed over series), ``peak_mem_mb``, ``device``
    (a GPU when any device name holds gpu/cuda/rocm/tpu) and the number of rows scored
    (``n_points`` argument, else the record's ``n_points``).  Returns ``fit_s``, ``score_s``,
    ``peak_mem_mb``, ``device``, ``usd_per_hour`` (the price used), ``usd_fit``, ``usd_score``,
    ``usd_total`` (dollars at that hourly price) and ``usd_per_million_points`` (scoring dollars
    per million rows scored; NaN when the number of rows is unknown).  Lower is better.  A cell
    that did not finish (no timings) gets NaN figures."""
    for name, v in (("cpu_usd_per_hour", cpu_usd_per_hour), ("gpu_usd_per_hour", gpu_usd_per_hour)):
        if not v >= 0:
            raise bench.BenchError(f"cost 'compute': {name} must be >= 0, got {v}")
    device = str(cell.get("device") or "cpu")
    price = gpu_usd_per_hour if _is_gpu(device) else cpu_usd_per_hour
    fit_s = float(cell.get("fit_s", float("nan")))
    score_s = float(cell.get("score_s", float("nan")))
    points = n_points if n_points is not None else cell.get("n_points")
    usd_score = score_s / 3600.0 * price
    per_m = usd_score / (points / 1e6) if points else float("nan")
    return {
        "fit_s": fit_s, "score_s": score_s,
        "peak_mem_mb": float(cell.get("peak_mem_mb", float("nan"))),
        "device": device, "usd_per_hour": price,
        "usd_fit": fit_s / 3600.0 * price, "usd_score": usd_score,
        "usd_total": (fit_s + score_s) / 3600.0 * price,
        "usd_per_million_points": per_m,
        "n_points": points,
    }


class ComputeCost:
    """Compute cost of a cell: fit and score seconds, peak memory, and dollars (total and per
    million rows scored) at ``cpu_usd_per_hour`` or ``gpu_usd_per_hour``, by the device the
    detector ran on.  Lower is better.  Unlike the other cost models it reads a whole cell
    record, not alarms (registered with ``kind="compute"``): ``ComputeCost(...)(record)``
    returns :func:`compute_cost`'s dict."""

    higher_is_better = False
    #: declared version of the model; bump it when a cost it reports changes
    version = 1
    kind = "compute"

    def __init__(self, *, cpu_usd_per_hour: float = CPU_USD_PER_HOUR,
                 gpu_usd_per_hour: float = GPU_USD_PER_HOUR):
        self.cpu_usd_per_hour = cpu_usd_per_hour
        self.gpu_usd_per_hour = gpu_usd_per_hour

    def __call__(self, cell: dict, n_points: int | None = None) -> dict:
        return compute_cost(cell, cpu_usd_per_hour=self.cpu_usd_per_hour,
                            gpu_usd_per_hour=self.gpu_usd_per_hour, n_points=n_points)


# ----------------------------------------------------------------------------- cost curves


def cost_curve(labels: np.ndarray, scores: np.ndarray, *, ratios: Sequence[float],
               tolerances: Sequence[int], threshold: float | None = None,
               val_labels: np.ndarray | None = None, val_scores: np.ndarray | None = None,
               grid: np.ndarray | None = None) -> dict:
    """The event cost (``c_alarm = 1``, ``c_missed = ratio``) of one series' test range over a
    grid of ``ratios`` (c_missed / c_alarm) and ``tolerances`` (steps).

    Thresholds, alarms being ``scores >= threshold``:

    * ``threshold=t``: the same threshold for every ratio and tolerance (the cell's own);
    * ``val_labels``/``val_scores``: for each (tolerance, ratio), the first minimiser of that
      cost on the validation range over ``grid`` (default: every distinct validation score and one
      above the maximum), as ``min_cost`` chooses it; never the test labels.

    Returns ``{"ratios", "tolerances", "threshold", "false_alarms", "missed", "cost"}``, the
    last four of shape ``[len(tolerances), len(ratios)]``; cost in units of one false alarm step,
    lower is better."""
    ratios = np.asarray(ratios, dtype=np.float64)
    tols = [int(t) for t in tolerances]
    if ratios.ndim != 1 or not ratios.size or not tols or min(tols) < 0 or (ratios < 0).any():
        raise bench.BenchError("cost_curve: give at least one ratio >= 0 and one tolerance >= 0")
    if threshold is None and (val_labels is None or val_scores is None):
        raise bench.BenchError("cost_curve: pass threshold=, or val_labels= and val_scores= to "
                               "choose one per ratio on the validation range")
    shape = (len(tols), ratios.size)
    thr = np.full(shape, np.nan)
    fa = np.zeros(shape)
    miss = np.zeros(shape)
    for i, tol in enumerate(tols):
        if threshold is not None:
            thr[i] = threshold
        else:
            from .thresholds import candidates

            g = np.asarray(grid if grid is not None else candidates(val_scores), dtype=np.float64)
            vfa, vmiss = sweep_counts(val_labels, val_scores, g, tol)
            cost = vfa[None, :] + ratios[:, None] * vmiss[None, :]
            thr[i] = g[np.argmin(cost, axis=1)]
        f, m = sweep_counts(labels, scores, thr[i], tol)
        fa[i], miss[i] = f, m
    return {"ratios": ratios, "tolerances": np.array(tols), "threshold": thr,
            "false_alarms": fa, "missed": miss, "cost": fa + ratios[None, :] * miss}


@bench.hookimpl
def bench_register_cost_models(register):
    register("event", EventCost)
    register("nab", NabCost)
    register("compute", ComputeCost, kind="compute")
