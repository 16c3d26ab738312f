"""What ``bench list`` prints: one short line per registered thing, or one thing's details.

Docstrings are written in reStructuredText for the API docs; here they are shown as plain text
(````x```` -> ``x``, ``:func:`a.b``` -> ``a.b``).  Only the parameters a user sets with
``NAME:k=v`` are shown: a metric's inputs (``labels``, ``scores``/``pred``), an executor's
``manager`` and ``**kwargs`` catch-alls are the harness's business.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import textwrap
import typing
from dataclasses import dataclass
from typing import Any

from .errors import BenchError
from .params import parameters

WIDTH = 100
#: how each kind is chosen on the command line
OPTION = {"dataset": "-d", "detector": "-m", "metric": "--metric", "cost": "--cost",
          "threshold": "--threshold", "executor": "--executor", "suite": "--suite"}
#: parameters the harness passes itself, never set by a user
_INTERNAL = {"manager"}
_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z(])")
_ABBREVIATIONS = ("al.", "e.g.", "i.e.", "cf.", "vs.", "approx.", "Fig.")


@dataclass
class Param:
    """One user-settable parameter: its name, type as text, default (``required`` if none)."""

    name: str
    type: str
    default: Any
    required: bool


def plain(text: str) -> str:
    """reStructuredText inline markup removed: roles keep their target's text, literals and
    emphasis lose their markers."""
    text = _ROLE.sub(lambda m: m.group(2).strip().rsplit(".", 1)[-1] if m.group(1)
                     else m.group(2).strip(), text)
    text = re.sub(r"``(.+?)``", r"\1", text, flags=re.S)
    text = re.sub(r"(?<![\w*])\*\*(\S(?:.*?\S)?)\*\*(?![\w*])", r"\1", text)
    return re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\1", text)


def description(entry: Any) -> str:
    """The entry's description (``meta["description"]`` or its docstring), plain text."""
    return plain(entry.meta.get("description") or inspect.getdoc(entry.factory) or "").strip()


def first_sentence(text: str) -> str:
    """Text up to its first full stop outside brackets that does not end an abbreviation."""
    for m in _SENTENCE_END.finditer(text):
        head = text[:m.start() + 1]
        if head.count("(") == head.count(")") and not head.endswith(_ABBREVIATIONS):
            return head
    return text


def summary(entry: Any) -> str:
    """First sentence of the description's first paragraph, on one line."""
    return first_sentence(" ".join(description(entry).split("\n\n")[0].split()))


