"""Checks on a run record's JSON that the typed readers (:mod:`bench.records`,
:mod:`bench.evalresult`) do not make field by field: how deep it nests, how long its integers
are, and the shape of every free-form field that ``leaderboard``, ``compare``, ``history``,
``report`` and the schema upgrades read (``grid``, ``meta``, ``key_parts``, ``protocol``,
``compute``, a schema-3 cell's ``declared``/``headline``, an evaluation's ``n_series``,
``confusion`` and ``chance_test``, a plan's declared ``evaluation``).

A record that fails is one :class:`bench.evalresult.RecordError` naming the file and the field
(``run.json: cells[0].key_parts.evaluation.metric:f1: expected an integer, got str``), never a
traceback deep in a reader.  A field that is absent is left to the reader's default."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .evalresult import RecordError, kind_of

#: nesting a record never needs (a cell's ``key_parts`` is about 6 deep); Python's json reader
#: and every recursive reader fail near 1000
MAX_DEPTH = 64
#: digits of an integer a record can hold (int64 has 19); Python refuses to read over 4300
MAX_INT_DIGITS = 19

_FIX = "the file was edited or damaged; rerun the command that wrote it"


class _HugeInt:
    """An integer literal too long for a record (kept so the walk can name its field)."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


def _int(text: str) -> Any:
    return int(text) if len(text) <= MAX_INT_DIGITS + 1 else _HugeInt(text)


def parse(text: str, where: str) -> Any:
    """A record's JSON text parsed, refusing nesting deeper than :data:`MAX_DEPTH` and
    integers longer than :data:`MAX_INT_DIGITS` digits, naming the field.  ``json``'s own
    decoding errors pass through to the caller."""
    try:
        raw = json.loads(text, parse_int=_int)
    except RecursionError:
        raise RecordError(f"{where}: {_deep_path(text) or 'record'}: nested more than "
                          f"{MAX_DEPTH} levels deep; {_FIX}") from None
    found = _walk(raw)
    if found is not None:
        path, what = found
        raise RecordError(f"{where}: {path or 'record'}: {what}; {_FIX}")
    return raw


def _fmt(parts: list[Any], cap: int = 8) -> str:
    """``cells[0].params.x``; a path longer than ``cap`` ends in ``...``."""
    out = ""
    for p in parts[:cap]:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out + ("..." if len(parts) > cap else "")


def _walk(root: Any) -> tuple[str, str] | None:
    """The first field nested too deep or holding a too-long integer: (path, what)."""
    stack: list[tuple[Any, int, Any]] = [(root, 0, None)]
    while stack:
        obj, depth, node = stack.pop()
        if isinstance(obj, _HugeInt):
            return _unwind(node), f"a {obj.digits}-digit integer (at most {MAX_INT_DIGITS})"
        if depth >= MAX_DEPTH:
            return _unwind(node), f"nested more than {MAX_DEPTH} levels deep"
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            if isinstance(v, (dict, list, _HugeInt)):
                stack.append((v, depth + 1, (node, k)))
    return None


def _unwind(node: Any) -> str:
    parts: list[Any] = []
    while node is not None:
        node, key = node
        parts.append(key)
    return _fmt(parts[::-1])


_TOKEN = re.compile(r'["\[\]{},:]')


def _deep_path(text: str) -> str:
    """Where the JSON ``text`` first nests deeper than :data:`MAX_DEPTH` (a path such as
    ``cells[0].params.x``); only called when the parser gave up, so speed is no concern."""
    stack: list[list[Any]] = []  # ["{", key, expecting a key] or ["[", index]
    i = 0
    while (m := _TOKEN.search(text, i)) is not None:
        c, i = m.group(), m.end()
        if c == '"':
            j = i
            while True:  # the closing quote: one not escaped
                j = text.find('"', j)
                if j < 0:
                    return _fmt([s[1] for s in stack])
                k = j
                while text[k - 1] == "\\":
                    k -= 1
                if (j - k) % 2 == 0:
                    break
                j += 1
            if stack and stack[-1][0] == "{" and stack[-1][2]:
                stack[-1][1], stack[-1][2] = json.loads(text[i - 1:j + 1]), False
            i = j + 1
        elif c in "[{":
            if len(stack) >= MAX_DEPTH:
                break
            stack.append(["{", None, True] if c == "{" else ["[", 0])
        elif c in "]}" and stack:
            stack.pop()
        elif c == "," and stack:
            if stack[-1][0] == "[":
                stack[-1][1] += 1
            else:
                stack[-1][2] = True
    return _fmt([s[1] for s in stack if s[1] is not None])


# ----------------------------------------------------------------------------- shapes
# A shape is a type (or a tuple of types, possibly with one dict/Each shape and None), a dict
# {field: shape} (an object whose listed fields, when present, have those shapes; others are
# free), Each(shape) (a list of that shape; keyed=True: an object's values), Pair(shape) (a
# list of two), Range (a number within bounds) or Typed(shape): a field whose type the typed
# readers already check and name (a wrong container or a non-number is left to them; its
# contents or bounds are checked here).

class Each:
    def __init__(self, shape: Any, keyed: bool = False) -> None:
        self.shape, self.keyed = shape, keyed


class Pair(Each):
    pass


class Typed:
    def __init__(self, shape: Any) -> None:
        self.shape = shape


class Range:
    """A number (``integer``: a whole one) in [lo, hi], or null."""

    def __init__(self, lo: float, hi: float = math.inf, integer: bool = False) -> None:
        self.lo, self.hi, self.integer = lo, hi, integer

    def ok(self, v: Any) -> bool:
        if v is None:
            return True
        if isinstance(v, bool) or not isinstance(v, int if self.integer else (int, float)):
            return False
        return self.lo <= v <= self.hi and (self.integer or math.isfinite(v))

    def __str__(self) -> str:
        what = "a whole number" if self.integer else "a finite number"
        return f"{what} >= {self.lo:g}" if self.hi == math.inf else \
            f"{what} in [{self.lo:g}, {self.hi:g}]"


