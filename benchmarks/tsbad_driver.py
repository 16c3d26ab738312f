"""Run TSB-AD's own PyTorch AutoEncoder / LSTMAD on TSB-AD-format CSV files and time them.

Runs in TSB-AD's virtual environment (never bench's: TSB-AD pins numpy < 2), started by
``benchmarks/bench_tsb_deep.py``; it imports nothing of bench.  For each CSV (``Data`` column(s),
``Label`` last, TSB-AD's ``NNN_..._tr_N_1st_M.csv`` names) it fits on ``data[:tr_N]`` and scores
every row as TSB-AD's ``model_wrapper.run_AutoEncoder`` / ``run_LSTMAD`` do (same constructor
arguments, ``Optimal_Uni_algo_HP_dict``'s hyper-parameters; ``--epochs`` overrides theirs), seeded
as ``benchmark_exp/Run_Detector_U.py`` (2024) but once per file.  Writes ``OUT.npz`` (one score
array per file stem) and ``OUT.json`` (per file: rows, fit+score seconds, epochs trained).

    python tsbad_driver.py --model AutoEncoder --out /tmp/ae --threads 2 a.csv b.csv

With ``--serve DIR`` it reads one CSV path per line from stdin instead, writes ``DIR/STEM.npy``
and answers each with one line ``RESULT {json}`` on stdout (``bench_tsb_deep.py`` keeps one such
process per model, so torch is imported once and results arrive file by file).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import time

import numpy as np


def run_one(model: str, path: str, epochs: int | None) -> tuple[np.ndarray, float, int]:
    import pandas as pd
    import torch

    df = pd.read_csv(path).dropna()
    data = df.iloc[:, 0:-1].values.astype(float)
    tr = int(re.search(r"_tr_(\d+)_", os.path.basename(path)).group(1))
    data_train = data[:tr, :]
    from TSB_AD.models.AE import AutoEncoder  # imported before the clock starts
    from TSB_AD.models.LSTMAD import LSTMAD

    torch.manual_seed(2024)
    np.random.seed(2024)
    random.seed(2024)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if model == "AutoEncoder":  # run_AutoEncoder(window_size=100, hidden_neurons=[128, 64])
            clf = AutoEncoder(slidingWindow=100, hidden_neurons=[128, 64], batch_size=128,
                              epochs=50 if epochs is None else epochs)
            clf.fit(data_train)
        else:  # run_LSTMAD(window_size=100, lr=0.0008)
            clf = LSTMAD(window_size=100, pred_len=1, lr=0.0008, feats=data.shape[1],
                         batch_size=128, epochs=50 if epochs is None else epochs)
            clf.fit(data_train)
        score = clf.decision_function(data)
    secs = time.perf_counter() - t0
    # epochs trained: AutoEncoder always all; LSTMAD's StepLR steps once per epoch
    sched = getattr(clf, "scheduler", None)
    run = int(sched.last_epoch) if sched is not None else int(clf.epochs)
    return np.asarray(score, dtype=np.float64).ravel(), secs, run


def _versions() -> dict:
    import torch
    import TSB_AD

    return {"torch": torch.__version__, "numpy": np.__version__,
            "tsb_ad": getattr(TSB_AD, "__version__", ""),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads()}


def serve(model: str, out_dir: str, epochs: int | None) -> None:
    """One ``RESULT {json}`` line per CSV path read from stdin (scores in ``out_dir/STEM.npy``)."""
    import sys

    print("READY " + json.dumps(_versions()), flush=True)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            s, secs, run = run_one(model, path, epochs)
        except Exception as e:  # noqa: BLE001 - reported to the parent, which records it
            print("RESULT " + json.dumps({"file": stem, "error": f"{type(e).__name__}: {e}"}),
                  flush=True)
            continue
        np.save(os.path.join(out_dir, stem + ".npy"), s)
        print("RESULT " + json.dumps({"file": stem, "rows": int(s.size), "seconds": secs,
                                      "epochs_run": run}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("AutoEncoder", "LSTMAD"), required=True)
    ap.add_argument("--out", help="path prefix of OUT.npz / OUT.json")
    ap.add_argument("--serve", metavar="DIR", help="read CSV paths from stdin, answer per file")
    ap.add_argument("--epochs", type=int, default=None, help="default: TSB-AD's (50)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("csv", nargs="*")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    if a.serve:
        serve(a.model, a.serve, a.epochs)
        return
    if not a.out or not a.csv:
        ap.error("--out and CSV files are needed without --serve")
    scores, info = {}, {}
    for path in a.csv:
        stem = os.path.splitext(os.path.basename(path))[0]
        s, secs, run = run_one(a.model, path, a.epochs)
        scores[stem] = s
        info[stem] = {"rows": int(s.size), "seconds": secs, "epochs_run": run}
        print(f"{a.model} {stem}: {secs:.2f} s", flush=True)
    np.savez(a.out + ".npz", **scores)
    meta = {"model": a.model, "epochs": a.epochs, "threads": a.threads, "files": info,
            **_versions()}
    with open(a.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
