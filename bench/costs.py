"""Cost models: what a detector's alarms cost an operator.  Lower is better."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

import bench

from .metrics import check_pred, check_scores


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
        y, s = check_scores(labels, scores)
        t = np.asarray(thresholds, dtype=np.float64)
        far = np.sort(s[~_near(y, self.tolerance)])
        fa = far.size - np.searchsorted(far, t, side="left")
        if self.tolerance > 0:
            reach = maximum_filter1d(s, size=2 * self.tolerance + 1, mode="constant",
                                     cval=-np.inf)
        else:
            reach = s
        peak = np.sort(reach[y])
        miss = np.searchsorted(peak, t, side="left")
        return self.c_alarm * fa + self.c_missed * miss


@bench.hookimpl
def bench_register_cost_models(register):
    register("event", EventCost)
