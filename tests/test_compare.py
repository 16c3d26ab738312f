import copy
import json

import numpy as np
from cli_helpers import run_cli

import bench
from bench import api
from bench.compare import compare
from bench.plugins import Manager


class Distance:
    """Distance from the training mean, blurred by ``noise`` (a worse default = more noise)."""

    def __init__(self, *, noise: float = 0.0):
        self.noise = noise

    def fit(self, X, *, seed=0):
        self.mu_, self.seed_ = X.mean(0), seed
        return self

    def score(self, X):
        rng = np.random.default_rng(self.seed_)
        return np.abs(X - self.mu_).sum(1) + rng.normal(0, self.noise, len(X))


class WorseDefault(Distance):
    def __init__(self, *, noise: float = 3.0):
        self.noise = noise


class NoisyDefault(Distance):
    def __init__(self, *, noise: float = 0.8):
        self.noise = noise


def _manager(noise_default):
    cls = {0.0: Distance, 3.0: WorseDefault, 0.8: NoisyDefault}[noise_default]

    class Plugin:
        @bench.hookimpl
        def bench_register_detectors(self, register):
            register("dist", cls)

    m = Manager()
    m.register(Plugin(), "dist-plugin")
    return m


def _run(m, tmp_path, name, seeds=(0,)):
    cells = api.plan(["synthetic:n_series=2,length=1000"], ["dist"], seeds=seeds, manager=m)
    return api.run(cells, out=tmp_path / name, manager=m)


def test_worse_default_is_named_and_exits_1_then_revert_exits_0(tmp_path, capsys):
    base = _run(_manager(0.0), tmp_path, "base")
    worse = _run(_manager(3.0), tmp_path, "worse")
    cmp = compare(base, worse, manager=_manager(0.0))
    bad = [c for c in cmp.changes if c.status == "worse"]
    assert cmp.regressed and {c.metric for c in bad} >= {"roc_auc", "pr_auc"}
    assert all(c.cell.startswith("synthetic(length=1000,n_series=2) x dist @ ") for c in bad)
    assert "detector params changed (noise: 0.0 -> 3.0)" in next(iter(cmp.notes.values()))
    reverted = _run(_manager(0.0), tmp_path, "reverted")
    assert not compare(base, reverted, manager=_manager(0.0)).regressed
    outs, errs = [], []
    for head, code in ((tmp_path / "worse", 1), (tmp_path / "reverted", 0)):
        got, out, err = run_cli(capsys, "compare", str(tmp_path / "base"), str(head))
        assert got == code
        outs.append(out)
        errs.append(err)
    assert "| -  | synthetic(length=1000,n_series=2) x dist @ " in outs[0]
    assert "FAIL synthetic(length=1000,n_series=2) x dist @ " in errs[0]
    assert "gate passed" in errs[1] and "FAIL" not in errs[1]


def test_change_within_seed_spread_is_unchanged(tmp_path):
    m = _manager(0.8)
    base = _run(m, tmp_path, "a", seeds=(0, 1, 2))
    head = copy.deepcopy(base)
    cells = sorted(head["cells"], key=lambda c: c["seed"])
    f1s = [c["evaluations"][0]["metrics"]["f1"] for c in cells]
    spread = max(f1s) - min(f1s)
    assert spread > 0.01
    for c in cells:  # shift every seed by less than the spread
        c["evaluations"][0]["metrics"]["f1"] += 0.5 * spread + 0.005
    ch = {c.metric: c.status for c in compare(base, head, manager=m).changes}
    assert ch["f1"] == "unchanged"
    for c in cells:
        c["evaluations"][0]["metrics"]["f1"] += 2 * spread
    ch = {c.metric: c.status for c in compare(base, head, manager=m).changes}
    assert ch["f1"] == "improved"


def test_cost_direction_and_tolerance(tmp_path):
    m = _manager(0.0)
    base = _run(m, tmp_path, "a")
    head = copy.deepcopy(base)
    ev = head["cells"][0]["evaluations"][0]
    ev["costs"]["event"]["test"] += 100  # a higher cost is worse
    ch = {c.metric: c.status for c in compare(base, head, manager=m).changes}
    assert ch["cost:event"] == "worse"
    ch = {c.metric: c.status for c in compare(base, head, manager=m,
                                               tolerances={"cost:event": 1000}).changes}
    assert ch["cost:event"] == "unchanged"


