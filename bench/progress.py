"""Progress of a run: a rich progress bar on a terminal, plain lines otherwise (CI).

Events travel one way: the run's :class:`bench.session.Session` emits them through the plugin
manager's lifecycle hooks (``bench_run_started``, ``bench_cell_started``,
``bench_cell_progress``, ``bench_cell_finished``), and a :class:`Progress` display is a listener
registered on the session for the run::

    with Progress(len(cells), mode="auto") as prog:
        record = api.run(cells, listeners=[prog])

A long-running detector reports its own progress from inside ``fit`` with :func:`report` (e.g.
once per epoch); the executor running the cell gives :func:`running` a ``sink`` for the events
(``process`` workers send them to the parent, ``inline`` hands them to the session, ``dask``
workers drop them).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import pluggy

Event = dict[str, Any]
Sink = Callable[[Event], None]

_hookimpl = pluggy.HookimplMarker("bench")
_local = threading.local()


def label(cell: Any) -> str:
    return f"{cell.dataset} x {cell.detector} seed={cell.seed}"


def started_event(cell: Any) -> Event:
    """The ``bench_cell_started`` payload of a cell: ``index``, ``label``, names and seed."""
    return {"index": cell.index, "label": label(cell), "dataset": str(cell.dataset),
            "detector": str(cell.detector), "seed": cell.seed}


@contextlib.contextmanager
def running(cell: Any, sink: Sink | None) -> Iterator[None]:
    """Marks ``cell`` as the one this thread runs: :func:`report` and :func:`phase` send their
    events to ``sink`` (``None``: dropped)."""
    prev = getattr(_local, "cell", None), getattr(_local, "sink", None)
    _local.cell, _local.sink, _local.last = cell, sink, 0.0
    try:
        yield
    finally:
        _local.cell, _local.sink = prev


def _send(event: Event) -> None:
    sink = getattr(_local, "sink", None)
    if sink is not None:
        sink(event)


def phase(name: str) -> None:
    """The harness says which phase of the running cell begins (``"fit"`` once its dataset is
    loaded); isolating executors restart the cell's timeout clock on it."""
    cell = getattr(_local, "cell", None)
    if cell is not None:
        _send({"kind": "phase", "index": cell.index, "phase": name})


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
    _send({"kind": "task", "index": cell.index, "label": label(cell), "done": done,
           "total": total, "what": what})


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
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mode == "bar":
            self._rich.stop()

    # -------------------------------------------------------------- session hooks
    @_hookimpl
    def bench_run_started(self, run: dict[str, Any]) -> None:
        with self._lock:
            self.total = run.get("cells", self.total)
            self._refresh()

    @_hookimpl
    def bench_cell_started(self, cell: Event) -> None:
        if self.mode != "quiet":
            self._on_event({"kind": "started", **cell})

    @_hookimpl
    def bench_cell_progress(self, progress: Event) -> None:
        if self.mode != "quiet":
            self._on_event({"kind": "task", **progress})

    @_hookimpl
    def bench_cell_finished(self, cell: Any) -> None:
        self.cell_finished(cell)

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
            self._rich.update(self._main, completed=self.done, total=self.total,
                              info=self._info())

    def cell_finished(self, cell: dict[str, Any], done: int | None = None,
                      total: int | None = None) -> None:
        """Count and show a finished cell (called through ``bench_cell_finished``)."""
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
