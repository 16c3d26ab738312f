"""Progress of a run: a rich progress bar on a terminal, plain lines otherwise (CI).

Executors announce cells as they start (:func:`started`); a long-running detector may report its
own progress from inside ``fit`` with :func:`report` (e.g. once per epoch), from any executor's
worker: ``process`` workers forward it to the parent, ``inline`` delivers it directly (``dask``
workers drop it).  A :class:`Progress` display listens to both and to finished cells::

    with Progress(len(cells), mode="auto") as prog:
        record = api.run(cells, on_cell=prog.cell_finished)
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

Event = dict[str, Any]

_listeners: list[Callable[[Event], None]] = []
_forward: Callable[[Event], None] | None = None
_local = threading.local()


def label(cell: Any) -> str:
    return f"{cell.dataset} x {cell.detector} seed={cell.seed}"


def listen(fn: Callable[[Event], None]) -> None:
    _listeners.append(fn)


def unlisten(fn: Callable[[Event], None]) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def set_forwarder(fn: Callable[[Event], None] | None) -> None:
    """In a worker process: send events to the parent with ``fn`` instead of local listeners."""
    global _forward
    _forward = fn


def dispatch(event: Event) -> None:
    """Deliver an event to this process's listeners; a listener's error never stops a run."""
    for fn in list(_listeners):
        try:
            fn(event)
        except Exception:
            pass


def started(cell: Any) -> None:
    """Called by executors when a cell is handed to a worker."""
    dispatch({"kind": "started", "index": cell.index, "label": label(cell)})


@contextlib.contextmanager
def running(cell: Any) -> Iterator[None]:
    """Marks ``cell`` as the one this thread runs, so :func:`report` knows which it is."""
    prev = getattr(_local, "cell", None)
    _local.cell, _local.last = cell, 0.0
    try:
        yield
    finally:
        _local.cell = prev


def report(done: float, total: float | None = None, what: str = "step",
           every_s: float = 0.25) -> None:
    """Report the progress of the running cell, e.g. ``report(epoch + 1, n_epochs, "epoch")``
    from a detector's ``fit``.  Cheap: at most one event every ``every_s`` seconds (and the last
    one) is sent; a no-op outside a cell."""
    cell = getattr(_local, "cell", None)
    if cell is None:
        return
    now = time.monotonic()
    if now - _local.last < every_s and not (total is not None and done >= total):
        return
    _local.last = now
    event = {"kind": "task", "index": cell.index, "label": label(cell), "done": done,
             "total": total, "what": what}
    (_forward or dispatch)(event)


# ----------------------------------------------------------------------------- display


def _status_text(cell: dict[str, Any]) -> str:
    if cell["status"] == "ok":
        return "ok"
    err = (cell.get("error") or "").splitlines()
    return f"{cell['status'].upper()}: {err[0][:160] if err else ''}"


class Progress:
    """Shows a run's progress on ``stream`` (default stderr).

    ``mode``: ``"bar"`` (rich: cells done / running / failed, elapsed and estimated time, one
    bar per cell reporting its own progress), ``"plain"`` (one line per finished cell, for logs
    and CI), ``"quiet"`` (nothing) or ``"auto"`` (bar on a terminal, else plain).
    ``verbose``: also a line per started cell and per reported step (plain), and every finished
    cell above the bar (bar mode prints only failures there).
    """

    def __init__(self, total: int, *, mode: str = "auto", verbose: bool = False,
                 stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "plain"
        if mode not in ("bar", "plain", "quiet"):
            raise ValueError(f"mode must be auto, bar, plain or quiet, not {mode!r}")
        self.mode, self.verbose, self.total = mode, verbose, total
        self.done = self.failed = 0
        self.running: dict[int, str] = {}
        self._lock = threading.Lock()
        self._bars: dict[int, Any] = {}
        self.t0 = time.perf_counter()

    # -------------------------------------------------------------- context
    def __enter__(self) -> Progress:
        self.t0 = time.perf_counter()
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False)
            self._rich.start()
            self._main = self._rich.add_task("cells", total=self.total, info=self._info())
        if self.mode != "quiet":
            listen(self._on_event)
        return self

    def __exit__(self, *exc: object) -> None:
        unlisten(self._on_event)
        if self.mode == "bar":
            self._rich.stop()

    # -------------------------------------------------------------- events
    def _info(self) -> str:
        return f"running {len(self.running)}  failed {self.failed}"

    def _print(self, text: str) -> None:
        if self.mode == "bar":
            self._rich.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def _on_event(self, ev: Event) -> None:
        with self._lock:
            if ev["kind"] == "started":
                self.running[ev["index"]] = ev["label"]
                if self.verbose and self.mode == "plain":
                    self._print(f"[start] {ev['label']}")
                self._refresh()
            elif ev["kind"] == "task":
                self._task(ev)

    def _task(self, ev: Event) -> None:
        total, what = ev.get("total"), ev.get("what", "step")
        of = f"/{total:g}" if total is not None else ""
        if self.mode == "plain":
            if self.verbose:
                self._print(f"  {ev['label']}: {what} {ev['done']:g}{of}")
            return
        if ev["index"] not in self.running:
            return
        bar = self._bars.get(ev["index"])
        desc = f"  {ev['label']} {what}"
        if bar is None:
            self._bars[ev["index"]] = self._rich.add_task(desc, total=total, completed=ev["done"],
                                                          info="")
        else:
            self._rich.update(bar, description=desc, total=total, completed=ev["done"])

    def _refresh(self) -> None:
        if self.mode == "bar":
            self._rich.update(self._main, completed=self.done, info=self._info())

    def cell_finished(self, cell: dict[str, Any], done: int | None = None,
                      total: int | None = None) -> None:
        """Call with each finished cell's entry (the ``on_cell`` callback of ``api.run``)."""
        with self._lock:
            self.done = done if done is not None else self.done + 1
            self.total = total or self.total
            self.failed += cell["status"] != "ok"
            self.running.pop(cell["index"], None)
            bar = self._bars.pop(cell["index"], None)
            if bar is not None:
                self._rich.remove_task(bar)
            line = (f"[{self.done}/{self.total}] {cell['dataset']} x {cell['detector']} "
                    f"seed={cell['seed']}: {_status_text(cell)} ({cell.get('wall_s', 0):.1f} s"
                    f"{', reused stored scores' if cell.get('reused') else ''})")
            if self.mode == "plain" or (self.mode == "bar" and
                                        (self.verbose or cell["status"] != "ok")):
                self._print(line)
            self._refresh()

    def summary(self) -> str:
        return (f"{self.done} cells, {self.failed} failed, "
                f"{time.perf_counter() - self.t0:.1f} s")
