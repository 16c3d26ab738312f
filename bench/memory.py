"""Peak memory of a block of work, sampled from the process's resident set size."""

from __future__ import annotations

import threading

import psutil


class PeakMemory:
    """Context manager: ``peak_mb`` is the highest resident-set size reached inside the block minus
    the size on entry, in MiB, sampled every ``interval`` seconds (short peaks may be missed)."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.peak_mb = 0.0
        self._proc = psutil.Process()
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._start = self._peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.peak_mb = (self._peak - self._start) / 2**20
