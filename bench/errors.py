"""The one exception type users see."""


class BenchError(Exception):
    """A user-facing error: its message is one line that names the thing and the fix.

    The CLI prints it without a traceback (``--traceback`` or ``BENCH_TRACEBACK=1`` shows it).
    """
