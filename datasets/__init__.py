"""Built-in dataset plugins (installed as ``bench.datasets``).

Data shipped with the project lives under ``data/``, each set beside its licence file and a
PROVENANCE note.
"""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
