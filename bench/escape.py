"""Escaping of text that comes from records, datasets and parameters (titles, names, errors) for
every output format bench writes, so that no value can change the structure of the output it is
written into.

Each function takes any value (``str()`` of it is escaped) and returns text safe in one place:

* :func:`one_line` - every format: line breaks (``\\n``, ``\\r``, ``\\v``, ``\\f``, U+0085,
  U+2028, U+2029) and other control characters become one space, so a value cannot start a line
  of its own (in a LaTeX comment, a markdown heading, a csv/tsv row).
* :func:`latex` - LaTeX text (``\\ & % $ # _ { } ~ ^``); :func:`latex_comment` - the rest of a
  ``%`` line (TeX's ``^^`` notation could otherwise write a line break).
* :func:`markdown` - a markdown (github/pipe) table cell or heading: ``|`` cannot end the cell,
  no raw HTML tag and no link can start (``<a`` is ``&lt;a``, ``](`` is ``\\](``).
* :func:`wiki` - the other ``|``-delimited table formats of tabulate (mediawiki, moinmoin, jira,
  textile, asciidoc, orgtbl, youtrack): ``|`` becomes ``¦``, markup brackets are dropped.
* :func:`html_text` - HTML text and attribute values.
* :func:`csv_cell` - a spreadsheet cell: text starting with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return is prefixed with ``'`` (OWASP, "CSV Injection"); numbers are kept as they are.
* :func:`plotly` - a plotly label (title, legend, axis category, hover text): plotly renders a
  subset of HTML (``<a href>``, ``<br>``, ``<b>``), so ``<``, ``>`` and ``&`` are entities, which
  plotly shows as the characters.
* :func:`cell` - a table cell for a tabulate format name (what :mod:`bench.leaderboard` calls).
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

#: characters that end a line somewhere (Python's str.splitlines set) or are invisible controls
_BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}"}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX))
_TAG_RE = re.compile(r"<(?=[A-Za-z/!?])")
_LINK_RE = re.compile(r"\](\(|:)")
#: what a spreadsheet reads as the start of a formula (OWASP)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: tabulate formats whose table cells are delimited by ``|`` and read as wiki markup
WIKI_FORMATS = ("mediawiki", "moinmoin", "jira", "textile", "asciidoc", "orgtbl", "youtrack")


def one_line(value: Any) -> str:
    """``value`` as text on one line: each line break or control character is one space (a tab
    too: tsv and csv cells stay put)."""
    return _BREAKS.sub(" ", str(value)).replace("\t", " ")


def latex(value: Any) -> str:
    """``value`` as LaTeX text: on one line, the ten special characters escaped."""
    return _LATEX_RE.sub(lambda m: _LATEX[m.group(0)], one_line(value))


def latex_comment(value: Any) -> str:
    """``value`` as the rest of a LaTeX ``%`` comment: on one line and with no ``^^`` (TeX reads
    ``^^M`` as a line end, ``^^J`` as a character)."""
    text = one_line(value)
    while "^^" in text:
        text = text.replace("^^", "^ ^")
    return text


def markdown(value: Any) -> str:
    """``value`` as a markdown table cell or heading text (GitHub flavour): on one line, ``|``
    escaped, no HTML tag (``<`` before a letter, ``/``, ``!`` or ``?`` is ``&lt;``), no link
    (``](`` and ``]:`` escaped); text such as ``p < 0.05`` or ``dense_ae`` stays as it is."""
    text = _TAG_RE.sub("&lt;", one_line(value).replace("\\|", "|").replace("|", "\\|"))
    return _LINK_RE.sub(r"\\]\1", text)


def wiki(value: Any) -> str:
    """``value`` as a cell of a ``|``-delimited wiki table (mediawiki, jira, ...)."""
    text = one_line(value).replace("|", "¦")
    for a, b in (("[[", "[ ["), ("]]", "] ]"), ("{{", "{ {"), ("}}", "} }")):
        while a in text:
            text = text.replace(a, b)
    return text


def html_text(value: Any) -> str:
    """``value`` as HTML text or a quoted attribute value."""
    return html.escape(one_line(value), quote=True)


def plotly(value: Any) -> str:
    """``value`` as a plotly label: shown as written, no HTML it holds is rendered."""
    return html.escape(one_line(value), quote=False)


def csv_cell(value: Any) -> Any:
    """``value`` for a csv file opened in a spreadsheet: numbers, booleans and None as they are;
    text starting with a formula character gets a leading ``'`` (OWASP)."""
    if value is None or isinstance(value, (bool, int)) or (
            isinstance(value, float) and not math.isnan(value)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(value: Any, fmt: str) -> str:
    """``value`` as a table cell of the tabulate format ``fmt`` (``markdown`` is ``pipe``).
    LaTeX formats other than ``latex_raw`` are escaped by tabulate itself, html formats by the
    caller's ``unsafehtml`` path; both still get :func:`one_line` here."""
    if fmt in ("github", "pipe", "markdown"):
        return markdown(value)
    if fmt == "latex_raw":
        return latex(value)
    if fmt in WIKI_FORMATS:
        return wiki(value)
    return one_line(value)


def title(value: Any, fmt: str) -> str:
    """Text for a title or note line of the format ``fmt`` (the caller adds the markup: ``###``,
    ``%``, ``<h3>``)."""
    if fmt in ("github", "pipe", "markdown") or fmt.startswith("pipe"):
        return markdown(value)
    if fmt.startswith("latex"):
        return latex_comment(value)
    if fmt.startswith("html") or fmt == "unsafehtml":
        return html_text(value)
    if fmt in WIKI_FORMATS:
        return wiki(value)
    return one_line(value)
