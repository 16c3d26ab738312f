"""Agreement of bench.metrics with the reference implementations, on varied cases.

    python benchmarks/agreement.py [--ref-python /tmp/refenv/bin/python] [--write-fixture PATH]

The references run in a separate interpreter (a virtual environment used only for benchmarks,
never a dependency of bench):

    python -m venv /tmp/refenv && /tmp/refenv/bin/pip install vus prts

* ``vus`` 0.0.6 (Paparrizos et al.): ``vus.metrics.get_metrics(score, labels, metric="vus",
  slidingWindow=W)`` -> VUS-ROC, VUS-PR; and its bundled affiliation code
  (``vus.affiliation.metrics.pr_from_events``, Huet et al.'s implementation).
* ``prts`` 1.0.0.3 (Tatbul et al.'s reference): ``ts_precision``, ``ts_recall``, ``ts_fscore``.

Prints one row per case and metric with both values and their difference; a reference that
raises is shown as ``raises`` (bench returns its documented value instead).  With
``--write-fixture`` the small cases and the reference values are written as the JSON fixture
that ``tests/test_metrics_reference.py`` checks without the reference packages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from tabulate import tabulate

from bench.metrics import (
    affiliation_precision,
    affiliation_recall,
    range_f1,
    range_precision,
    range_recall,
)
from bench.metrics.vus import vus

REF_SCRIPT = r"""
import json, sys, warnings
import numpy as np
warnings.filterwarnings("ignore")
from vus.metrics import get_metrics
from vus.affiliation.generics import convert_vector_to_events
from vus.affiliation.metrics import pr_from_events
import prts

def safe(f):
    try:
        v = f()
        return None if v is None else float(v)
    except Exception as exc:
        return "raises: " + type(exc).__name__

cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    y = np.array(c["labels"]); s = np.array(c["scores"], dtype=float); p = np.array(c["pred"])
    r = {}
    try:
        v = get_metrics(s, y, metric="vus", slidingWindow=c["window"])
        r["vus_roc"], r["vus_pr"] = float(v["VUS_ROC"]), float(v["VUS_PR"])
    except Exception as exc:
        r["vus_roc"] = r["vus_pr"] = "raises: " + type(exc).__name__
    kw = dict(cardinality=c["cardinality"], bias=c["bias"])
    r["range_recall"] = safe(lambda: prts.ts_recall(y, p, alpha=c["alpha"], **kw))
    r["range_precision"] = safe(lambda: prts.ts_precision(y, p, alpha=0.0, **kw))
    r["range_f1"] = safe(lambda: prts.ts_fscore(y, p, p_alpha=0.0, r_alpha=c["alpha"],
                                                cardinality=c["cardinality"],
                                                p_bias=c["bias"], r_bias=c["bias"]))
    def aff():
        d = pr_from_events(convert_vector_to_events(p), convert_vector_to_events(y), (0, len(y)))
        return d["Affiliation_Precision"], d["Affiliation_Recall"]
    try:
        ap, ar = aff()
        r["affiliation_precision"], r["affiliation_recall"] = float(ap), float(ar)
    except Exception as exc:
        r["affiliation_precision"] = r["affiliation_recall"] = "raises: " + type(exc).__name__
    out.append(r)
