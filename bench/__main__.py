"""``python -m bench``: the ``bench`` command (see :mod:`bench._entry`)."""

from ._entry import main

if __name__ == "__main__":
    main()
