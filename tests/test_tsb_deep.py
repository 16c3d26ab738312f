"""TSB-AD's AutoEncoder and LSTMAD as configurations of bench's JAX detectors (tsb_deep.py):
their hyper-parameters pinned to TSB-AD's, the preprocessing and row mapping checked against
TSB-AD's rules written out independently, and both run under ``--protocol tsb-ad``."""

import math
from pathlib import Path

import numpy as np
import pytest
from bench.detectors.tsb_deep import TSBLSTMAD, TSBAutoEncoder

import bench
from bench import api
from bench.cell import Protocol
from bench.plugins import Manager

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
needs_nab = pytest.mark.skipif(not (NAB / "labels" / "combined_windows.json").is_file(),
                               reason="../shared/data/nab (the full NAB corpus) is absent")

#: TSB-AD (commit 1693d43, 2024-11): Optimal_Uni_algo_HP_dict['AutoEncoder'] = window_size 100,
#: hidden_neurons [128, 64]; run_AutoEncoder: batch_size 128, epochs 50; AutoEncoder defaults:
#: lr 1e-3, dropout 0.2, relu; best_model_dict aliases the live weights: no early stopping
AE = {"window": 100, "hidden": (128, 64), "activation": "relu", "out_activation": "relu",
      "dropout": 0.2, "epochs": 50, "batch": 128, "lr": 1e-3, "patience": 0,
      "score_batch": 16384}
#: Optimal_Uni_algo_HP_dict['LSTMAD'] = window_size 100, lr 0.0008; run_LSTMAD: batch_size 128;
#: LSTMAD defaults: hidden_dim 20, epochs 50 (its loop stops at epochs - 1), validation_size 0.2,
#: EarlyStoppingTorch(patience=3)
LSTMAD = {"window": 100, "hidden": 20, "epochs": 49, "batch": 128, "lr": 0.0008, "patience": 3,
          "val_fraction": 0.2, "score_batch": 4096}


def test_parameters_are_tsb_ads():
    ae, lstm = TSBAutoEncoder(), TSBLSTMAD()
    assert {k: getattr(ae, k) for k in AE} == AE
    assert {k: getattr(lstm, k) for k in LSTMAD} == LSTMAD
    cfg = ae.train_config()
    assert (cfg.stop_on, cfg.stride, cfg.loss, cfg.val_fraction) == ("none", 1, "mse", 0.0)
    cfg = lstm.train_config()
    assert (cfg.stop_on, cfg.stride, cfg.loss) == ("split", 1, "mse")
    assert (lstm.noise, ae.pca, ae.l1) == (0.0, 0, 0.0)
    # a clone (fleets build one per series) keeps every parameter
    assert {k: getattr(TSBAutoEncoder(epochs=3)._clone(), k) for k in AE} == {**AE, "epochs": 3}


def test_registered_apart_from_the_default_run_and_marked_looking_ahead():
    reg = Manager().registry("detector")
    for name in ("tsb_autoencoder", "tsb_lstmad"):
        meta = reg.get(name).meta
        assert meta["default_run"] is False and meta["looks_ahead"] is True, meta


def _tsb_ad_windows(x: np.ndarray, w: int) -> np.ndarray:
    """TSB-AD's preprocessing, written out: stride-1 windows, each min-max scaled on its own."""
    out = np.empty((len(x) - w + 1, w))
    for i in range(len(out)):
        win = x[i:i + w]
        rng = win.max() - win.min()
        out[i] = (win - win.min()) / rng if rng > 0 else 0.0
    return out


def test_samples_are_tsb_ads_min_max_windows_standardised_on_the_training_windows():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(400) / 7.0) + 0.1 * rng.standard_normal(400)
    x[150:160] = 5.0  # a constant window part: min-max of a flat window is 0
    ae = TSBAutoEncoder(window=20)
    ae._setup(x[:300, None].astype(np.float32))
    train = _tsb_ad_windows(x[:300], 20)
    mu, sd = train.mean(0), train.std(0)
    got = ae._transform(x[:, None])
    want = (_tsb_ad_windows(x, 20) - mu) / np.where(sd == 0, 1e-8, sd)
    assert got.shape == (381, 20) and np.allclose(got, want, atol=1e-4)
    # per-window min-max: a positive affine change of the series (bench's standardisation)
    # changes nothing, so --no-standardize does not matter to this detector
    ae2 = TSBAutoEncoder(window=20)
    ae2._setup((3.0 * x[:300, None] - 7.0).astype(np.float32))
    assert np.allclose(ae2._transform(3.0 * x[:, None] - 7.0), got, atol=1e-3)