json.dump(out, sys.stdout)
"""


def make_cases(n: int = 24, seed: int = 20240601, max_len: int = 600) -> list[dict]:
    """Varied cases: lengths, range counts and widths, ranges at the first and last index,
    one-step ranges and gaps, tied and informative scores, windows longer than the series."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        T = int(rng.integers(20, max_len))
        y = np.zeros(T, dtype=np.int64)
        for _ in range(int(rng.integers(1, 7))):
            a = int(rng.integers(0, T))
            y[a:a + int(rng.integers(1, max(2, T // 10)))] = 1
        if i % 4 == 0:
            y[:3] = 1  # a range at the first index
        if i % 4 == 1:
            y[-2:] = 1  # a range at the last index
        if i % 6 == 2:
            y[T // 2] = 1
            y[T // 2 + 2] = 1  # one-step ranges, one step apart
        s = rng.random(T)
        if i % 3 == 1:
            s = s + 1.5 * y * rng.random(T)  # informative
        if i % 5 == 3:
            s = np.round(s, 1)  # many ties
        s = np.round(s, 4)
        q = [0.5, 0.8, 0.9, 0.95, 0.99][i % 5]
        p = (s >= np.quantile(s, q)).astype(np.int64)
        cases.append({
            "labels": y.tolist(), "scores": s.tolist(), "pred": p.tolist(),
            "window": int([0, 1, 2, 5, 10, 20, 100, 2 * T if T < 400 else 150][i % 8]),
            "alpha": [0.0, 0.2, 0.5, 1.0][i % 4],
            "cardinality": ["one", "reciprocal"][i % 2],
            "bias": ["flat", "front", "back", "middle"][(i // 2) % 4],
        })
    return cases


def ours(c: dict) -> dict:
    y, s, p = np.array(c["labels"]), np.array(c["scores"]), np.array(c["pred"])
    kw = {"cardinality": c["cardinality"], "bias": c["bias"]}
    roc, pr = vus(y, s, window=c["window"])
    return {
        "vus_roc": roc, "vus_pr": pr,
        "range_recall": range_recall(y, p, alpha=c["alpha"], **kw),
        "range_precision": range_precision(y, p, **kw),
        "range_f1": range_f1(y, p, alpha=c["alpha"], **kw),
        "affiliation_precision": affiliation_precision(y, p),
        "affiliation_recall": affiliation_recall(y, p),
    }


def reference(cases: list[dict], python: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cases.json")
        with open(path, "w") as f:
            json.dump(cases, f)
        script = os.path.join(d, "ref.py")
        with open(script, "w") as f:
            f.write(REF_SCRIPT)
        out = subprocess.run([python, script, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref-python", default=os.environ.get("BENCH_REF_PYTHON",
                                                           "/tmp/refenv/bin/python"))
    ap.add_argument("--cases", type=int, default=24)
    ap.add_argument("--max-len", type=int, default=600)
    ap.add_argument("--write-fixture", metavar="PATH")
    args = ap.parse_args()
    cases = make_cases(args.cases, max_len=args.max_len)
    refs = reference(cases, args.ref_python)
    rows, worst, n_cmp = [], 0.0, 0
    for i, (c, r) in enumerate(zip(cases, refs, strict=True)):
        mine = ours(c)
        for name, ref in r.items():
            v = mine[name]
            if isinstance(ref, str) or ref is None or np.isnan(ref) or np.isnan(v):
                diff = "" if (ref is None or isinstance(ref, str)) else (
                    "0" if (np.isnan(ref) and np.isnan(v)) else "nan mismatch")
            else:
                d = abs(v - ref)
                worst = max(worst, d)
                n_cmp += 1
                diff = f"{d:.1e}"
            rows.append([i, len(c["labels"]), int(np.sum(np.diff(np.r_[0, c["labels"]]) == 1)),
                         name, _param(name, c), _f(v), _f(ref), diff])
    print(tabulate(rows, headers=["case", "T", "ranges", "metric", "params", "bench",
                                  "reference", "|diff|"]))
    print(f"\n{len(cases)} cases, {n_cmp} numeric comparisons, largest |diff| = {worst:.2e}")
    if args.write_fixture:
        with open(args.write_fixture, "w") as f:
            json.dump({"provenance": PROVENANCE, "cases": cases, "reference": refs}, f,
                      separators=(",", ":"))
        print(f"fixture written to {args.write_fixture}")
    return 0 if worst < 1e-6 else 1


PROVENANCE = ("reference values computed by benchmarks/agreement.py --write-fixture with vus 0.0.6 "
              "(get_metrics metric='vus', thre=250; vus.affiliation.pr_from_events) and prts "
              "1.0.0.3 (ts_precision alpha=0, ts_recall, ts_fscore p_alpha=0) from PyPI, "
              "Python 3.11, numpy 1.26.4; a string value means the reference raised")


def _param(name: str, c: dict) -> str:
    if name.startswith("vus"):
        return f"window={c['window']}"
    if name.startswith("range"):
        a = c["alpha"] if name != "range_precision" else 0.0
        return f"a={a},{c['cardinality'][:5]},{c['bias']}"
    return ""


def _f(v) -> str:
    if v is None:
        return "None"
    if isinstance(v, str):
        return v
    return f"{v:.9f}"


if __name__ == "__main__":
    sys.exit(main())
