"""The ``bench`` command's entry point (issue 22): a SIGINT or SIGTERM while the command is still
importing (numpy, pandas, click, the plugins: a few tenths of a second) stops it with exit status
128 + signum and one line, never a traceback, a death by the signal or an ignored signal.

The imports are held open deterministically: a ``sitecustomize`` on PYTHONPATH hooks the import of
numpy (which only bench's own imports trigger), writes a marker file and waits there, so the
test signals the command at a known moment *during* its imports.  On the old entry point
(``bench.cli:main``) SIGTERM then ended the process by the signal (-15) and SIGINT gave a
KeyboardInterrupt traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = Path(sys.executable).parent / "bench"

HOOK = '''
import os, sys, time

class _HoldNumpy:
    """Waits (up to 5 s) when numpy is first imported, after writing the marker, until bench's
    handler has recorded a signal (then writes MARK.seen; with BENCH_TEST_HOLD_AFTER it goes on
    waiting)."""
    done = False

    def find_spec(self, name, path=None, target=None):
        if name == "numpy" and not self.done:
            self.done = True
            mark = os.environ["BENCH_TEST_IMPORT_MARK"]
            with open(mark + ".tmp", "w") as f:
                f.write("importing numpy")
            os.replace(mark + ".tmp", mark)
            end = time.monotonic() + 5.0
            while time.monotonic() < end:  # hold the imports open until a signal is recorded
                errors = sys.modules.get("bench.errors")
                if errors is not None and errors.stop_requested():
                    if not os.path.exists(mark + ".seen"):
                        open(mark + ".seen", "w").close()
                    if not os.environ.get("BENCH_TEST_HOLD_AFTER"):
                        break
                time.sleep(0.01)
        return None

sys.meta_path.insert(0, _HoldNumpy())
'''

ENTRIES = {
    "console script": [str(CONSOLE)],
    "python -m bench": [sys.executable, "-m", "bench"],
}


def _start(entry: list[str], tmp_path: Path,
           **env_extra: str) -> tuple[subprocess.Popen, Path, Path]:
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    mark, out = tmp_path / "importing", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "hook"),
           "BENCH_TEST_IMPORT_MARK": str(mark), **env_extra}
    proc = subprocess.Popen(
        [*entry, "run", "-d", "synthetic:n_series=1,length=200", "-m", "iforest:n_estimators=5",
         "--out", str(out), "-q"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # its own group: SIGINT goes to the group, as Ctrl-C does
    deadline = time.monotonic() + 60
    while not mark.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never imported numpy"
        time.sleep(0.005)
    return proc, mark, out


@pytest.mark.parametrize("entry, sig", [
    ("console script", signal.SIGTERM),
    ("python -m bench", signal.SIGINT),
    pytest.param("console script", signal.SIGINT, marks=pytest.mark.slow),
    pytest.param("python -m bench", signal.SIGTERM, marks=pytest.mark.slow),
], ids=["console-TERM", "m-INT", "console-INT", "m-TERM"])
def test_a_signal_while_importing_stops_with_128_plus_signum(entry, sig, tmp_path):
    if entry == "console script" and not CONSOLE.exists():
        pytest.skip(f"no console script at {CONSOLE} (pip install -e .)")
    proc, _, out = _start(ENTRIES[entry], tmp_path)
    os.killpg(proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr[-2000:])
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], stderr
    assert not out.exists() or not list(out.glob("*.json"))  # it stopped before the run


def test_a_second_signal_while_importing_stops_at_once(tmp_path):
    """The first signal is recorded (the hook sees it) while the imports are held open for 5 s
    more; the second one ends the command at once with 143 and one line."""
    proc, mark, _ = _start(ENTRIES["python -m bench"], tmp_path, BENCH_TEST_HOLD_AFTER="1")
    os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while not Path(str(mark) + ".seen").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, (proc.returncode, stderr[-2000:])
    assert stderr == "bench: interrupted\n"
    assert time.monotonic() - t0 < 3.0  # not after the hook's 5 s hold
