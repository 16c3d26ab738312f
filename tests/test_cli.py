import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_run_seed_figure_as_json(capsys, tmp_path):
    code, out, err = run_cli(
        capsys, "run", "-d", "hpc", "-m", "kde:bandwidth=0.5",
        "--threshold", "min_cost:grid=linspace:1e4:2e5:200",
        "--cost", "event:c_alarm=1,c_missed=5,tolerance=12", "--out", str(tmp_path),
        "--format", "json", "--no-chance")
    assert code == 0, err
    objs = [json.loads(line) for line in out.splitlines()]
    assert len(objs) == 1
    o = objs[0]
    assert o["costs"]["event"] == {"train": 0.0, "val": 263.0, "test": 265.0}
    for key in ("dataset", "detector", "params", "status", "n_series", "threshold", "metrics",
                "fit_s", "score_s", "peak_mem_mb"):
        assert key in o
    assert o["params"]["bandwidth"] == 0.5 and o["n_series"] == 1
    assert "[1/1] hpc x kde" in err  # progress goes to stderr, not stdout
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_run_tables_and_leaderboard_reprint(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", "-d", "synthetic:n_series=2,length=800", "-m",
                             "iforest", "-m", "kde", "--threshold", "best_f1", "--out",
                             str(tmp_path), "-q")
    assert code == 0 and err == ""
    assert "### synthetic" in out and "### overall" in out
    assert re.search(r"\| (iforest|kde) +\| [01]\.\d{3}", out)
    for fmt, marker in (("latex", r"\begin{tabular}"), ("html", "<table>"), ("csv", "dataset,"),
                        ("markdown", "|:-"),
                        ("json", '"dataset": "synthetic"')):
        code, out2, _ = run_cli(capsys, "leaderboard", str(tmp_path), "--format", fmt)
        assert code == 0 and marker in out2, fmt


@pytest.mark.parametrize("argv,message", [
    (["run", "-d", "nope"], "unknown dataset 'nope'; available: "),
    (["run", "-m", "nope", "-d", "hpc"], "unknown detector 'nope'; available: "),
    (["run", "-d", "hpc", "-m", "kde:bandwidth=wide"],
     "detector 'kde': parameter 'bandwidth' expects"),
    (["run", "-d", "hpc", "-m", "kde:bw=1"], "detector 'kde' has no parameter 'bw'; its "
                                            "parameters: bandwidth, max_train"),
    (["run", "-d", "hpc", "-m", "kde", "--threshold", "min_cost:grid=foo"],
     "threshold grid 'foo' not understood"),
    (["run", "-d", "hpc:path=/nonexistent/hpc.csv", "-m", "kde"],
     "dataset 'hpc': /nonexistent/hpc.csv not found"),
    (["leaderboard", "/nonexistent/run.json"], "run record /nonexistent/run.json does not exist"),
])
def test_bad_input_is_one_line_and_exit_1(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, *argv, *(["--out", str(tmp_path)] if argv[0] == "run"
                                               else []))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("bench: error: ")
    assert message in err
    assert not list(tmp_path.glob("*.json"))


def test_list_and_plugins(capsys):
    code, out, _ = run_cli(capsys, "list", "datasets")
    assert code == 0 and "hpc" in out and "synthetic" in out
    code, out, _ = run_cli(capsys, "list", "thresholds", "--json")
    names = {d["name"] for d in json.loads(out)}
    assert {"mean_std", "percentile", "best_f1", "min_cost", "oracle"} <= names
    code, out, _ = run_cli(capsys, "plugins", "--json")
    info = {p["name"]: p for p in json.loads(out)}
    assert info["kde"]["hooks"] == ["bench_register_detectors"]
    assert info["kde"]["provides"] == {"detector": ["kde"]}


def test_block_a_plugin(capsys, tmp_path):
    code, out, err = run_cli(capsys, "-p", "no:kde", "run", "-d", "hpc", "-m", "kde",
                             "--out", str(tmp_path))
    assert code == 1 and "unknown detector 'kde'" in err


def test_readme_starts_with_the_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert block[0].endswith("bench run")
    test_cmd = block[1]
    assert "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci
