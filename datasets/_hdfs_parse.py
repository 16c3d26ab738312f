"""Reading HDFS logs into block sessions, for :mod:`bench.datasets.hdfs` (which re-exports every
name here): the Drain template parser, the streaming line reader, the per-block event counts,
loghub's structured CSV and label file, deep-loglizer's session files, and the agreement of our
parse with loghub's.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import bench

from . import _util

#: the dataset's name, in error messages
NAME = "hdfs"
BLOCK_RE = re.compile(r"blk_-?\d+")
#: Drain pre-processing: every token holding a digit (block ids, IPs, ports, sizes, paths) is a
#: parameter, and a run of parameters is one parameter (``ask X to delete blk_1 blk_2 ...``).
#: One pass does both: a maximal run of whitespace-separated tokens that each hold a digit.
PARAM_RUN_RE = re.compile(r"(?<!\S)[^\s\d]*\d\S*(?:\s+[^\s\d]*\d\S*)*")
LABEL_WORDS = {"anomaly": 1, "normal": 0, "1": 1, "0": 0, "abnormal": 1}


# ----------------------------------------------------------------------------- the parser


class TemplateParser:
    """Streaming log-template parser: Drain (``drain3.drain.Drain``) on masked content.

    ``parse(content) -> int`` returns the event-type index (0, 1, ... in order of first
    appearance) of one log message.  Masking replaces every token that holds a digit with
    ``<*>`` and collapses runs of ``<*>``; identical masked messages are answered from a bounded
    cache (``cache_size`` entries, cleared when full) instead of a new tree search, so the cost per
    line is one regex pass and one dict lookup once the templates are known.  Memory is the
    template tree plus the cache: flat however long the log is.

    ``sim_th`` and ``depth`` are Drain's similarity threshold and prefix-tree depth (loghub's
    HDFS settings: 0.5 and 4).
    """

    def __init__(self, *, sim_th: float = 0.5, depth: int = 4, cache_size: int = 100_000):
        try:
            from drain3.drain import Drain
        except ImportError:  # pragma: no cover - drain3 is a dependency
            raise bench.BenchError("dataset 'hdfs': the drain3 package is missing; "
                                   "pip install drain3") from None
        self.drain = Drain(depth=depth, sim_th=sim_th, parametrize_numeric_tokens=True)
        self.cache_size = cache_size
        self._cache: dict[str, int] = {}
        self._event_of_cluster: dict[int, int] = {}
        self._clusters: list[object] = []

    @staticmethod
    def mask(content: str) -> str:
        return PARAM_RUN_RE.sub("<*>", content)

    def parse(self, content: str) -> int:
        masked = self.mask(content)
        idx = self._cache.get(masked)
        if idx is None:
            cluster, _ = self.drain.add_log_message(masked)
            idx = self._event_of_cluster.get(cluster.cluster_id)
            if idx is None:
                idx = self._event_of_cluster[cluster.cluster_id] = len(self._clusters)
                self._clusters.append(cluster)
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[masked] = idx
        return idx

    @property
    def templates(self) -> list[str]:
        """The current template of each event type, by event index."""
        return [c.get_template() for c in self._clusters]


# ----------------------------------------------------------------------------- reading lines


def iter_log(path: Path) -> Iterator[tuple[int, int, str]]:
    """Stream a loghub HDFS log: ``(line_number, time, content)`` per non-empty line, where
    ``time`` is the integer ``YYMMDDhhmmss`` of the line's date and time columns.  A line that is
    not ``DATE TIME PID LEVEL COMPONENT: CONTENT`` raises an error naming the file and line."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        last, when = "", 0
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\r\n").split(" ", 5)
            if len(parts) < 6:
                if not line.strip():
                    continue
                _bad_line(path, n, line)
            date, time, _pid, _level, component, content = parts
            if not component.endswith(":"):
                _bad_line(path, n, line)
            stamp = date + time
            if stamp != last:
                if not (stamp.isdigit() and len(stamp) == 12):
                    _bad_line(path, n, line)
                last, when = stamp, int(stamp)
            yield n, when, content


def _bad_line(path: Path, n: int, line: str) -> None:
    raise bench.BenchError(
        f"dataset '{NAME}': {path} line {n}: not a loghub HDFS line "
        f"(DATE TIME PID LEVEL COMPONENT: CONTENT): {line.strip()[:80]!r}"
    )


class Sessions:
    """Block sessions accumulated line by line: ``add(blocks, event, time)``.

    Holds one row of counts per block (``uint32``, grown by doubling) and the block's first event
    time; nothing per line unless ``keep_lines`` (the per-line one-hot view needs the lines).
    """

    def __init__(self, keep_lines: bool = False):
        self.index: dict[str, int] = {}
        self.counts = np.zeros((1024, 16), dtype=np.uint32)
        self.first_time: list[int] = []
        self.n_events = 0
        self.lines: list[tuple[int, tuple[int, ...], int]] | None = [] if keep_lines else None

    def add(self, blocks: list[str], event: int, time: int) -> None:
        if event >= self.counts.shape[1]:
            grow = max(event + 1, 2 * self.counts.shape[1])
            self.counts = np.pad(self.counts, ((0, 0), (0, grow - self.counts.shape[1])))
        self.n_events = max(self.n_events, event + 1)
        rows = []
        for b in (blocks if len(blocks) == 1 else dict.fromkeys(blocks)):
            row = self.index.get(b)
            if row is None:
                row = self.index[b] = len(self.first_time)
                self.first_time.append(time)
                if row >= self.counts.shape[0]:
                    self.counts = np.pad(self.counts, ((0, self.counts.shape[0]), (0, 0)))
            self.counts[row, event] += 1
            rows.append(row)
        if self.lines is not None:
            self.lines.append((event, tuple(rows), time))

    @property
    def n_blocks(self) -> int:
        return len(self.first_time)

    def matrix(self) -> np.ndarray:
        return self.counts[: self.n_blocks, : self.n_events]

    def block_ids(self) -> list[str]:
        return list(self.index)


def iter_events(path: Path, parser: TemplateParser) -> Iterator[tuple[int, list[str], int]]:
    """Stream ``(time, block ids, event index)`` for every line of a raw log naming a block:
    memory stays flat however long the log is."""
    findall, parse = BLOCK_RE.findall, parser.parse
    for _, time, content in iter_log(path):
        blocks = findall(content)
        if blocks:
            yield time, blocks, parse(content)


def parse_log(path: Path, parser: TemplateParser | None = None,
              keep_lines: bool = False) -> tuple[Sessions, TemplateParser]:
    """Parse a raw loghub HDFS log into block sessions (the parse streams; the sessions grow
    with the number of blocks, one row of counts each)."""
    parser = parser or TemplateParser()
    s = Sessions(keep_lines)
    add = s.add
    for time, blocks, event in iter_events(path, parser):
        add(blocks, event, time)
    return s, parser


def read_structured(path: Path, keep_lines: bool = False) -> tuple[Sessions, list[str]]:
    """Block sessions from loghub's ``*_structured.csv`` (its own ``EventId`` per line).
    Returns the sessions and the event templates by event index."""
    s = Sessions(keep_lines)
    ids: dict[str, int] = {}
    templates: list[str] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        need = ["Date", "Time", "Content", "EventId"]
        _util.require_columns(NAME, path, reader.fieldnames or [], need)
        for n, row in enumerate(reader, 2):
            blocks = BLOCK_RE.findall(row["Content"] or "")
            stamp = (row["Date"] or "").strip() + (row["Time"] or "").strip()
            if not stamp.isdigit():
                raise bench.BenchError(f"dataset '{NAME}': {path} line {n}: non-numeric Date/Time "
                                       f"{stamp!r}; expected loghub's YYMMDD and hhmmss")
            ev = row["EventId"]
            if ev not in ids:
                ids[ev] = len(templates)
                templates.append(row.get("EventTemplate") or ev)
            if blocks:
                s.add(blocks, ids[ev], int(stamp))
    return s, templates


def read_labels(path: Path) -> dict[str, int]:
    """``BlockId -> 0/1`` from a label CSV (``BlockId,Label``; Label ``Normal``/``Anomaly`` or
    0/1).  A bad label raises an error naming the file and line."""
    out: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        _util.require_columns(NAME, path, reader.fieldnames or [], ["BlockId", "Label"])
        for n, row in enumerate(reader, 2):
            lab = LABEL_WORDS.get(str(row["Label"]).strip().lower())
            if lab is None:
                raise bench.BenchError(f"dataset '{NAME}': {path} line {n}: label "
                                       f"{row['Label']!r} is not Normal/Anomaly or 0/1")
            out[row["BlockId"].strip()] = lab
    return out


def labels_for(blocks: list[str], labels: dict[str, int], label_path: Path) -> np.ndarray:
    """Labels of ``blocks`` in order; any block without a label is an error saying how many and
    which file."""
    missing = [b for b in blocks if b not in labels]
    if missing:
        raise bench.BenchError(
            f"dataset '{NAME}': {len(missing)} of {len(blocks)} blocks have no label in "
            f"{label_path} (first: {', '.join(missing[:3])}); pass labels= a file covering them"
        )
    return np.fromiter((labels[b] for b in blocks), dtype=np.int8, count=len(blocks))


# ----------------------------------------------------------------------------- deep-loglizer


def _open_text(path: Path):
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, newline="", encoding="utf-8")


def read_session_file(path: Path, vocab: dict[str, int]) -> tuple[list[str], list[int], list]:
    """``(block ids, labels, event-index lists)`` of a deep-loglizer session CSV; new templates
    are added to ``vocab`` in order of first appearance."""
    blocks, labels, seqs = [], [], []
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        _util.require_columns(NAME, path, reader.fieldnames or [],
                              ["BlockId", "Label", "n_events", "EventTemplates"])
        for n, row in enumerate(reader, 2):
            try:
                templates = json.loads(row["EventTemplates"])
                lab = int(row["Label"])
                n_events = int(row["n_events"])
            except (ValueError, TypeError):
                raise bench.BenchError(f"dataset '{NAME}': {path} line {n}: Label and n_events "
                                       f"must be integers and EventTemplates a JSON list") from None
            if lab not in (0, 1) or n_events != len(templates):
                raise bench.BenchError(f"dataset '{NAME}': {path} line {n}: label {lab} (want 0/1),"
                                       f" n_events {n_events} vs {len(templates)} templates")
            blocks.append(row["BlockId"])
            labels.append(lab)
            seqs.append([vocab.setdefault(t, len(vocab)) for t in templates])
    return blocks, labels, seqs


def _find(folder: Path, stem: str) -> Path:
    for p in (folder / stem, folder / (stem + ".gz")):
        if p.exists():
            return p
    raise bench.BenchError(f"dataset '{NAME}': {folder} has no {stem}[.gz]; expected "
                           f"deep-loglizer's session_train.csv and session_test.csv")


# ----------------------------------------------------------------------------- agreement


def parser_agreement(log: Path, structured: Path, **parser_kw) -> dict[str, float]:
    """Compare our Drain parse of a raw log with loghub's ``*_structured.csv`` of the same lines.

    * ``grouping_accuracy``: fraction of lines whose event group (the set of lines sharing its
      event) is exactly the same set in both parses (the standard log-parsing metric);
    * ``blocks_identical``: fraction of blocks whose event-count vector is identical once each of
      our event types is mapped to the loghub event its lines carry (0 unless that mapping is
      one-to-one);
    * ``events_ours`` / ``events_loghub``: number of event types each found.
    """
    ours, parser = parse_log(Path(log), TemplateParser(**parser_kw), keep_lines=True)
    ref, _ = read_structured(Path(structured), keep_lines=True)
    a = np.array([e for e, _, _ in ours.lines])
    b = np.array([e for e, _, _ in ref.lines])
    if len(a) != len(b):
        raise bench.BenchError(f"dataset '{NAME}': {log} has {len(a)} block lines but {structured} "
                               f"has {len(b)}; they must hold the same lines")
    same = np.zeros(len(a), dtype=bool)
    for e in np.unique(a):
        mine = a == e
        refs = np.unique(b[mine])
        if len(refs) == 1 and np.array_equal(mine, b == refs[0]):
            same |= mine
    mapping = {int(e): int(np.bincount(b[a == e]).argmax()) for e in np.unique(a)}
    one_to_one = len(set(mapping.values())) == len(mapping) == ref.n_events
    identical = 0.0
    if one_to_one and ours.block_ids() == ref.block_ids():
        m = np.zeros_like(ref.matrix())
        m[:, [mapping[e] for e in range(ours.n_events)]] = ours.matrix()
        identical = float((m == ref.matrix()).all(axis=1).mean())
    return {"grouping_accuracy": float(same.mean()), "blocks_identical": identical,
            "events_ours": float(ours.n_events), "events_loghub": float(ref.n_events),
            "lines": float(len(a)), "blocks": float(ref.n_blocks)}
