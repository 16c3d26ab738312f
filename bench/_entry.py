"""The ``bench`` command's entry point (``[project.scripts]`` and ``python -m bench``).

Importing :mod:`bench.cli` takes a few tenths of a second (numpy, pandas, click, pluggy, the
plugins).  A SIGINT or SIGTERM in that time used to end the process by the signal, print a
KeyboardInterrupt traceback, or be swallowed by some import-time code.  So this module installs
the flag handler first, using only the standard library and :mod:`bench.errors` (``bench``'s
``__init__`` imports nothing heavy): a signal during the imports is recorded, and the command
stops at its first safe point (:func:`bench.cli._main` checks right after installing its own
handlers) with exit status 128 + signum and one line, no traceback.  A second signal while
still importing ends the process at once with the same status (nothing is written yet)."""

from __future__ import annotations

import os
import signal
import threading

from .errors import request_stop


def _while_importing(signum: int, frame: object) -> None:
    """Record the first request; a second one stops at once (the imports write nothing)."""
    if not request_stop(signum):
        os.write(2, b"bench: interrupted\n")
        os._exit(128 + signum)


def main() -> None:
    """Install the flag handler, then import the command line and run it."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _while_importing)
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":  # pragma: no cover
    main()
