"""bench.memory.PeakMemory: a block's peak working memory, whatever ran before it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from bench.memory import PeakMemory

MB = 1e6


def _touch(n_bytes: int) -> np.ndarray:
    a = np.empty(n_bytes, dtype=np.uint8)
    a[::4096] = 1  # every page becomes resident
    return a


def _fragmented_heap(n: int = 150_000, size: int = 1000, keep_every: int = 64) -> list[bytes]:
    """Allocate ``n * size`` bytes of small heap objects and free all but every ``keep_every``-th:
    the freed pages stay inside the C heap, resident, unless the heap is trimmed."""
    objs = [bytes(size) for _ in range(n)]
    return objs[::keep_every]


#: how long a test block holds its peak: the sampler (every 5 ms) sees a peak that lasts, and a
#: loaded machine may delay it by tens of ms (a shorter spike can be missed, as documented)
HOLD_S = 0.3


def test_peak_of_a_plain_allocation_and_nothing_retained():
    with PeakMemory() as mem:
        a = _touch(120 * 2**20)
        time.sleep(HOLD_S)
        del a
    assert 110 <= mem.peak_mb <= 150, mem.peak_mb
    assert abs(mem.retained_mb) < 15, mem.retained_mb


def test_memory_freed_by_earlier_work_does_not_hide_a_blocks_allocations():
    """The old figure (growth of RSS since the start) read ~0 here: the second block reused heap
    pages the first one freed, so RSS never grew.  Trimming the heap first makes it count."""
    survivors = _fragmented_heap()
    with PeakMemory() as mem:
        objs = [bytes(1000) for _ in range(100_000)]  # 100 MB of small objects
        time.sleep(HOLD_S)
        del objs
    assert survivors
    assert mem.peak_mb >= 80, mem.peak_mb


def test_what_stays_resident_is_retained_not_peak():
    with PeakMemory() as mem:
        kept = _touch(80 * 2**20)
    assert 70 <= mem.retained_mb <= 100, mem.retained_mb
    assert mem.peak_mb < 20, mem.peak_mb
    del kept


def test_child_processes_count():
    code = "import numpy as np, time; a = np.ones(100_000_000 // 8); time.sleep(0.6)"
    with PeakMemory() as mem:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert mem.peak_mb >= 90, mem.peak_mb


@pytest.mark.slow
def test_a_new_lifetime_high_is_exact_without_any_sample():
    """With sampling effectively off (one sample at the start), ru_maxrss still gives the peak
    when the block sets the process's lifetime high.  Linux hands a child its parent's high-water
    mark across fork and exec (a test process of a GB starts its children at a GB), so the block
    allocates 250 MB above whatever lifetime high the fresh process started with."""
    code = textwrap.dedent("""
        import numpy as np
        from bench.memory import PeakMemory, _maxrss_bytes
        import psutil
        extra = max(0, _maxrss_bytes() - psutil.Process().memory_info().rss)
        n = extra + 250_000_000
        with PeakMemory(interval=3600) as mem:
            a = np.ones(n // 8)
            del a
        print(mem.peak_mb, n / 1e6)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    peak, allocated = map(float, out.stdout.split())
    assert allocated - 10 <= peak <= allocated + 40, out.stdout


def test_a_cell_records_its_peak_and_the_compute_cost_reads_it():
    from bench import api

    rec = api.run(api.plan(["synthetic:n_series=2,length=600"], ["constant"],
                           costs=["event", "compute"]), out=None)
    (cell,) = rec["cells"]
    assert cell["status"] == "ok", cell["error"]
    peak = cell["peak_mem_mb"]
    assert peak is not None and peak >= 0
    assert cell.retained_mem_mb is not None and cell.retained_mem_mb >= 0  # a typed field
    assert cell["compute"]["compute"]["peak_mem_mb"] == peak