def test_metric_version_change_is_not_comparable_says_why_and_fails_the_gate(tmp_path):
    m = _manager(0.0)
    base = _run(m, tmp_path, "a")
    head = copy.deepcopy(base)
    ev = head.cells[0].key_parts["evaluation"]
    ev["metric:f1"] = 2
    head.cells[0].evaluations[0]["metrics"]["f1"] = 0.0
    cmp = compare(base, head, manager=m)
    assert [(c.status, c.note) for c in cmp.changes] == [("not comparable",
                                                          "metric f1 version 1 -> 2")]
    assert not cmp.regressed
    problems = cmp.gate()
    assert any("not comparable: metric f1 version 1 -> 2" in p for p in problems)
    assert any("nothing was compared" in p for p in problems)
    assert cmp.gate(allow_not_comparable=True) == [
        "nothing was compared: no metric value exists on both sides; to put the two side by "
        "side anyway: bench compare --a DETECTOR --b DETECTOR BASE HEAD"]


def test_missing_and_failed_cells(tmp_path):
    m = _manager(0.0)
    base = _run(m, tmp_path, "a", seeds=(0, 1))
    head = copy.deepcopy(base)
    failed = head.cells[1]
    failed.status, failed.error, failed.evaluations = "error", "detector: boom", []
    cmp = compare(base, head, manager=m)
    assert any(c.status == "worse" and c.metric == "status" and "boom" in c.note
               for c in cmp.changes)
    assert any("boom" in p for p in cmp.gate())
    head.cells = []
    cmp = compare(base, head, manager=m)
    assert [c.status for c in cmp.changes] == ["missing"]
    problems = cmp.gate()
    assert any("cell missing: not in head" in p for p in problems)
    assert any("head incomplete" in p for p in problems)


def test_corrupt_record_in_a_directory_is_skipped_with_its_path(tmp_path, capsys):
    m = _manager(0.0)
    _run(m, tmp_path, "a")
    (tmp_path / "a" / "zzzz.json").write_text('{"schema": 2, "cel')
    code, _, err = run_cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "a"))
    assert code == 0
    assert "skipped: run record" in err


def test_history_table_marks_moves(tmp_path, capsys):
    m = _manager(0.0)
    _run(m, tmp_path, "h")
    rec_path = next((tmp_path / "h").glob("*.json"))
    rec = json.loads(rec_path.read_text())
    rec["run_id"], rec["created"], rec["git_commit"] = "later", "2999-01-01T00:00:00", "abc123"
    rec["cells"][0]["evaluations"][0]["metrics"]["f1"] = 0.0
    (tmp_path / "h" / "later.json").write_text(json.dumps(rec))
    plot = tmp_path / "hist.png"
    code, out, _ = run_cli(capsys, "history", "f1", "--dir", str(tmp_path / "h"), "--plot",
                           str(plot))
    assert code == 0
    assert "abc123" in out and out.count("moved") == 1
    assert plot.stat().st_size > 5000


def test_a_fit_key_in_a_record_names_no_file_outside_its_store(tmp_path, capsys):
    """Issue 22: compare re-evaluates a base cell of an older evaluation version from
    ``STORE/FIT_KEY.npz``; a tampered record's fit key ``../../secret`` made it read
    ``secret.npz`` beside the record's folder.  Only hex fit keys name a file now."""
    import shutil

    from bench import records

    m = _manager(0.0)
    base, head = _run(m, tmp_path, "base"), _run(m, tmp_path, "head")
    i, cell = next((i, c) for i, c in enumerate(base.cells) if c.detector == "dist")
    scores = tmp_path / "base" / "scores"
    shutil.copy(scores / f"{cell.fit_key}.npz", tmp_path / "secret.npz")  # valid scores, outside
    tampered = copy.deepcopy(base)
    c = tampered.cells[i]
    c.key_parts = {**c.key_parts, "evaluation": {**c.key_parts["evaluation"], "evaluation": 0}}
    for key, reread in (("../../secret", False), (str(tmp_path / "secret"), False),
                        (cell.fit_key, True)):  # the last: the control, its own key
        c.fit_key = key
        got = api.reevaluate_base(tampered, head, scores, m).cells[i]
        assert bool(got.reevaluated_from) == reread, (key, got.reevaluated_from)
        if reread:
            assert got.reevaluated_from == str(scores / f"{cell.fit_key}.npz") and got.ok
    c.fit_key = "../../secret"
    records.save(tampered, tmp_path / "base" / "tampered.json")
    code, out, err = run_cli(capsys, "compare", str(tmp_path / "base" / "tampered.json"),
                             str(tmp_path / "head"))
    assert "Traceback" not in err and "secret" not in out + err
    assert "not comparable" in out and code == 1  # its evaluation version differs: said so
