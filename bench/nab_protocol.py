"""NAB's corpus procedure (numenta/NAB v1.1: ``nab/sweeper.py``, ``nab/optimizer.py``,
``nab/scorer.py``, ``nab/runner.py``) as pure numpy functions over ``(labels, scores)`` pairs,
one pair per NAB file.

Per file (see :mod:`bench.metrics.nab` for the weights): each anomaly run of ``labels`` is one
NAB label window; the first ``min(floor(0.15 T), 750)`` rows are the probation period (not
scored; a window wholly inside it is not counted); the alarms ``scores >= threshold`` earn, per
counted window, the scaled-sigmoid weight of the window's earliest alarm (``-fnWeight`` when it
has none) and, per alarm outside the windows, a false-positive penalty weighted by its position
after the preceding window (``-fpWeight`` before the first one).  The file's raw score is their
sum.

Corpus (NAB's runner): ONE threshold for every file; the raw scores summed over the files and
normalised as ``100 * (total - null) / (perfect - null)``, ``null`` = the total with no alarm
(``-fnWeight`` per counted window), ``perfect = tpWeight x`` every label window of the corpus.
0 = the null detector, 100 = perfect, higher is better (negative: worse than no alarm).

NAB's threshold: its optimiser sweeps every distinct score of the pooled, scorable rows of the
corpus and keeps the threshold of the highest corpus score (the highest threshold among equals;
no alarm at all when nothing beats it).  That threshold is chosen WITH THE LABELS of the very
files it is scored on; NAB's published scoreboard is made this way, so every figure from
:func:`optimise` is an upper bound of that kind and is labelled so (``chosen_with_labels``).

Everything is one sort per file plus one sort of the pooled events (cumulative sums), not a loop
per threshold: the 58 NAB files (365,558 rows) take well under a second per profile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .errors import BenchError
from .metrics._base import runs
from .metrics.nab import PROBATION, PROFILES, NabCurve, profile_weights

__all__ = ["PROFILES", "PROBATION", "CorpusScore", "probation_rows", "corpus_curves",
           "corpus_raw", "score", "optimise", "board", "rank_among_past", "PROFILE"]


def probation_rows(n_rows: int, fraction: float = PROBATION) -> int:
    """NAB's probation length of a file of ``n_rows`` rows: ``min(floor(fraction * n_rows),
    fraction * 5000)`` rows (15 %, at most 750 rows for NAB's 0.15)."""
    return int(min(math.floor(fraction * n_rows), math.ceil(fraction * 5000)))


@dataclass(frozen=True)
class CorpusScore:
    """One NAB scoreboard entry: a profile's normalised corpus ``score`` (100 = perfect, 0 = no
    alarm, higher is better) at ``threshold`` (``inf`` = no alarm), the ``raw`` total with its
    ``null`` and ``perfect`` references, the counts, and whether the threshold was chosen with
    the labels of the scored files (NAB's optimiser: ``True``)."""

    profile: str
    score: float
    threshold: float
    raw: float
    null: float
    perfect: float
    n_files: int
    n_windows: int
    chosen_with_labels: bool

    def as_dict(self) -> dict:
        return asdict(self)


class _Corpus:
    """The pooled sweep of a corpus for one profile: every file's threshold events merged."""

    def __init__(self, series: Iterable[tuple[np.ndarray, np.ndarray]], profile: str,
                 probation: float):
        profile_weights(profile)
        curves, n_all = [], 0
        events = []
        for labels, scores in series:
            if scores is None:  # a file without scores (the detector failed): no alarm there
                c = NabCurve(labels, np.zeros(len(labels)), profile=profile, probation=probation)
            else:
                c = NabCurve(labels, scores, profile=profile, probation=probation)
                events.append(c.events())
            curves.append(c)
            n_all += runs(np.asarray(labels) != 0)[0].size
        if not curves:
            raise BenchError("NAB corpus: no file to score; give at least one (labels, scores)")
        w = PROFILES[profile]
        self.profile, self.n_files = profile, len(curves)
        self.n_windows = n_all
        self.null = float(sum(c.null for c in curves))  # NAB: the null detector's total
        self.perfect = float(n_all * w["tpWeight"])  # NAB: tpWeight x every label window
        val = np.concatenate([v for v, _ in events] or [np.empty(0)])
        order = np.argsort(val, kind="stable")
        self.val = val[order]  # ascending
        d = np.concatenate([d for _, d in events] or [np.empty(0)])[order]
        self.suffix = np.concatenate([np.cumsum(d[::-1])[::-1], [0.0]])

    def raw(self, thresholds: np.ndarray) -> np.ndarray:
        t = np.asarray(thresholds, dtype=np.float64)
        return self.null + self.suffix[np.searchsorted(self.val, t, side="left")]

    def normalise(self, raw: np.ndarray | float) -> np.ndarray | float:
        if self.perfect == self.null:
            return np.full(np.shape(raw), np.nan) if np.ndim(raw) else float("nan")
        return 100.0 * (np.asarray(raw) - self.null) / (self.perfect - self.null)

    def entry(self, threshold: float, raw: float, chosen: bool) -> CorpusScore:
        return CorpusScore(self.profile, float(self.normalise(raw)), float(threshold),
                           float(raw), self.null, self.perfect, self.n_files, self.n_windows,
                           chosen)


def corpus_curves(series: Iterable[tuple[np.ndarray, np.ndarray]], profile: str = "standard",
                  probation: float = PROBATION) -> _Corpus:
    """The corpus sweep of ``profile`` over ``(labels, scores)`` files (labels 0/1 per row,
    scores one float per row, higher = more anomalous; ``None``: the file has no scores, it
    counts as no alarm: its windows are missed at every threshold)."""
    return _Corpus(series, profile, probation)


def corpus_raw(series: Sequence[tuple[np.ndarray, np.ndarray]], thresholds: Sequence[float], *,
               profile: str = "standard", probation: float = PROBATION) -> np.ndarray:
    """Raw corpus score (NAB points, summed over files) of the alarms ``scores >= t`` for each
    threshold ``t``; higher is better."""
    return corpus_curves(series, profile, probation).raw(np.asarray(thresholds, np.float64))


def score(series: Sequence[tuple[np.ndarray, np.ndarray]], threshold: float, *,
          profile: str = "standard", probation: float = PROBATION) -> CorpusScore:
    """NAB's scoreboard entry of the corpus at a GIVEN threshold (NAB's scoring step with the
    threshold of its ``config/thresholds.json``; nothing chosen here)."""
    c = corpus_curves(series, profile, probation)
    return c.entry(threshold, float(c.raw(np.array([threshold]))[0]), False)


def optimise(series: Sequence[tuple[np.ndarray, np.ndarray]], *, profile: str = "standard",
             probation: float = PROBATION) -> CorpusScore:
    """NAB's optimiser: the threshold, over every distinct scored value of the corpus (and no
    alarm), with the highest corpus score; the highest such threshold among equals.  CHOSEN WITH
    THE LABELS of the scored files (``chosen_with_labels=True``), as NAB's scoreboard is."""
    c = corpus_curves(series, profile, probation)
    cand = np.append(np.unique(c.val), np.inf)[::-1]  # descending: no alarm first
    raw = c.raw(cand)
    j = int(np.argmax(raw))  # first maximum = highest threshold among equals
    return c.entry(float(cand[j]), float(raw[j]), True)


def board(series: Sequence[tuple[np.ndarray, np.ndarray]],
          thresholds: dict[str, float] | None = None, *,
          profiles: Iterable[str] = tuple(PROFILES),
          probation: float = PROBATION) -> dict[str, CorpusScore]:
    """A detector's row of NAB's scoreboard: one :class:`CorpusScore` per profile, at the given
    ``thresholds`` (``{profile: threshold}``) or, where none is given, at the threshold NAB's
    optimiser chooses with the labels."""
    series = list(series)
    out = {}
    for p in profiles:
        if thresholds and p in thresholds:
            out[p] = score(series, thresholds[p], profile=p, probation=probation)
        else:
            out[p] = optimise(series, profile=p, probation=probation)
    return out


def rank_among_past(scores: np.ndarray) -> np.ndarray:
    """Each score's causal percentile in its file: ``u[t] = (#{j < t: s[j] < s[t]} + 0.5
    #{j < t: s[j] == s[t]}) / t`` (``0.5`` at ``t = 0``), in [0, 1], higher = more anomalous;
    ``1`` = above every earlier score of the file.  Depends on rows ``<= t`` only, and is the
    same for any strictly increasing transform of the scores, so one corpus threshold means the
    same on every file whatever the scale of a detector's scores.

    Counted as a bottom-up merge sort does: at each of the ``log2 T`` levels, every row in the
    right half of a block counts the rows of the left half below it with one sort and one
    ``searchsorted`` over the whole file; O(T log^2 T)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = s.size
    rank = np.unique(s, return_inverse=True)[1].astype(np.int64).reshape(-1)
    span = int(rank.max()) + 2 if n else 1
    less, equal = np.zeros(n, np.int64), np.zeros(n, np.int64)
    t = np.arange(n, dtype=np.int64)
    half = 1
    while half < n:
        block, right = t // (2 * half), (t % (2 * half)) >= half
        left_keys = np.sort(block[~right] * span + rank[~right])
        base = block[right] * span
        key = base + rank[right]
        lo = np.searchsorted(left_keys, key, "left")
        less[right] += lo - np.searchsorted(left_keys, base, "left")
        equal[right] += np.searchsorted(left_keys, key, "right") - lo
        half *= 2
    return np.where(t > 0, (less + 0.5 * equal) / np.maximum(t, 1), 0.5)


# ----------------------------------------------------------------- the ``nab`` protocol

#: how a detector's scores become comparable across files before one corpus threshold applies
SCALE_NOTE = ("each score is replaced by its causal percentile among the earlier scores of its "
              "file (rank_among_past: 1 = above all of them), except for a detector declaring "
              "nab_scale = 'as given' (the scores replay: NAB's detectors write [0, 1] scores), "
              "whose scores are used as they are")


def _ranges(s) -> dict[str, slice | None]:
    """NAB: the probation period is the fitted range; no validation range; every later row is
    scored and evaluated."""
    n = len(s)
    p = probation_rows(n)
    return {"train": slice(0, p), "val": None, "test": slice(p, n)}


def _metric_params(s, metric: str) -> dict:
    """The per-series ``nab_score`` metric is handed the evaluated rows, which already exclude
    the probation period: no second probation inside them."""
    return {"probation": 0.0} if metric == "nab_score" else {}


def scale_rule(detector: str) -> str:
    """``"as given"`` for a registered detector whose factory declares ``nab_scale = "as
    given"``, else ``"past rank"`` (see :data:`SCALE_NOTE`)."""
    try:
        from .plugins import get_manager

        factory = get_manager().get("detector", detector).factory
    except Exception:  # an unregistered detector: bench's default rule
        return "past rank"
    return "as given" if getattr(factory, "nab_scale", "") == "as given" else "past rank"


def corpus_of(dataset, scores: dict[str, np.ndarray], rule: str = "past rank"
              ) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``(labels, scores)`` of every series of ``dataset``, scores mapped by ``rule`` (``"past
    rank"``: :func:`rank_among_past`; ``"as given"``: unchanged); a series missing from
    ``scores`` (its detector failed) gets ``None``: no alarm, its windows missed."""
    if rule not in ("past rank", "as given"):
        raise BenchError(f"NAB protocol: score mapping {rule!r} unknown; use 'past rank' or "
                         f"'as given'")
    out: list[tuple[np.ndarray, np.ndarray | None]] = []
    for s in dataset:
        if s.name not in scores:
            out.append((np.asarray(s.labels), None))
            continue
        x = np.asarray(scores[s.name], dtype=np.float64).reshape(-1)
        out.append((np.asarray(s.labels), rank_among_past(x) if rule == "past rank" else x))
    return out


def dataset_metrics(dataset, scores: dict[str, np.ndarray], cell) -> dict[str, float]:
    """The cell's row of NAB's scoreboard: ``nab_score:PROFILE`` (normalised corpus score, 100 =
    perfect, 0 = no alarm, higher is better) and ``nab_threshold:PROFILE`` (NaN = no alarm beat
    the null detector) for NAB's three profiles, and ``nab_files_without_scores`` (files the
    detector failed on, scored as no alarm), each threshold chosen by NAB's optimiser WITH
    THE LABELS of the corpus (NAB's published rule)."""
    detector = getattr(getattr(cell, "detector", None), "name", "")
    corpus = corpus_of(dataset, scores, scale_rule(detector))
    out: dict[str, float] = {"nab_files_without_scores": float(sum(x is None
                                                                 for _, x in corpus))}
    for name, entry in board(corpus).items():
        out[f"nab_score:{name}"] = entry.score
        out[f"nab_threshold:{name}"] = entry.threshold if math.isfinite(entry.threshold) \
            else float("nan")
    return out


def _profile():
    try:
        from .protocols import Profile
    except ImportError:  # a bench without the protocol registry: the functions above still work
        return None

    return Profile(
        "nab",
        "NAB's procedure (Lavin & Ahmad 2015; numenta/NAB v1.1): the probation period, the first "
        "15 % of each file (at most 750 rows), is fitted and not scored; every later row is "
        "scored and evaluated; the cell's nab_score:PROFILE (standard, reward_low_FP_rate, "
        "reward_low_FN_rate) is NAB's normalised corpus score (0 = no alarm, 100 = perfect) at "
        "ONE threshold per profile chosen by NAB's optimiser with the corpus labels (NAB's own "
        "rule, as its scoreboard). Before that threshold, " + SCALE_NOTE + ".",
        ranges=_ranges,
        metric_params=_metric_params,
        dataset_metrics=dataset_metrics,
        dataset_metrics_note="NAB's own rule: one threshold per profile chosen with the labels "
                             "of the whole corpus",
        threshold_note="ORACLE: chosen with the labels of the rows it evaluates (nab has no "
                       "validation range)",
    )


#: the ``nab`` protocol, registered by :mod:`bench.protocols` on first lookup
PROFILE = _profile()
