"""``NAME[:key=value,...]`` specs, and binding them to a factory's typed keyword parameters.

Besides its annotations, a factory may declare the values each parameter accepts, as
scikit-learn's estimators do (``_parameter_constraints``): a dict from parameter name to a list
of constraints, of which a value must meet one: an :class:`Interval`, an :class:`Options`, a
literal (``"auto"``), ``None`` (the value None) or a type.  :func:`bind` checks them, so a bad
value is one line before any cell runs::

    class KDE:
        _parameter_constraints = {"bandwidth": [Interval(float, 0, None, closed="neither"), None]}

Integers are bounded by int64 (``n_series=99999999999999999999999`` is refused, not allocated).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BenchError

#: the largest integer a parameter may hold (int64, what numpy and the detectors take)
INT_MAX = 2**63 - 1
#: seeds: what numpy's SeedSequence and scikit-learn's random_state both take
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Interval:
    """Numbers of ``type`` (``int``: whole numbers only; ``float``: any finite number) from
    ``left`` to ``right`` (None: unbounded); ``closed``: which ends belong to it (``both``,
    ``left``, ``right``, ``neither``)."""

    type: type
    left: float | None
    right: float | None
    closed: str = "both"

    def accepts(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if not math.isfinite(v) or (self.type is int and v != int(v)):
            return False
        lo_ok = self.left is None or (v >= self.left if self.closed in ("both", "left")
                                      else v > self.left)
        hi_ok = self.right is None or (v <= self.right if self.closed in ("both", "right")
                                       else v < self.right)
        return lo_ok and hi_ok

    def __str__(self) -> str:
        def fmt(v: float) -> str:  # whole bounds in full: [0, 4294967295]
            return f"{v:d}" if isinstance(v, int) else f"{v:g}"

        lo = "-inf" if self.left is None else fmt(self.left)
        hi = "inf" if self.right is None else fmt(self.right)
        a = "[" if self.closed in ("both", "left") and self.left is not None else "("
        b = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        what = "a whole number" if self.type is int else "a number"
        return f"{what} in {a}{lo}, {hi}{b}"


@dataclass(frozen=True)
class Options:
    """One of ``values``."""

    values: tuple

    def __init__(self, *values: Any):
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, v: Any) -> bool:
        return v in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


@dataclass(frozen=True)
class Each:
    """A sequence parameter (``hidden=32-16-8``) whose every element meets ``inner``; one bare
    value counts as a sequence of one."""

    inner: Any

    def accepts(self, v: Any) -> bool:
        vals = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        return len(vals) > 0 and all(_meets(self.inner, x) for x in vals)

    def __str__(self) -> str:
        return f"one or more values, each {_describe(self.inner)}"


@dataclass(frozen=True)
class ExistingPath:
    """A file or folder that exists (``~`` expanded) when the run is planned."""

    def accepts(self, v: Any) -> bool:
        return isinstance(v, str) and v != "" and Path(v).expanduser().exists()

    def __str__(self) -> str:
        return "an existing file or folder"


def _meets(c: Any, v: Any) -> bool:
    if c is None:
        return v is None
    if isinstance(c, (Interval, Options, Each, ExistingPath)):
        return c.accepts(v)
    if isinstance(c, type):
        return isinstance(v, c) and not (c is int and isinstance(v, bool))
    return v == c


def _describe(c: Any) -> str:
    if c is None:
        return "None"
    if isinstance(c, type):
        return f"any {c.__name__}"
    return str(c) if isinstance(c, (Interval, Options, Each, ExistingPath)) else repr(c)


def constraints(factory: Any) -> dict[str, list[Any]]:
    """The ``_parameter_constraints`` a factory declares (none: {})."""
    declared = getattr(factory, "_parameter_constraints", None)
    return declared if isinstance(declared, dict) else {}


def check_constraints(kind: str, name: str, factory: Any, values: dict[str, Any],
                      keys: Any = None) -> None:
    """Raise a one-line :class:`BenchError` for the first of ``keys`` (default: all) whose
    value in ``values`` meets none of the factory's declared constraints."""
    for key, allowed in constraints(factory).items():
        if key not in values or (keys is not None and key not in keys):
            continue
        v = values[key]
        if not any(_meets(c, v) for c in allowed):
            want = " or ".join(_describe(c) for c in allowed)
            raise BenchError(f"{kind} '{name}': parameter '{key}' = {_fmt(v)} is out of range: "
                             f"it must be {want}")


def check_seeds(seeds: Any) -> list[int]:
    """Seeds as a list of whole numbers in [0, 2**32 - 1]; anything else is one line."""
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= SEED_MAX:
            raise BenchError(f"--seed {s}: a seed must be a whole number from 0 to {SEED_MAX}")
        out.append(int(s))
    return out


@dataclass(frozen=True)
class Spec:
    """A plugin name and its parameters as given by the user (text or already typed values)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_fmt(v)}" for k, v in self.params.items())


def _fmt(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "-".join(str(x) for x in v)
    return str(v)


def parse_spec(text: str) -> Spec:
    """Parse ``"kde:bandwidth=0.5"`` or ``"min_cost:grid=linspace:1e4:2e5:200"``.

    The name ends at the first ``:``; parameters are separated by ``,`` and each is ``key=value``
    (a value may contain ``:``).
    """
    if isinstance(text, Spec):
        return text
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise BenchError(f"empty name in {text!r}; write NAME[:key=value,...]")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise BenchError(f"'{name}': bad parameter {item!r}; write key=value, e.g. {name}:k=3")
        if key.strip() in params:
            raise BenchError(f"'{name}': parameter '{key.strip()}' is given twice in {text!r}; "
                             f"give each parameter once")
        params[key.strip()] = value.strip()
    return Spec(name, params)


def parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``factory`` (its ``__init__`` for a class)."""
    sig = inspect.signature(factory)
    return {
        n: p
        for n, p in sig.parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n != "self"
    }


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:
        return {}


