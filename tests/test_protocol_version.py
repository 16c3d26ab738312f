"""Protocols declare a version: it keys every cell (fit key and number key), a changed
procedure is "not comparable" in compare (never a regression), and a record written before
protocols declared one compares as version 1."""

from __future__ import annotations

import copy
import dataclasses

from test_compare import _manager as compare_manager

from bench import api, protocols
from bench.compare import compare


def _manager():
    """A Manager with the distance-from-the-mean detector ``dist`` of test_compare."""
    return compare_manager(0.0)


def _run(m, out):
    cells = api.plan(["synthetic:n_series=2,length=600"], ["dist"], manager=m)
    return api.run(cells, out=out, manager=m)


def test_protocol_version_keys_cells_and_compare_names_it(tmp_path, monkeypatch):
    m = _manager()
    base = _run(m, tmp_path / "a")
    cell = base.cells[0]
    name = cell.key_parts["protocol"]["name"]
    assert cell.key_parts["protocol"]["version"] == protocols.get(name).version == 1
    # the same procedure again: comparable, same keys
    again = _run(m, tmp_path / "b")
    assert (again.cells[0].fit_key, again.cells[0].key) == (cell.fit_key, cell.key)
    assert all(c.status != "not comparable" for c in compare(base, again, manager=m).changes)
    # a bumped protocol: new fit key (stored scores are not reused) and not comparable
    monkeypatch.setitem(protocols._REGISTRY, name,
                        dataclasses.replace(protocols.get(name), version=2))
    bumped = _run(m, tmp_path / "c")
    assert bumped.cells[0].fit_key != cell.fit_key
    notes = {(c.status, c.note) for c in compare(base, bumped, manager=m).changes}
    assert notes == {("not comparable", "protocol version 1 -> 2")}


def test_record_without_a_protocol_version_compares_as_version_1(tmp_path):
    m = _manager()
    base = _run(m, tmp_path / "a")
    old = copy.deepcopy(base)
    for c in old.cells:
        del c.key_parts["protocol"]["version"]
    assert all(c.status != "not comparable" for c in compare(old, base, manager=m).changes)