NUM = (int, float, type(None))
STR = (str, type(None))
INT = (int, type(None))
BOOL = (bool, type(None))
_STRS = Each(str)
COUNT = Range(0, integer=True)  # rows, series, confusion counts, seeds
SECONDS = Range(0)  # timings (and peak memory in MB)

PROTOCOL = {"name": STR, "standardize": BOOL, "window": (int, str, type(None)),
            "version": INT}
EVALUATION = {"headline": STR, "thresholded": STR, "threshold": STR, "cost": STR,
              "protocol": STR, "split": STR, "time_costs": BOOL, "gated": Each(str)}
GRID = {"datasets": _STRS, "detectors": _STRS, "seeds": Each(int), "thresholds": _STRS,
        "costs": _STRS, "metrics": _STRS, "protocol": (dict, str), "executor": STR}
_FACTS = {"label": STR, "higher_is_better": BOOL, "version": (int, str, type(None)),
          "plugin": STR, "input": STR, "inflating": BOOL, "chance": (str, bool, type(None)),
          "oracle": BOOL, "range": (Pair(NUM), type(None)), "kind": STR, "uses": STR}
META = Typed(Each(Each(_FACTS, keyed=True), keyed=True))
KEY_PARTS = {"bench": STR, "harness_fit": STR, "detector_code": STR, "metric_code": STR,
             "detector": list, "dataset": list, "seed": INT, "protocol": dict,
             "evaluation": Each((int, str), keyed=True)}  # declared versions
CHANCE_TEST = {"p": Range(0, 1), "better": BOOL, "n": COUNT, "method": STR, "rule": STR,
               "seeds": COUNT, "headline": STR, "version": INT}
_COUNTS = Typed(Each(COUNT, keyed=True))
EVAL = {"threshold": STR, "threshold_params": (dict, type(None)),  # a schema-3 upgrade reads both
        "n_series": _COUNTS, "confusion": _COUNTS, "chance_test": (CHANCE_TEST, type(None)),
        "series_without_test_anomaly": COUNT,
        "per_series": Typed(Each({"confusion": _COUNTS, "test_anomalies": COUNT}))}
CELL = {"protocol": Typed(PROTOCOL), "key_parts": Typed(KEY_PARTS),
        "protocol_notes": Typed(_STRS), "compute": Typed(Each(Each(NUM, keyed=True),
                                                              keyed=True)),
        "dataset_title": STR, "declared": EVALUATION, "headline": STR,
        "evaluations": Typed(Each(EVAL)),
        **dict.fromkeys(("index", "seed", "n_series", "n_points", "compiles", "harness_window"),
                        Typed(COUNT)),
        **dict.fromkeys(("wall_s", "fit_s", "score_s", "compile_s", "load_s", "peak_mem_mb"),
                        Typed(SECONDS)),
        "plan": Typed({"protocol": Typed(PROTOCOL), "evaluation": Typed(EVALUATION)})}
RECORD = {"grid": Typed(GRID), "meta": META, "meta_source": STR, "n_cells": Typed(COUNT),
          "cells": Typed(Each(CELL))}


def check(raw: Any, where: str) -> None:
    """The fields of a record's JSON (``raw``, before any upgrade) that readers use without a
    check of their own have the shapes above; else one :class:`RecordError` naming the field.
    Containers of the wrong type at the top of a cell are left to the typed readers, which
    name them the same way."""
    if isinstance(raw, dict):
        _shape(raw, RECORD, where, "")


def _shape(v: Any, shape: Any, where: str, path: str) -> None:
    if isinstance(shape, Typed):
        if isinstance(shape.shape, Range):
            want: Any = int if shape.shape.integer else (int, float)
        else:
            want = dict if isinstance(shape.shape, dict) or getattr(shape.shape, "keyed", False) \
                else list
        if isinstance(v, bool) or not isinstance(v, want):
            return  # the typed reader names it
        shape = shape.shape
    if isinstance(shape, tuple) and any(isinstance(s, (dict, Each)) for s in shape):
        if v is None and type(None) in shape:
            return
        shape = next(s for s in shape if isinstance(s, (dict, Each)))
    if isinstance(shape, dict):
        if not isinstance(v, dict):
            _bad(v, "an object", where, path)
        for key, sub in shape.items():
            if key in v:
                _shape(v[key], sub, where, f"{path}.{key}" if path else key)
    elif isinstance(shape, Each) and shape.keyed:
        if not isinstance(v, dict):
            _bad(v, "an object", where, path)
        for key, x in v.items():
            _shape(x, shape.shape, where, f"{path}.{key}")
    elif isinstance(shape, Each):
        if not isinstance(v, list) or (isinstance(shape, Pair) and len(v) != 2):
            _bad(v, "a list of two" if isinstance(shape, Pair) else "a list", where, path)
        for i, x in enumerate(v):
            _shape(x, shape.shape, where, f"{path}[{i}]")
    elif isinstance(shape, Range):
        if not shape.ok(v):
            _bad(v, str(shape), where, path)
    else:
        types = shape if isinstance(shape, tuple) else (shape,)
        if (isinstance(v, bool) and bool not in types) or not isinstance(v, types):
            _bad(v, " or ".join(_NAMES.get(t, t.__name__) for t in types), where, path)


_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
          float: "a number", bool: "true/false", type(None): "null"}


def _bad(v: Any, want: str, where: str, path: str) -> None:
    raise RecordError(f"{where}: {path}: expected {want}, got {kind_of(v)} {v!r:.40}")
