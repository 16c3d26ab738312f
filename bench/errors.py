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
