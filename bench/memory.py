"""Peak working memory of a block of work (a cell's fit and score), from resident set sizes.

What is measured, in MB (10^6 bytes), for the process and the processes it started:

* ``start``: resident memory when the block begins, after a garbage collection and after the C
  heap has handed its free pages back to the system (glibc ``malloc_trim``).  Without that, memory
  freed by earlier cells of the same process stays resident, the block reuses it, and its
  allocations never show as growth (kde on hpc measured 24 MB after four other detectors and
  282 MB alone with the old "growth since start" figure).
* ``peak``: the highest resident memory during the block: exact from ``getrusage``'s
  ``ru_maxrss`` when the process reaches a new lifetime high inside the block, otherwise the
  largest of samples taken every ``interval`` seconds by a thread (a shorter spike can be missed).
* ``end``: resident memory when the block ends, trimmed the same way.

``peak_mb = peak - max(start, end)``: the memory the work needed at its peak above what the
process holds before and after it.  Libraries imported for the first time inside the block (JAX and
its runtime: about 200 MB), compiled-code caches and leaks stay resident after the block, so they
are counted in ``retained_mb = end - start`` and not in ``peak_mb``; that makes ``peak_mb`` the
same whether a cell runs alone or after others in one process.  GPU memory is not included.

The garbage collection before and after a block scans every tracked object of the process (about
0.1 s per collection in a process holding sklearn, pandas and JAX: a third of a cheap cell's
time).  A process that bench owns (the ``bench`` command, a ``process`` worker, the test suite)
calls :func:`own_process`, and from then on each collection ends with :func:`gc.freeze`, so the
next one scans only what was created since; frozen objects are still freed by reference counting,
only reference cycles among them are never collected.  A library caller's process (a notebook) is
left as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import resource
import sys
import threading
from typing import Any

import psutil

MB = 1e6
_CHILD_SCAN_EVERY = 20  # samples between scans for new child processes (a scan reads /proc)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (not Linux, musl and others)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_FREEZE = False


def own_process() -> None:
    """Say that bench owns this process: garbage collections around blocks freeze what survives
    (see the module docstring)."""
    global _FREEZE
    _FREEZE = True


def _trim_heap() -> None:
    """Collect garbage and return free C-heap pages to the system (glibc only; else just gc)."""
    gc.collect()
    if _FREEZE:
        gc.freeze()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _maxrss_bytes() -> int:
    """This process's lifetime high-water resident size, in bytes (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakMemory:
    """Context manager measuring a block's peak working memory (see the module docstring).

    After the block: ``peak_mb`` (peak above the larger of the start and end levels),
    ``retained_mb`` (end minus start: first imports, caches, leaks; may be negative) and
    ``start_mb``/``end_mb``/``high_mb`` (absolute resident sizes), all in MB of 10^6 bytes.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak_mb = self.retained_mb = 0.0
        self.start_mb = self.end_mb = self.high_mb = 0.0
        self._proc = psutil.Process()
        self._children: list[psutil.Process] = []
        self._stop = threading.Event()

    def _rss(self, scan: bool = False) -> int:
        """Resident bytes of this process and its children (rescanning the children if asked)."""
        if scan:
            try:
                self._children = self._proc.children(recursive=True)
            except psutil.Error:
                self._children = []
        total = self._proc.memory_info().rss
        for child in self._children:
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        n = 0
        while not self._stop.is_set():
            self._high = max(self._high, self._rss(scan=n % _CHILD_SCAN_EVERY == 0))
            n += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        _trim_heap()
        self._start = self._high = self._rss(scan=True)
        self._maxrss0 = _maxrss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="bench-peak-memory",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        high = max(self._high, self._rss(scan=True))
        maxrss = _maxrss_bytes()
        if maxrss > self._maxrss0:  # a new lifetime high was reached inside the block: exact
            high = max(high, maxrss)
        _trim_heap()
        end = self._rss(scan=True)
        self.start_mb, self.end_mb, self.high_mb = self._start / MB, end / MB, high / MB
        self.peak_mb = max(0.0, (high - max(self._start, end)) / MB)
        self.retained_mb = (end - self._start) / MB