def bind(kind: str, name: str, factory: Callable[..., Any],
         given: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``given`` against the factory's signature: every keyword parameter with its default,
    overridden by ``given`` converted to the annotated type.  Unknown keys and bad values raise a
    one-line :class:`BenchError` naming the parameter and its type."""
    params = parameters(factory)
    takes_kwargs = any(
        p.kind == p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values()
    )
    hints = _hints(factory)
    out: dict[str, Any] = {
        n: p.default for n, p in params.items() if p.default is not inspect.Parameter.empty
    }
    for key, raw in given.items():
        if key not in params and not takes_kwargs:
            names = ", ".join(params) or "none"
            raise BenchError(f"{kind} '{name}' has no parameter '{key}'; its parameters: {names}")
        p = params.get(key)
        annot = hints.get(key, inspect.Parameter.empty)
        default = p.default if p is not None else inspect.Parameter.empty
        out[key] = convert(raw, annot, default, where=f"{kind} '{name}': parameter '{key}'")
    check_constraints(kind, name, factory, out, keys=given)
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and n not in out]
    if missing:
        raise BenchError(f"{kind} '{name}' needs parameter(s) {', '.join(missing)}; "
                         f"write {name}:{missing[0]}=VALUE")
    return out


_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}


def _type_name(annot: Any) -> str:
    if annot is inspect.Parameter.empty:
        return "value"
    return getattr(annot, "__name__", None) or str(annot).replace("typing.", "")


def convert(raw: Any, annot: Any, default: Any = inspect.Parameter.empty, *, where: str) -> Any:
    """Convert ``raw`` (text from the command line, or a value) to ``annot``."""
    if isinstance(raw, float) and not math.isfinite(raw):
        raise BenchError(f"{where} expects a finite number, got {raw}")
    if not isinstance(raw, str):
        return raw
    if annot is inspect.Parameter.empty:
        annot = type(default) if default not in (inspect.Parameter.empty, None) else None
    try:
        return _convert(raw, annot)
    except (ValueError, TypeError) as exc:
        plain = ("invalid literal", "could not convert")
        detail = f" ({exc})" if str(exc) and not any(p in str(exc) for p in plain) else ""
        raise BenchError(
            f"{where} expects {_type_name(annot)}, got {raw!r}{detail}"
        ) from None


def _convert(raw: str, annot: Any) -> Any:
    if annot is None or annot is Any:
        return _guess(raw)
    origin = typing.get_origin(annot)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annot)
        if type(None) in args and raw.lower() in ("none", "null", ""):
            return None
        why = ""
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(raw, a)
            except (ValueError, TypeError) as exc:
                why = str(exc)
        raise ValueError(why)
    if origin is typing.Literal:
        choices = typing.get_args(annot)
        for c in choices:
            if str(c) == raw:
                return c
        raise ValueError("one of " + ", ".join(map(str, choices)))
    if origin in (tuple, list) or annot in (tuple, list):
        args = [a for a in typing.get_args(annot) if a is not Ellipsis] or [None]
        parts = raw.replace("/", "-").split("-") if raw else []
        if any(x.strip() == "" for x in parts):  # '-3', '32--8', '32-': an empty element
            raise ValueError("values joined by '-' or '/' like 32-16-8, none of them empty "
                             "(a sequence cannot hold a negative number)")
        return tuple(_convert(x, args[0]) for x in parts)
    if annot is bool:
        if raw.lower() in _BOOLS:
            return _BOOLS[raw.lower()]
        raise ValueError("true or false")
    if annot is int:
        return _integer(raw)
    if annot is float:
        return _finite(raw)
    if annot is str:
        return raw
    return annot(raw)


def _finite(raw: str) -> float:
    """``raw`` as a finite float: NaN, infinities and values beyond float range (``1e400``) are
    a ValueError, never a silent NaN or inf."""
    f = float(raw)
    if not math.isfinite(f):
        raise ValueError("a finite number")
    return f


def _integer(raw: str) -> int:
    """``raw`` as an integer: ``100``, ``1e2``; not ``2.5``, ``nan``, ``inf`` or ``1e400``."""
    try:
        v = int(raw)
    except ValueError:
        f = _finite(raw)
        if f != int(f):
            raise ValueError("an integer") from None
        v = int(f)
    if abs(v) > INT_MAX:
        raise ValueError(f"an integer of magnitude at most {INT_MAX}")
    return v


def _plain_int(raw: str) -> int:
    """``int(raw)``, bounded like :func:`_integer` (a digit string is never a huge integer)."""
    v = int(raw)
    if abs(v) > INT_MAX:
        raise ValueError(f"an integer of magnitude at most {INT_MAX}")
    return v


def _guess(raw: str) -> Any:
    for conv in (_plain_int, _finite):
        try:
            return conv(raw)
        except ValueError:
            pass
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if raw.lower() in ("none", "null"):
        return None
    try:
        float(raw)
    except ValueError:
        return raw
    raise ValueError("a finite number")  # nan, inf, 1e400: never a silent NaN or a string


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of a parameter value (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def digest(obj: Any, n: int = 16) -> str:
    """Stable content hash of a JSON-ready object."""
    text = json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:n]
