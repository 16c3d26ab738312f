"""The one exception type users see."""


class BenchError(Exception):
    """A user-facing error: its message is one line that names the thing and the fix.

    The CLI prints it without a traceback (``--traceback`` or ``BENCH_TRACEBACK=1`` shows it).
    """


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT: Ctrl-C, or SIGTERM) that the run's session
    caught; ``signum`` says which.  Distinct from a KeyboardInterrupt that a plugin raises, which
    only costs its cell."""

    def __init__(self, signum: int = 2):
        super().__init__(signum)
        self.signum = signum


# ----------------------------------------------------------------------------- stop requests
# A signal handler only records that a stop was asked for; the run checks at safe points
# (between cells, when a cell reports progress, between series) and raises there.  Raising inside
# the handler itself loses the signal whenever it lands in a callback whose exceptions Python
# ignores (JAX's garbage-collection callback: "Exception ignored in: _xla_gc_callback").

_stop = {"signum": 0}


def request_stop(signum: int) -> bool:
    """Record that signal ``signum`` asked the run to stop; True when it is the first request
    (a second one forces an immediate stop)."""
    first = not _stop["signum"]
    if first:
        _stop["signum"] = int(signum)
    return first


def stop_requested() -> int:
    """The signal number of a pending stop request, 0 when there is none."""
    return _stop["signum"]


def clear_stop() -> None:
    """Forget a stop request (the run that honoured it is over)."""
    _stop["signum"] = 0


def checkpoint() -> None:
    """A safe point: raise :class:`Interrupted` if a signal asked the run to stop."""
    if _stop["signum"]:
        raise Interrupted(_stop["signum"])


def early_stop(signum: int, frame: object) -> None:
    """The ``bench`` command's handler before a run's session takes over (planning, loading):
    nothing is written yet, so it raises at once, and also records the request so that a raise
    swallowed by a callback is honoured at the session's first safe point."""
    request_stop(signum)
    raise Interrupted(signum)
