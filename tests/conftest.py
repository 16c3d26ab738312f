import os
import shutil
import tempfile

import pytest

from bench import memory, plugins

# the test process is bench's own: garbage collections around cells freeze what survives, so each
# scans only new objects (bench.memory's docstring; the same as the `bench` command does)
memory.own_process()

# JAX's persistent compilation cache goes to a throwaway folder, not the user's cache directory
_JIT_CACHE = None
if "BENCH_JIT_CACHE_DIR" not in os.environ:
    _JIT_CACHE = os.environ["BENCH_JIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-jit-test-")


def pytest_sessionfinish(session, exitstatus):
    if _JIT_CACHE:
        shutil.rmtree(_JIT_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_default_manager():
    """Each test starts and ends without a process-wide plugin manager (the CLI sets one)."""
    plugins.set_manager(None)
    yield
    plugins.set_manager(None)
