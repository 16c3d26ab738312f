"""The `bench` commands over stored run records: ``compare`` (with its regression gate),
``baseline update`` / ``baseline check``, ``history`` and ``report``.  :mod:`bench.cli` adds
them to its command group (and re-exports them)."""

from __future__ import annotations

from pathlib import Path

import click

from . import api, checks, records
from ._cli_common import _log, _manager
from .errors import BenchError


def _tolerances(items: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise BenchError(f"--tolerance {item!r}: write METRIC=NUMBER, e.g. f1=0.01 or "
                             f"cost:event=5") from None
        if not eq:
            raise BenchError(f"--tolerance {item!r}: write METRIC=NUMBER")
        if not 0 <= out[name.strip()] < float("inf"):  # NaN fails this too
            raise BenchError(f"--tolerance {item!r}: the tolerance must be a finite number "
                             f"of at least 0")
    from .plugins import get_manager

    m = get_manager()
    known = {e.name for e in m.registry("metric")} | {f"cost:{e.name}"
                                                       for e in m.registry("cost")}
    for name in out:
        if name not in known:
            raise BenchError(f"--tolerance {name}=...: no metric or cost model '{name}'; known: "
                             f"{', '.join(sorted(known))}")
    return out


def _allow_options(fn):
    fn = click.option("--strict", is_flag=True,
                      help="Fail on any metric that got worse (default: each dataset's headline "
                           "and the metrics it declares gated).")(fn)
    for flag, what in (("--allow-not-comparable", "cells whose evaluation versions, dataset or "
                        "protocol changed"),
                       ("--allow-missing", "base cells or metrics missing from the head"),
                       ("--allow-incomplete", "a head run that did not finish every cell")):
        fn = click.option(flag, is_flag=True, help=f"Do not fail on {what}.")(fn)
    return fn


def _gate(ctx, cmp, allow_incomplete, allow_missing, allow_not_comparable,
          strict=False) -> None:
    """Print the comparison's notes and gate failures (one line each), then exit 1 or 0."""
    for cell, note in sorted(cmp.notes.items()):
        _log(f"note: {cell}: {note}")
    if not strict and cmp.ungated_worse():
        _log(f"note: {len(cmp.ungated_worse())} worse value(s) of metrics that are not a "
             f"dataset's headline or gated (marked *; --strict fails on them)")
    problems = cmp.gate(allow_incomplete=allow_incomplete, allow_missing=allow_missing,
                        allow_not_comparable=allow_not_comparable, strict=strict)
    for line in problems:
        _log(f"bench: FAIL {line}")
    if not problems:
        _log(f"bench: gate passed ({cmp.compared} metric values compared)")
    ctx.exit(1 if problems else 0)


@click.command(name="compare")
@click.argument("paths", nargs=-1, type=click.Path(), metavar="BASE HEAD | [RECORDS...]")
@click.option("--a", "spec_a", default=None, metavar="SPEC",
              help="A/B: the cells of A, e.g. kde, kde:bandwidth=2, iforest@window=8.")
@click.option("--b", "spec_b", default=None, metavar="SPEC", help="A/B: the cells of B.")
@click.option("--tolerance", "tolerance", multiple=True, metavar="METRIC=ABS",
              help="Absolute tolerance for a metric (repeatable); cost models as cost:NAME=ABS. "
                   "Defaults: 0.005 for metrics, 2 % relative for costs.")
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged metrics.")
@_allow_options
@click.pass_context
def compare_cmd(ctx, paths, spec_a, spec_b, tolerance, show_all, strict, allow_incomplete,
                allow_missing, allow_not_comparable):
    """Compare run HEAD against BASE (files, or directories: their newest record); or, with
    --a and --b, put A's headline beside B's in RECORDS (default: results/).

    Marks: + improved, - worse, = unchanged, x not comparable (says exactly what changed),
    ? missing.  Exit status 1 when a dataset's headline (or a metric it declares gated; every
    metric with --strict) got worse beyond tolerance (and seed spread), when a value is
    impossible (outside its metric's declared range) or a cell is recorded twice, when the head
    is incomplete, a base cell is missing from it, cells are not comparable, or nothing was
    compared; the --allow-* flags accept the last four deliberately.  A/B exits 0 with the
    numbers: each dataset's headline for A and B and a paired Wilcoxon test over its series.
    """
    if spec_a is not None or spec_b is not None:
        from . import ab

        if spec_a is None or spec_b is None:
            raise BenchError("give both --a SPEC and --b SPEC, e.g. --a kde --b kde:bandwidth=2")
        paths = paths or ("results",)
        for p in paths:
            if not Path(p).exists():
                raise BenchError(f"run record {p} does not exist; `bench run --out {p}` "
                                 f"writes one")
        recs = ([api._newest(p, _log) for p in paths] if spec_a == spec_b else
                records.load_many([f for p in paths for f in records.find(p)], _log))
        click.echo(ab.render(ab.ab(recs, spec_a, spec_b)), nl=False)
        return
    if len(paths) != 2:
        raise BenchError(f"bench compare takes BASE and HEAD (got {len(paths)} path(s)), or "
                         f"--a SPEC --b SPEC [RECORDS...]")
    from .compare import render as render_cmp

    cmp = api.compare_paths(paths[0], paths[1], tolerances=_tolerances(tolerance),
                            manager=_manager(ctx), warn=_log)
    click.echo(render_cmp(cmp, show_all=show_all), nl=False)
    _gate(ctx, cmp, allow_incomplete, allow_missing, allow_not_comparable, strict)


@click.group()
def baseline():
    """The committed regression baseline (results/baseline/)."""


@baseline.command(name="update")
@click.option("--dir", "directory", default=str(api.BASELINE_DIR), show_default=True,
              type=click.Path(file_okay=False))
@click.pass_context
def baseline_update_cmd(ctx, directory):
    """Run the quick suite and rewrite the baseline record (commit it deliberately)."""
    checks.output_dir(directory, "--dir")
    rec = api.baseline_update(directory, manager=_manager(ctx.find_root()),
                              on_cell=lambda c, d, t: _log(f"[{d}/{t}] {c['dataset']} x "
                                                           f"{c['detector']}: {c['status']}"))
    _log(f"bench: baseline written to {Path(directory) / 'baseline.json'} "
         f"({len(rec.cells)} cells)")


@baseline.command(name="check")
@click.option("--dir", "directory", default=str(api.BASELINE_DIR), show_default=True,
              type=click.Path(file_okay=False))
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option("--tolerance", "tolerance", multiple=True, metavar="METRIC=ABS")
@_allow_options
@click.pass_context
def baseline_check_cmd(ctx, directory, out, tolerance, strict, allow_incomplete, allow_missing,
                       allow_not_comparable):
    """Run the quick suite and compare it with the baseline; exit 1 on a regression."""
    from .compare import compare
    from .compare import render as render_cmp

    manager = _manager(ctx.find_root())
    base = api._newest(directory, _log)
    head = api.run(api.quick_suite(manager), out=out, manager=manager,
                   on_cell=lambda c, d, t: _log(f"[{d}/{t}] {c['dataset']} x {c['detector']}: "
                                                f"{c['status']}"))
    base = api.reevaluate_base(base, head, Path(directory) / "scores", manager, _log)
    cmp = compare(base, head, tolerances=_tolerances(tolerance))
    click.echo(render_cmp(cmp), nl=False)
    _gate(ctx, cmp, allow_incomplete, allow_missing, allow_not_comparable, strict)


def warn_impossible(rec, log) -> None:
    """One warning per record holding values no metric or cost can take (non-finite, outside
    the metric's declared range: a damaged or edited record), naming the first; the gate
    (compare) fails on them, the read-only commands show the record as it is but say so."""
    from .compare import impossible_values

    lines = impossible_values(rec)
    if lines:
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        log(f"bench: warning: {len(lines)} impossible value(s) in run {rec.run_id}, shown as "
            f"recorded: {lines[0]}{more}")


def _known_metrics(recs) -> set[str]:
    """Metric names (and ``cost:NAME``) that the records' finished cells hold."""
    known = set()
    for rec in recs:
        for cell in rec["cells"]:
            for ev in cell.get("evaluations") or []:
                known.update(ev.get("metrics") or {})
                known.update(f"cost:{c}" for c in ev.get("costs") or {})
    return known


#: the image files ``history --plot`` writes (matplotlib picks the format by suffix)
PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


@click.command()
@click.argument("metric")
@click.option("--dir", "directory", default="results", show_default=True,
              type=click.Path(exists=True), help="Directory of run records.")
@click.option("-d", "--dataset", default=None, help="Only this dataset.")
@click.option("-m", "--detector", default=None, help="Only this detector.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Also write a PNG plot here.")
@click.option("--format", "fmt", default="github", show_default=True)
def history(metric, directory, dataset, detector, plot_path, fmt):
    """A METRIC (or cost:NAME) over every record in --dir: when it moved, at which commit."""
    from tabulate import tabulate, tabulate_formats

    from . import history as hist

    if fmt not in tabulate_formats:
        raise BenchError(f"--format {fmt}: not a table format; one of "
                         f"{', '.join(sorted(tabulate_formats))}")
    if plot_path and Path(plot_path).suffix.lower() not in PLOT_SUFFIXES:
        raise BenchError(f"--plot {plot_path}: write the plot as one of "
                         f"{', '.join(PLOT_SUFFIXES)}, e.g. history.png")
    recs = records.load_many(records.find(directory), warn=_log)
    for rec in recs:
        warn_impossible(rec, _log)
    known = _known_metrics(recs)
    if recs and metric not in known:
        raise BenchError(f"history: no metric '{metric}' in the {len(recs)} record(s) under "
                         f"{directory}; known: {', '.join(sorted(known)) or 'none'}")
    rows = hist.collect(recs, metric, dataset=dataset, detector=detector)
    if not rows:
        raise BenchError(f"no values of '{metric}' in {len(recs)} record(s) under {directory}")
    table = [[r["created"][:19], r["commit"], r["cell"], f"{r['value']:.4g}",
              "moved" if r["moved"] else "", r["status"]] for r in rows]
    click.echo(tabulate(table, headers=["created", "commit", "cell", metric, "", "status"],
                        tablefmt=fmt, disable_numparse=True))
    if plot_path:
        checks.output_file(plot_path, "--plot")
        _log(f"bench: plot written to {hist.plot(rows, metric, plot_path)}")


@click.command()
@click.argument("record", type=click.Path())
@click.option("-o", "--output", default="report.html", show_default=True,
              type=click.Path(dir_okay=False), help="HTML file to write.")
@click.pass_context
def report(ctx, record, output):
    """Write one self-contained HTML page for a run RECORD: leaderboards, a ranking plot, and per
    cell an interactive plot of every series (scores, threshold, alarms, labels, cost curve;
    explain heatmaps for multivariate series).  Works offline."""
    from .report import write

    checks.output_file(output, "-o")
    warn_impossible(records.load(record), _log)
    path = write(record, output, _manager(ctx))
    _log(f"bench: report written to {path} ({path.stat().st_size // 1024} KiB)")
