"""The ``csv`` dataset: Yahoo-layout and TSB-AD-style folders, NAB series written as labelled CSV,
single files, column and split choices, and one clear line for every bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench.datasets import csv as csvds
from bench.datasets import nab, yahoo
from cli_helpers import run_cli

import bench

NAB_SERIES = ("realTraffic/speed_7578", "realAdExchange/exchange-2_cpm_results")


def _nab_labelled(folder: Path) -> dict[str, bench.Series]:
    """The shipped NAB series, written as ``timestamp,value,label`` files (labels from NAB's
    windows, as the nab loader makes them); returns the nab loader's series by file stem."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = nab.nab(sample=True, series="|".join(NAB_SERIES))
    out = {}
    for s in ds:
        stem = s.name.split("/")[-1]
        src = Path(s.meta["source_file"]).read_text().splitlines()
        rows = ["timestamp,value,label"] + [f"{line},{lab}" for line, lab in
                                            zip(src[1:], s.labels)]
        (folder / f"{stem}.csv").write_text("\n".join(rows) + "\n")
        out[stem] = s
    return out


def _tsb_folder(folder: Path) -> dict[str, bench.Series]:
    """NAB sample series in TSB-AD's layout: ``Data,Label`` files named
    ``NNN_NAB_id_K_Domain_tr_TRAIN_1st_FIRST.csv``; TRAIN = 15 % of the series, FIRST = the index
    of its first labelled step."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = nab.nab(sample=True, series="|".join(NAB_SERIES))
    names = {}
    for k, s in enumerate(ds, start=1):
        train = int(0.15 * len(s))
        first = int(np.argmax(s.labels))
        name = f"{k:03d}_NAB_id_{k}_Traffic_tr_{train}_1st_{first}"
        rows = ["Data,Label"] + [f"{v:.6g},{lab}" for v, lab in zip(s.values[:, 0], s.labels)]
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n")
        names[name] = s
    return names


def test_yahoo_layout_reads_like_the_yahoo_loader(tmp_path):
    yahoo.write_tree(tmp_path, n_series=2, length=500, seed=3)
    ds = csvds.csv_dataset(path=str(tmp_path))
    ref = {f"{b}Benchmark/{s.name.split('/')[1]}": s
           for b in ("A2", "A3", "A4") for s in yahoo.load(tmp_path, b, 0.5, 0.75, False)[0]}
    assert [s.name for s in ds] == list(ref)  # natural order, path without .csv
    for s in ds:
        r = ref[s.name]
        # one feature: the generating components (trend, noise, ...) and changepoint are not read
        assert s.meta["columns"] == ["value"]
        np.testing.assert_array_equal(s.values, r.values)
        np.testing.assert_array_equal(s.labels, r.labels)
        np.testing.assert_array_equal(s.timestamps, r.timestamps)
        assert (s.split.train_end, s.split.val_end) == (250, 375)
    assert ds.meta["files"] == 6 and len(ds.fingerprint()) == 16
    assert [s.name for s in csvds.csv_dataset(path=str(tmp_path), series="A4Benchmark/*")] == \
        ["A4Benchmark/A4Benchmark-TS1", "A4Benchmark/A4Benchmark-TS2"]


def test_tsb_ad_names_give_the_train_length(tmp_path):
    ref = _tsb_folder(tmp_path)
    ds = csvds.csv_dataset(path=str(tmp_path))
    assert [s.name for s in ds] == list(ref)
    for s in ds:
        r = ref[s.name]
        train = int(s.name.split("_tr_")[1].split("_")[0])
        n = len(r)
        assert (s.split.train_end, s.split.val_end) == (train, train + (n - train) // 2)
        assert s.meta["train_length_from"] == "file name (_tr_N)"
        assert s.meta["first_anomaly"] == int(np.argmax(r.labels))
        assert s.meta["label_column"] == "Label" and s.timestamps is None
        np.testing.assert_allclose(s.values, r.values, rtol=1e-5)
        np.testing.assert_array_equal(s.labels, r.labels)
    # an explicit train length wins over the file name
    s = csvds.csv_dataset(path=str(tmp_path), train_len=200).series[0]
    assert s.split.train_end == 200 and s.meta["train_length_from"] == "train_len"


def test_tsb_ad_multivariate_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    lab = np.zeros(300, dtype=int)
    lab[250:260] = 1
    x[250:260, 1] += 6
    rows = ["0,1,2,Label"] + [f"{a:.5f},{b:.5f},{c:.5f},{y}" for (a, b, c), y in zip(x, lab)]
    f = tmp_path / "180_SMD_id_2_Facility_tr_100_1st_250.csv"
    f.write_text("\n".join(rows) + "\n")
    s = csvds.csv_dataset(path=str(f)).series[0]
    assert s.name == f.stem and s.values.shape == (300, 3) and s.labels.sum() == 10
    assert (s.split.train_end, s.split.val_end) == (100, 200)
    assert s.meta["columns"] == ["0", "1", "2"]


def test_nab_series_as_labelled_csv_with_dates(tmp_path):
    ref = _nab_labelled(tmp_path / "nab")
    ds = csvds.csv_dataset(path=str(tmp_path / "nab"), train_end=0.15, val_end=0.5)
    assert sorted(s.name for s in ds) == sorted(ref)
    for s in ds:
        r = ref[s.name]
        np.testing.assert_array_equal(s.values, r.values)
        np.testing.assert_array_equal(s.labels, r.labels)
        np.testing.assert_array_equal(s.timestamps, r.timestamps)
        assert s.timestamps.dtype.kind == "M"
        assert (s.split.train_end, s.split.val_end) == (r.split.train_end, r.split.val_end)


def test_choosing_label_timestamp_and_value_columns(tmp_path):
    t = np.arange(120)
    rows = ["when,host,cpu,mem,truth,anomaly"] + [
        f"{i},web-1,{np.sin(i / 5):.4f},{np.cos(i / 7):.4f},{int(i in (90, 100))},0" for i in t]
    f = tmp_path / "host.csv"
    f.write_text("\n".join(rows) + "\n")
    auto = csvds.csv_dataset(path=str(f)).series[0]
    assert auto.meta["label_column"] == "anomaly" and auto.labels.sum() == 0
    # a text column (host) is not a feature; 'truth' is a number column, so it is one
    assert auto.meta["columns"] == ["when", "cpu", "mem", "truth"]
    s = csvds.csv_dataset(path=str(f), label="truth", timestamp="when", columns="cpu|mem").series[0]
    assert s.labels.sum() == 2 and s.values.shape == (120, 2)
    np.testing.assert_array_equal(s.timestamps, t)


# ----------------------------------------------------------------------------- bad files

def _write(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


BAD = [
    ("timestamp,value,label\n1,0.5,0\n2,abc,0\n3,0.7,0\n",
     ["line 3", "'value'", "non-numeric value 'abc'"]),
    ("timestamp,value,label\n1,0.5,0\n2,0.6,0\n3,,0\n",
     ["line 4", "'value'", "an empty value"]),
    ("timestamp,value,label\n1,0.5,0\n2,0.6,2\n3,0.7,0\n",
     ["line 3", "label 2 in column 'label'", "0 or 1"]),
    ("timestamp,value,label\n1,0.5,0\n2,0.6,yes\n",
     ["line 3", "'label'", "non-numeric value 'yes'"]),
    ("timestamp,value,label\n2024-01-01,0.5,0\n2024-13-45,0.6,0\n2024-01-03,0.7,0\n",
     ["line 3", "bad timestamp '2024-13-45'", "column 'timestamp'"]),
    ("timestamp,value\n1,0.5\n2,0.6\n3,0.7\n",
     ["no label column", "label=COLUMN", "['timestamp', 'value']"]),
    ("timestamp,value,label\n1,0.5,0\n2,0.6,0,9\n3,0.7,0\n",
     ["malformed CSV", "line 3"]),
    ("", ["is empty"]),
    ("timestamp,value,label\n", ["header but no rows"]),
    ("timestamp,host,label\n1,a,0\n2,b,0\n3,c,1\n", ["no numeric value column", "columns=A|B"]),
]


@pytest.mark.parametrize("text,expect", BAD, ids=[
    "text-value", "empty-value", "label-2", "label-text", "bad-date", "no-label", "ragged-row",
    "empty-file", "header-only", "no-values"])
def test_bad_file_is_one_line_naming_file_line_and_column(tmp_path, text, expect):
    f = _write(tmp_path, text)
    with pytest.raises(bench.BenchError) as e:
        csvds.csv_dataset(path=str(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and msg.startswith("dataset 'csv': ")
    for part in expect:
        assert part in msg, (part, msg)


def test_bad_parameters_and_paths(tmp_path):
    f = _write(tmp_path, "value,label\n" + "".join(f"{i},0\n" for i in range(10)), "a.csv")
    with pytest.raises(bench.BenchError, match="no label column 'flag'.*pass label="):
        csvds.csv_dataset(path=str(f), label="flag")
    with pytest.raises(bench.BenchError, match="missing column.*'cpu'"):
        csvds.csv_dataset(path=str(f), columns="cpu")
    with pytest.raises(bench.BenchError, match=r"train length 9 does not fit a series of 10 rows"):
        csvds.csv_dataset(path=str(f), train_len=9)
    with pytest.raises(bench.BenchError, match="not found; pass csv:path="):
        csvds.csv_dataset(path=str(tmp_path / "nope"))
    with pytest.raises(bench.BenchError, match="no .csv file under .* matches series='x\\*'"):
        csvds.csv_dataset(path=str(tmp_path), series="x*")
    (tmp_path / "empty").mkdir()
    with pytest.raises(bench.BenchError, match="no .csv file under"):
        csvds.csv_dataset(path=str(tmp_path / "empty"))


def test_cli_needs_a_path_and_names_the_bad_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", "-d", "csv", "-m", "iforest", "--out", str(tmp_path))
    assert code == 1 and "csv:path=" in err
    f = _write(tmp_path, "value,label\n1,0\nx,0\n3,0\n4,1\n")
    code, _, err = run_cli(capsys, "run", "-d", f"csv:path={f}", "-m", "iforest",
                           "--out", str(tmp_path / "out"))
    assert code == 1 and f"{f} line 3" in err and "'value'" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))


@pytest.mark.parametrize("layout", ["yahoo", "tsb-ad"])
def test_cli_run_with_iforest_on_a_folder(tmp_path, capsys, layout):
    data = tmp_path / "data"
    if layout == "yahoo":
        yahoo.write_tree(data, n_series=1, length=600, seed=1)
        n = 3
    else:
        n = len(_tsb_folder(data))
    code, out, err = run_cli(capsys, "run", "-d", f"csv:path={data}", "-m", "iforest",
                             "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "iforest" in out and "FAILED" not in out
    rec = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    (cell,) = [c for c in rec["cells"] if c["detector"] == "iforest"]  # beside chance rows
    assert cell["status"] == "ok", cell.get("error")
    assert cell["n_series"] == n and cell["dataset"] == "csv"


# ----------------------------------------------------------------------------- issue 22


def _rows(header: str, n: int = 40, extra=lambda i: "") -> str:
    """``n`` rows of a realistic series: a sine, one labelled spike at row 30."""
    lines = [header]
    for i in range(n):
        lab = int(i == 30)
        lines.append(f"{i},{np.sin(i / 3) + 5 * lab:.5f},{lab}{extra(i)}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("header,extra,labels", [
    ("timestamp,value,label,is_anomaly", lambda i: f",{int(i == 30)}", ["label", "is_anomaly"]),
    ("timestamp,value,label,label", lambda i: f",{int(i == 30)}", ["label", "label.1"]),
    ("timestamp,value,Label,Is-Anomaly", lambda i: f",{int(i == 30)}", ["Label", "Is-Anomaly"]),
])
def test_two_label_like_columns_are_refused_without_label(tmp_path, header, extra, labels):
    f = _write(tmp_path, _rows(header, extra=extra))
    with pytest.raises(bench.BenchError) as e:
        csvds.csv_dataset(path=str(f))
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and "label=NAME" in msg
    assert f"2 label-like columns {labels}" in msg


def test_with_label_given_no_other_label_like_column_reaches_the_detector(tmp_path):
    f = _write(tmp_path, _rows("timestamp,value,label,is_anomaly,anomaly.1",
                               extra=lambda i: f",{int(i == 30)},{int(i == 30)}"))
    (s,) = csvds.csv_dataset(path=str(f), label="is_anomaly")
    assert s.meta["columns"] == ["value"] and s.values.shape == (40, 1)
    assert s.meta["label_column"] == "is_anomaly" and int(s.labels.sum()) == 1
    assert csvds.label_like("label.1") and csvds.label_like(" IS_ANOMALY ")
    assert not csvds.label_like("anomaly_len") and not csvds.label_like("value")


def test_timestamps_that_go_back_in_time_are_refused(tmp_path):
    text = _rows("timestamp,value,label").splitlines()
    text[11], text[12] = text[12], text[11]  # rows 10 and 11 swapped: line 12 goes back
    f = _write(tmp_path, "\n".join(text) + "\n")
    with pytest.raises(bench.BenchError, match=r"line 13: timestamp 10 in column 'timestamp' "
                                               r"comes before the previous row's 11 .*sort the "
                                               r"file by 'timestamp'"):
        csvds.csv_dataset(path=str(f))
    dates = "timestamp,value,label\n2024-01-02,1,0\n2024-01-01,2,0\n" + "".join(
        f"2024-02-{d:02d},{d},0\n" for d in range(1, 20))
    with pytest.raises(bench.BenchError, match="line 3: timestamp 2024-01-01"):
        csvds.csv_dataset(path=str(_write(tmp_path, dates, "d.csv")))


@pytest.mark.parametrize("value,what", [("1e-50", "below"), ("-3e39", "beyond"),
                                        ("1e-39", "below")])
def test_values_float32_cannot_hold_are_refused_naming_line_and_column(tmp_path, value, what):
    text = _rows("timestamp,value,label,cpu", extra=lambda i: ",0.5").splitlines()
    text[8] = text[8].rsplit(",", 1)[0] + f",{value}"  # line 9, column cpu
    f = _write(tmp_path, "\n".join(text) + "\n")
    with pytest.raises(bench.BenchError) as e:
        csvds.csv_dataset(path=str(f))
    msg = str(e.value)
    assert f"{f} line 9: value {float(value):g} in column 'cpu' is {what} float32's range" in msg
    ok = _write(tmp_path, _rows("timestamp,value,label,cpu", extra=lambda i: ",0"), "ok.csv")
    (s,) = csvds.csv_dataset(path=str(ok))  # zeros are fine
    assert s.values.shape == (40, 2)