def _type_text(hint: Any, annotation: Any) -> str:
    if hint is None:
        return "" if annotation is inspect.Parameter.empty else str(annotation)
    if typing.get_origin(hint) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", ())):
        return " or ".join(_type_text(a, None) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if isinstance(hint, type):
        return hint.__name__
    return re.sub(r"\b(?:[a-z_]\w*\.)+(?=[A-Za-z_])", "", str(hint))


def user_parameters(entry: Any) -> list[Param]:
    """The parameters a user can set as ``NAME:k=v`` for this entry, in signature order."""
    try:
        params = parameters(entry.factory)
    except (TypeError, ValueError):
        return []
    target = entry.factory.__init__ if inspect.isclass(entry.factory) else entry.factory
    try:
        hints = typing.get_type_hints(target, include_extras=False)
    except Exception:
        hints = {}
    out = []
    for name, p in params.items():
        inputs = entry.kind == "metric" and p.kind != p.KEYWORD_ONLY and p.default is p.empty
        if name in _INTERNAL or name.startswith("_") or inputs:
            continue
        required = p.default is p.empty
        out.append(Param(name, _type_text(hints.get(name), p.annotation),
                         None if required else p.default, required))
    return out


def _elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, at a word boundary when one is near, with "..."."""
    if len(text) <= width:
        return text
    cut = text[:max(width - 3, 0)]
    space = cut.rfind(" ")
    if space >= len(cut) - 20 and space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:(.") + "..."


#: the order of ``bench list detectors``' headings (a detector's ``group`` meta)
GROUP_ORDER = ("built-in", "classical", "pyod", "third-party", "chance")


def group(entry: Any) -> str:
    """A detector's listing heading: its ``group`` meta, else ``chance`` for a chance baseline,
    ``built-in`` for bench's own plugins, ``third-party`` otherwise."""
    if entry.meta.get("group"):
        return str(entry.meta["group"])
    if entry.meta.get("chance"):
        return "chance"
    from .plugins import DEFAULT_PLUGINS

    return "built-in" if entry.plugin in DEFAULT_PLUGINS else "third-party"


def lines(entries: list[Any], kind: str, width: int = WIDTH) -> list[str]:
    """One line per entry, ``NAME  PLUGIN  SUMMARY``, none longer than ``width``; a last line
    says how to see one entry's details."""
    if not entries:
        return [f"no {kind}s registered (bench plugins shows what loaded)"]
    name_w = max(len(kind), *(len(e.name) for e in entries))
    plug_w = max(len("plugin"), *(len(e.plugin) for e in entries))
    room = width - name_w - plug_w - 4
    out = [f"{kind:<{name_w}}  {'plugin':<{plug_w}}  description"]
    groups = {e.name: group(e) for e in entries}
    grouped = kind == "detector" and len(set(groups.values())) > 1
    if grouped:  # headings in GROUP_ORDER, then any other group by name
        rank = {g: i for i, g in enumerate(GROUP_ORDER)}
        entries = sorted(entries, key=lambda e: (rank.get(groups[e.name], len(rank)),
                                                 groups[e.name]))
    for i, e in enumerate(entries):
        if grouped and (i == 0 or groups[e.name] != groups[entries[i - 1].name]):
            out.append(f"-- {groups[e.name]}")
        mark = " (looks ahead)" if e.meta.get("looks_ahead") else ""
        row = f"{e.name:<{name_w}}  {e.plugin:<{plug_w}}  {_elide(summary(e), room - len(mark))}"
        out.append(_elide(row.rstrip() + mark, width))
    out.append(_elide(f"bench list {kind}s NAME: one {kind}'s parameters and description", width))
    return out


def protocols(name: str | None = None, as_json: bool = False) -> str:
    """``bench list protocols [NAME] [--json]``: every registered protocol (bench.protocols) with
    its description, how it chooses thresholds and what its fit sees; NAME: that one alone."""
    from . import protocols as reg

    shown = [reg.get(name)] if name else reg.all_profiles()
    rows = [{"name": p.name, "version": p.version, "description": p.description,
             "thresholds": p.threshold_note,
             "fit": p.fit_note or "the training range only",
             "dataset_metrics": p.dataset_metrics_note} for p in shown]
    if as_json:
        return json.dumps(rows[0] if name else rows, indent=2)
    if name:
        r = rows[0]
        return "\n".join([f"protocol {r['name']} (version {r['version']})", "", *textwrap.wrap(r["description"], WIDTH), "",
                          *textwrap.wrap(f"thresholds: {r['thresholds']}", WIDTH),
                          *textwrap.wrap(f"fit: {r['fit']}", WIDTH)]
                         + ([*textwrap.wrap(f"corpus values: {r['dataset_metrics']}", WIDTH)]
                            if r["dataset_metrics"] else []))
    name_w = max(len("protocol"), *(len(r["name"]) for r in rows))
    out = [f"{'protocol':<{name_w}}  description"]
    out += [_elide(f"{r['name']:<{name_w}}  {r['description']}", WIDTH) for r in rows]
    out.append("bench list protocols NAME: one protocol's description")
    return "\n".join(out)


def find(entries: list[Any], kind: str, name: str) -> Any:
    """The entry called ``name``, or a one-line :class:`BenchError` suggesting close names."""
    for e in entries:
        if e.name == name:
            return e
    close = difflib.get_close_matches(name, [e.name for e in entries], n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise BenchError(f"no {kind} '{name}' is registered; {hint}bench list {kind}s shows all "
                     f"{len(entries)}")


#: a docstring line that starts an item of its own: a bullet, or ``name:`` / ``a, b:`` at the
#: start of a line (a parameter's entry)
_ITEM = re.compile(r"\n(?=[*-] |[A-Za-z_][\w, ]{0,40}:\s)")


def _wrap_paragraphs(text: str, width: int, indent: str = "  ") -> list[str]:
    """Paragraphs re-wrapped to ``width``; bullets and ``name: text`` entries keep a line of
    their own, with a hanging indent."""
    out: list[str] = []
    for para in text.split("\n\n"):
        for item in _ITEM.split(para):
            words = " ".join(item.split())
            hang = "  " if re.match(r"[*-] |[\w, ]+:\s", words) else ""
            out += textwrap.wrap(words, width, initial_indent=indent,
                                 subsequent_indent=indent + hang,
                                 break_on_hyphens=False) or [""]
        out.append("")
    return out[:-1]


def _example(entry: Any, params: list[Param]) -> str:
    """A command-line example setting one parameter (a required one, else the first with a
    plain default)."""
    if entry.kind == "executor":
        return f"set with: bench run --executor {entry.name} and its options (bench run --help)"
    plain_ = [p for p in params if isinstance(p.default, (bool, int, float, str))]
    p = next((p for p in params if p.required), None) or (plain_ or params)[0]
    value = "VALUE" if p.required else str(p.default).lower() if isinstance(p.default, bool) \
        else p.default
    return f"set with: {OPTION.get(entry.kind, '')} {entry.name}:{p.name}={value}"


def _facts(entry: Any) -> list[tuple[str, str]]:
    """What the entry declares besides its parameters: a metric's direction and input, a
    dataset's evaluation, a cost's kind, the version."""
    facts = []
    fn = entry.factory
    if entry.kind == "metric" and hasattr(fn, "higher_is_better"):
        facts.append(("direction", "higher is better" if fn.higher_is_better
                      else "lower is better"))
        facts.append(("input", {"scores": "scores (higher = more anomalous)",
                                "pred": "0/1 alarms at the chosen threshold"}.get(
                                    getattr(fn, "input", ""), str(getattr(fn, "input", "")))))
        if getattr(fn, "inflating", False):
            facts.append(("note", "inflating: trivial detectors score high; marked (!)"))
        if getattr(fn, "default", False):
            facts.append(("default", "computed in every run unless --metric names others"))
        chance = getattr(fn, "chance", None)
        if callable(chance):
            doc = first_sentence(plain(getattr(chance, "__doc__", "") or ""))
            facts.append(("chance", doc or getattr(chance, "__name__", "")))
        elif chance == "random":
            facts.append(("chance", "estimated from the random and constant detectors on the "
                                    "test labels (bench.metrics.chance.level)"))
    ev = entry.meta.get("evaluation")
    if ev is not None:
        for field in ("headline", "threshold", "cost", "protocol", "split"):
            value = getattr(ev, field, "")
            if value:
                facts.append((field, str(value)))
    if entry.meta.get("kind"):
        facts.append(("kind", str(entry.meta["kind"])))
    declared = getattr(fn, "version", None)
    if entry.kind in ("metric", "cost", "threshold") and isinstance(declared, int):
        facts.append(("version", f"{declared} (declared meaning; results of other versions are "
                                 f"not compared)"))
    if entry.kind == "suite":  # what the suite runs (bench.suites.describe)
        from . import suites

        try:
            facts += [tuple(part.strip() for part in line.split(":", 1))
                      for line in suites.describe(fn())]
        except Exception as exc:  # noqa: BLE001 - a plugin's factory that needs parameters
            facts.append(("grid", f"not shown ({type(exc).__name__}: {exc})"))
    if entry.version:
        facts.append(("plugin", f"{entry.plugin} {entry.version}"))
    return facts


def details(entry: Any, width: int = WIDTH) -> list[str]:
    """Everything about one entry: description, declared facts, parameters and an example."""
    out = [f"{entry.kind} {entry.name} (plugin {entry.plugin})", ""]
    out += _wrap_paragraphs(description(entry), width)
    facts = _facts(entry)
    if facts:
        out.append("")
        key_w = max(len(k) for k, _ in facts)
        for k, v in facts:
            out += textwrap.wrap(f"{k + ':':<{key_w + 1}} {v}", width, initial_indent="  ",
                                 subsequent_indent=" " * (key_w + 4))
    params = user_parameters(entry)
    out += ["", "parameters:" if params else "parameters: none"]
    if params:
        name_w = max(len(p.name) for p in params)
        type_w = max(len(p.type) for p in params)
        for p in params:
            default = "required" if p.required else f"default {p.default!r}"
            out.append(_elide(f"  {p.name:<{name_w}}  {p.type:<{type_w}}  {default}", width))
        out += ["", _elide(_example(entry, params), width)]
    return out


def as_json(entries: list[Any]) -> list[dict[str, Any]]:
    """``bench list --json``: each entry's name, plugin, version, summary, description (first
    paragraph) and user parameters (``params``: name -> default; ``types``: name -> type)."""
    data = []
    for e in entries:
        params = user_parameters(e)
        data.append({"name": e.name, "plugin": e.plugin, "version": e.version,
                     "summary": summary(e),
                     "description": " ".join(description(e).split("\n\n")[0].split()),
                     "params": {p.name: p.default for p in params},
                     "types": {p.name: p.type for p in params},
                     "required": [p.name for p in params if p.required]})
    return data
