"""Declared evaluation versions are honest: every built-in metric, cost model and threshold
strategy, and the evaluation step itself, is computed on fixed cases and compared with the golden
values recorded under its declared version (``tests/data/golden_evaluation.json``).

A change of output without a version bump fails here, because the regression gate keys results by
declared versions, not by source bytes: an unbumped change would compare numbers of different
meaning.  After a deliberate change, bump the version and record the new values with
``BENCH_UPDATE_GOLDEN=1 python -m pytest -q tests/test_golden.py``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bench.data import Series, Split
from bench.evaluation import EVALUATION_VERSION, _aggregate, evaluate
from bench.plugins import Manager
from bench.runner import BUILTIN_EVAL_PLUGINS
from bench.thresholds import ThresholdContext

GOLDEN = Path(__file__).parent / "data" / "golden_evaluation.json"


def _case(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a few anomaly ranges and scores that mostly (not perfectly) find them."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int8)
    for start in rng.choice(np.arange(20, n - 40), size=3, replace=False):
        labels[start:start + rng.integers(3, 25)] = 1
    scores = rng.normal(size=n) + 2.5 * labels * rng.uniform(0.3, 1.5, size=n)
    return labels, scores


CASES = [_case(s) for s in (0, 1, 2)]


def _round(v: float) -> float | None:
    return None if not math.isfinite(v) else float(f"{v:.12g}")


def _builtins(manager: Manager, kind: str):
    return [e for e in manager.registry(kind) if e.plugin in BUILTIN_EVAL_PLUGINS]


def compute() -> dict[str, list]:
    """``{"KIND:NAME@vVERSION": [value per case]}`` for every built-in evaluation entry."""
    m = Manager()
    out: dict[str, list] = {}
    for e in _builtins(m, "metric"):
        vals = []
        for labels, scores in CASES:
            x = scores if e.factory.input == "scores" else (scores >= np.quantile(scores, 0.9))
            vals.append(_round(float(e.factory(labels, x.astype(np.float64)
                                               if e.factory.input == "scores" else
                                               x.astype(np.int8)))))
        out[f"metric:{e.name}@v{getattr(e.factory, 'version', 1)}"] = vals
    costs = {}
    for e in _builtins(m, "cost"):
        if e.meta.get("kind") == "compute":
            continue
        model = e.factory()
        costs[e.name] = model
        out[f"cost:{e.name}@v{getattr(e.factory, 'version', 1)}"] = [
            _round(float(model(labels, (scores >= np.quantile(scores, 0.9)).astype(np.int8))))
            for labels, scores in CASES]
    for e in _builtins(m, "threshold"):
        vals = []
        for labels, scores in CASES:
            half = len(labels) // 2
            ctx = ThresholdContext(train_scores=scores[:half // 2], val_scores=scores[half:],
                                   val_labels=labels[half:], cost=costs.get("event"),
                                   series="case", test_scores=scores[half:],
                                   test_labels=labels[half:])
            vals.append(_round(float(e.factory().select(ctx))))
        out[f"threshold:{e.name}@v{getattr(e.factory, 'version', 1)}"] = vals
    out[f"evaluation@v{EVALUATION_VERSION}"] = _evaluation(m, costs)
    return out


def _evaluation(m: Manager, costs: dict) -> list:
    """The evaluation step end to end: per-series evaluation and aggregation of three series
    (one without a test anomaly) with the default metrics and the best_f1 strategy."""
    series = []
    for i, (labels, scores) in enumerate(CASES):
        labels = labels.copy()
        if i == 2:
            labels[400:] = 0
        series.append((Series(scores[:, None].astype(np.float32), labels, name=f"s{i}",
                              split=Split(train_end=200, val_end=400)), scores))
    fns = {e.name: e.factory for e in m.registry("metric") if getattr(e.factory, "default", 0)}
    per = [evaluate(s, sc, np.arange(len(s)) < 200, m.get("threshold", "best_f1").factory(),
                    costs, fns) for s, sc in series]
    agg = _aggregate(per)
    flat = [agg["metrics"][k] for k in sorted(agg["metrics"])]
    flat += [agg["costs"][k][r] for k in sorted(agg["costs"]) for r in sorted(agg["costs"][k])]
    return [_round(float(v)) for v in flat]


def check(golden: dict[str, list], computed: dict[str, list]) -> list[str]:
    """Why ``computed`` disagrees with ``golden``, one line each."""
    problems = []
    golden_names = {k.rsplit("@", 1)[0]: k for k in golden}
    for key, vals in computed.items():
        name = key.rsplit("@", 1)[0]
        if key in golden:
            if not np.allclose(np.array(vals, dtype=float), np.array(golden[key], dtype=float),
                               rtol=1e-9, atol=1e-12, equal_nan=True):
                problems.append(f"{name}: output changed without a version bump ({key}: "
                                f"{golden[key]} -> {vals}); bump its declared version")
        elif name in golden_names:
            problems.append(f"{name}: version changed ({golden_names[name]} -> {key}); record "
                            f"its golden values with BENCH_UPDATE_GOLDEN=1")
        else:
            problems.append(f"{name}: no golden values; record them with BENCH_UPDATE_GOLDEN=1")
    return problems


def test_golden_values_under_declared_versions():
    computed = compute()
    if os.environ.get("BENCH_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(computed, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert check(golden, computed) == []


def test_an_unbumped_change_is_caught_and_a_bumped_one_asks_for_new_values():
    computed = compute()
    golden = json.loads(GOLDEN.read_text())
    key = next(k for k in computed if k.startswith("metric:f1@"))
    changed = {**computed, key: [v + 0.01 for v in computed[key]]}
    assert check(golden, changed) == [
        f"metric:f1: output changed without a version bump ({key}: {golden[key]} -> "
        f"{changed[key]}); bump its declared version"]
    bumped = {k: v for k, v in computed.items() if k != key}
    bumped["metric:f1@v99"] = changed[key]
    assert check(golden, bumped) == [f"metric:f1: version changed ({key} -> metric:f1@v99); "
                                     f"record its golden values with BENCH_UPDATE_GOLDEN=1"]


@pytest.mark.parametrize("kind", ["metric", "cost", "threshold"])
def test_every_builtin_declares_an_integer_version(kind):
    for e in _builtins(Manager(), kind):
        v = getattr(e.factory, "version", None)
        assert isinstance(v, int) and v >= 1, f"{kind} {e.name} declares version {v!r}"