def test_window_errors_are_euclidean_and_centred_as_tsb_ads():
    ae = TSBAutoEncoder(window=6)
    ae.tsb_w_ = 6
    sq = np.arange(1.0, 11.0) ** 2  # 10 windows -> 15 rows
    rows = ae._score_output(sq, 10)
    # TSB-AD: [first] * ceil((w-1)/2) + scores + [last] * ((w-1)//2)
    want = [1.0] * math.ceil(5 / 2) + list(np.arange(1.0, 11.0)) + [10.0] * (5 // 2)
    assert rows.tolist() == want
    lstm = TSBLSTMAD(window=4)
    out = lstm._score_output(np.arange(10.0), 10)
    assert out.tolist() == [4.0] * 4 + list(np.arange(4.0, 10.0))  # rows < window: the first


def test_bad_window_and_too_short_series_are_one_line():
    x = np.random.default_rng(1).standard_normal((50, 1)).astype(np.float32)
    with pytest.raises(bench.BenchError, match="window must be an integer >= 2"):
        TSBAutoEncoder(window=1)._setup(x)  # what fit() checks first (before importing JAX)
    with pytest.raises(bench.BenchError, match="too few for windows of 100"):
        TSBAutoEncoder()._setup(x)


def test_multivariate_rows_are_min_max_scaled_across_features():
    X = np.random.default_rng(2).standard_normal((60, 3)).astype(np.float32)
    ae = TSBAutoEncoder()
    ae._setup(X)
    assert ae.tsb_w_ == 1  # TSB-AD windows only a univariate series
    m = (X - X.min(1, keepdims=True)) / (X.max(1, keepdims=True) - X.min(1, keepdims=True))
    want = (m - m.mean(0)) / m.std(0)
    assert np.allclose(ae._transform(X), want, atol=1e-4)
    # so an offset added to every feature of a row is invisible to it (why the conformance
    # check's planted offsets are an expected failure of tsb_autoencoder)
    Y = X.copy()
    Y[10:15] += 6.0
    assert np.allclose(ae._transform(Y), ae._transform(X), atol=1e-4)


@pytest.mark.slow
@needs_nab
def test_both_run_under_the_tsb_ad_protocol_on_one_file():
    """TSB-AD's file 010 (1,000 rows, tr_500), two epochs each: every row scored, fitted on the
    training prefix, evaluated at the file's period."""
    cells = api.plan(["tsb-ad:files=010_*"], ["tsb_autoencoder:epochs=2", "tsb_lstmad:epochs=2"],
                     protocol=Protocol("tsb-ad", standardize=False))
    rec = api.run(cells, out=None, reuse=False)
    for c in rec["cells"]:
        assert c["status"] == "ok", c.get("error")
        assert c["protocol"]["name"] == "tsb-ad" and c["n_points"] == 1000
        ps = c["evaluations"][0]["per_series"][0]
        assert ps["series"].startswith("010_NAB") and ps["metric_params"]["vus_pr"] == {
            "window": 142}
        assert 0.0 < ps["metrics"]["vus_pr"] <= 1.0
    ae = next(c for c in rec["cells"] if c["detector"] == "tsb_autoencoder")
    assert ae["params"]["epochs"] == 2 and ae["params"]["hidden"] == [128, 64]


@pytest.mark.parametrize("rows, epochs, stopped", [
    (500, 4, "tsb-ad: no validation window (1 + patience epochs)"),  # TSB-AD's tr_500 files
    (1500, None, "split")])
def test_lstmad_validates_after_tsb_ads_row_cut(rows, epochs, stopped):
    """TSB-AD cuts the training rows at 80 %: training windows end before the cut, validation
    windows start after it.  With 500 rows the last 100 hold no 101-row window, TSB-AD's
    validation loss is 0 every epoch and it stops after 1 + patience = 4 epochs: so does
    tsb_lstmad.  With 1,500 rows it validates on the windows after row 1,200."""
    t = np.arange(rows, dtype=np.float32)
    X = (np.sin(2 * np.pi * t / 37) + 0.05 * np.random.default_rng(0).normal(size=rows))[:, None]
    det = TSBLSTMAD(hidden=4, batch=64, epochs=6).fit(X.astype(np.float32), seed=0)
    assert det.stopped_on_ == stopped
    if epochs is not None:
        assert det.epochs_ == epochs and not det.history_["val_loss"]
    else:
        assert len(det.history_["val_loss"]) == det.epochs_ >= 1
    prep = TSBLSTMAD(hidden=4)._prepare(X, None)
    cut = int(0.8 * rows)
    assert (prep["starts"] + 101 <= cut).all() and len(prep["starts"]) == cut - 100
    if prep["val_starts"] is not None:
        assert prep["val_starts"].min() == cut and (prep["val_starts"] + 101 <= rows).all()


def test_lstmad_fleet_keeps_each_members_own_training_settings():
    """A fleet trains members together only when their settings agree: the 500-row member
    stops after 4 epochs as its own fit does, the 1,500-row one validates as its own does."""
    rng = np.random.default_rng(1)
    Xs = [(np.sin(np.arange(n) / 6.0) + 0.05 * rng.normal(size=n)).astype(np.float32)[:, None]
          for n in (500, 1500)]
    fleet = TSBLSTMAD(hidden=4, batch=64, epochs=6).fit_fleet(Xs, seeds=[0, 0])
    alone = [TSBLSTMAD(hidden=4, batch=64, epochs=6).fit(X, seed=0) for X in Xs]
    assert [m.epochs_ for m in fleet.members_] == [a.epochs_ for a in alone]
    assert [m.stopped_on_ for m in fleet.members_] == [a.stopped_on_ for a in alone]
    assert fleet.members_[0].epochs_ == 4
