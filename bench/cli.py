"""The `bench` command line: a thin click layer over :mod:`bench.api`.  The commands over stored
run records (``compare``, ``baseline``, ``history``, ``report``) live in :mod:`bench.cli_records`
and ``fetch`` in :mod:`bench.fetch`; they are added to the :func:`cli` group here."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

import click

from . import __version__, api, checks, records
from ._cli_common import _log, _manager
from .cell import PERIOD_WINDOW
from .errors import BenchError, checkpoint, early_stop, stop_requested
from .leaderboard import FORMATS, render
from .plugins import Manager, set_manager
from .runner import Protocol


class _WindowType(click.ParamType):
    """``--window``: an int >= 1, or ``period``."""

    name = "window"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int) or value == PERIOD_WINDOW:
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number of rows nor '{PERIOD_WINDOW}'", param, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "plugin_opts", multiple=True, metavar="no:NAME",
              help="Block a plugin (repeatable), e.g. -p no:kde.  Env: BENCH_DISABLE_PLUGINS.")
@click.option("--trace-hooks", is_flag=True, help="Print every plugin hook call to stderr.")
@click.option("--traceback", "show_tb", is_flag=True,
              help="Show full tracebacks for errors (env: BENCH_TRACEBACK=1).")
@click.version_option(__version__, prog_name="bench")
@click.pass_context
def cli(ctx: click.Context, plugin_opts: tuple[str, ...], trace_hooks: bool,
        show_tb: bool) -> None:
    """Cross-evaluate anomaly detectors against datasets and print leaderboards."""
    blocked = []
    for opt in plugin_opts:
        if not opt.startswith("no:") or len(opt) <= 3:
            raise BenchError(f"-p {opt}: write -p no:NAME to block plugin NAME")
        blocked.append(opt[3:])
    if show_tb:
        os.environ["BENCH_TRACEBACK"] = "1"
    manager = Manager(blocked=blocked, trace=trace_hooks)
    unknown = [b for b in blocked if b not in manager.plugins and b not in manager.skipped]
    if unknown:
        raise BenchError(f"-p no:{unknown[0]}: no plugin named '{unknown[0]}'; installed: "
                         f"{', '.join(sorted({*manager.plugins, *manager.skipped}))}")
    set_manager(manager)
    ctx.obj = {"manager": manager}


@cli.command()
@click.option("--suite", default=None, metavar="NAME[:k=v,...]",
              help="Run a named suite (bench list suites): quick (what a bare `bench run` "
                   "runs: samples), full (every shipped corpus), nab, tsb-ad.")
@click.option("-d", "--dataset", "datasets", multiple=True, metavar="NAME[:k=v,...]",
              help="Dataset (repeatable).  Default (no -d, -m or --suite): the quick suite; "
                   "with -m only: every built-in dataset's shipped sample.")
@click.option("-m", "--detector", "detectors", multiple=True, metavar="NAME[:k=v,...]",
              help="Detector (repeatable).  Default: every registered detector.")
@click.option("--threshold", "thresholds", multiple=True, metavar="NAME[:k=v,...]",
              help="Threshold strategy (repeatable; default: each dataset's declared one, "
                   "best_f1 unless it declares another; hpc: min_cost).  'oracle' is reported "
                   "separately as ORACLE.")
@click.option("--cost", "costs", multiple=True, metavar="NAME[:k=v,...]",
              help=f"Cost model (repeatable; default {api.DEFAULT_COST}).  The first one "
                   "drives min_cost.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME[:k=v,...]",
              help="Metric (repeatable), e.g. vus_roc:window=50.  Default: the default metric "
                   "set.")
@click.option("--seed", "seeds", multiple=True, type=int, help="Seed (repeatable; default 0).")
@click.option("--protocol", default=None, metavar="NAME", callback=lambda c, p, v: _protocol(v),
              help="A registered protocol (bench list protocols): unsupervised: fit on every "
                   "training row, labels unused; semi-supervised: fit on the normal training rows "
                   "(labels used); tsb-ad: TSB-AD's procedure (fit and evaluate the whole series, "
                   "VUS window = each series' period); nab: NAB's.  Default: each dataset's "
                   "declared protocol (bench list datasets), else unsupervised.")
@click.option("--train-on", type=click.Choice(["normal", "all"]), default=None,
              help="Alias: normal = --protocol semi-supervised, all = unsupervised.")
@click.option("--window", type=_WindowType(), default=None, metavar="ROWS|period",
              help="Run row detectors (iforest, kde, third-party) on causal sliding windows of "
                   "ROWS rows (1 = never), or of each univariate series' dominant period "
                   "('period', as TSB-AD's Sub-* detectors).  Default: 32 on univariate series "
                   "for the built-ins.")
@click.option("--no-standardize", is_flag=True, help="Do not standardise inputs per series.")
@click.option("--executor", default=None,
              help="How cells run: inline (default), process (isolated workers, timeouts, "
                   "memory limits; default with -j > 1) or dask; see bench list executors.")
@click.option("-j", "--jobs", type=int, default=None, help="Parallel workers for the executor.")
@click.option("--timeout", type=float, default=None, metavar="SECONDS",
              help="Wall-clock limit per cell (executors that isolate cells).")
@click.option("--memory-limit", default=None, metavar="SIZE",
              help="Memory limit per cell, e.g. 2GB (executors that isolate cells).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address for --executor dask (default: a LocalCluster).")
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the run record (JSON).")
@click.option("--format", "fmt", default="github", show_default=True,
              type=click.Choice(FORMATS), metavar="FORMAT",
              help="Leaderboard format: any tabulate format, csv or json (one object per cell).")
@click.option("--wide", is_flag=True,
              help="Every metric, cost and timing in the tables (default: fits 100 columns).")
@click.option("--force", is_flag=True,
              help="Refit every cell even when its scores are stored under --out/scores.")
@click.option("--no-chance", is_flag=True,
              help="With -m: leave out the chance rows (random over seeds 0-9 and constant on "
                   "each dataset) that a grid naming its detectors gets by default.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show cells as they start and detectors' training progress.")
@click.pass_context
def run(ctx, suite, datasets, detectors, thresholds, costs, metrics, seeds, protocol, train_on,
        window, no_standardize,
        executor, jobs, timeout, memory_limit, scheduler, out, fmt, wide, force, no_chance, quiet,
        verbose):
    """Run every dataset x detector cell and print leaderboards (stdout); progress on stderr."""
    manager = _manager(ctx)
    api.warn_problems(manager)
    from . import suites

    notes: list[str] = []
    cells, suite_ = suites.for_run(
        manager, suite, datasets, detectors, seeds,
        Protocol(protocol or "", standardize=not no_standardize, window=window,
                 train_on=train_on),
        thresholds=thresholds, costs=costs, metrics=metrics, notes=notes, chance=not no_chance)
    for line in notes:
        _log(f"bench: note: {line}")
    from .executors import default_executor, parse_size
    from .progress import Progress

    executor = default_executor(executor, jobs)
    manager.get("executor", executor)  # unknown names fail before any work
    parse_size(memory_limit)
    checks.positive_count("--jobs", jobs)
    checks.positive_seconds("--timeout", timeout)
    if out is not None:
        checks.output_dir(out, "--out")
    options = {k: v for k, v in {"jobs": jobs, "timeout": timeout, "memory_limit": memory_limit,
                                 "scheduler": scheduler}.items() if v is not None}
    if not manager.get("executor", executor).meta.get("isolates"):
        api.preflight(cells, manager)  # isolating executors load datasets in their workers
    if not quiet:
        seeds_ = sorted({c.seed for c in cells})
        _log(f"bench: {len(cells)} cells "
             f"({len({str(c.dataset) for c in cells})} datasets, "
             f"{len({str(c.detector) for c in cells})} detectors, "
             f"seeds {seeds_[0]}" + (f"-{seeds_[-1]}" if len(seeds_) > 1 else "")
             + f"), executor {executor}")
    with Progress(len(cells), mode="quiet" if quiet else "auto", verbose=verbose) as prog:
        record = api.run(cells, out=out, executor=executor, executor_options=options,
                         manager=manager, listeners=[prog], reuse=not force)
    click.echo(render(record, fmt, manager, wide=wide), nl=False)
    if not quiet:
        reused = sum(c.reused for c in record.cells)
        note = f", {reused} re-evaluated from the score store" if reused else ""
        where = f"; record: {Path(out) / (record.run_id + '.json')}" if out else ""
        _log(f"bench: {prog.summary()}{note}{where}")
        if suite_ is not None and suites.ending(suite_, len(cells)):
            _log(suites.ending(suite_, len(cells)))
    failed = [c for c in record.cells if not c.ok]
    if failed:  # exit status 3: the run finished, some cells did not (README: exit status)
        _log(f"bench: {len(failed)} of {len(record.cells)} cells failed (exit status 3); "
             f"first: {failed[0].identity}: {failed[0].status}: {failed[0].error}")
        ctx.exit(3)


@cli.command()
@click.argument("record", type=click.Path())
@click.option("--format", "fmt", default="github", show_default=True, type=click.Choice(FORMATS),
              metavar="FORMAT", help="Any tabulate format, csv or json.")
@click.option("--wide", is_flag=True,
              help="Every metric, cost and timing in the tables (default: fits 100 columns).")
@click.pass_context
def leaderboard(ctx, record, fmt, wide):
    """Print the leaderboards of a run RECORD (a JSON file, or a directory: its newest run)."""
    rec = records.load(record)
    if not rec.complete:
        _log(f"bench: warning: partial results: {rec.incomplete_reason()}")
    warn_impossible(rec, _log)
    click.echo(render(rec, fmt, _manager(ctx), wide=wide), nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.pass_context
def plugins(ctx, as_json):
    """List installed plugins: name, version, hooks and what each registers."""
    manager = _manager(ctx)
    info = api.plugins_info(manager)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        from tabulate import tabulate

        rows = [[p["name"], p["version"], p["module"], ", ".join(p["hooks"]),
                 "; ".join(f"{k}: {', '.join(v)}" for k, v in p["provides"].items())
                 or p.get("error", "")] for p in info]
        click.echo(tabulate(rows, headers=["plugin", "version", "module", "hooks", "registers"],
                            maxcolwidths=[None, None, None, None, 70]))
        for name, why in sorted(manager.skipped.items()):
            _log(f"bench: plugin '{name}' not loaded ({why})")
    api.warn_problems(manager)


_LIST_KINDS = {"datasets": "dataset", "detectors": "detector", "metrics": "metric",
               "suites": "suite",
               "costs": "cost", "thresholds": "threshold", "executors": "executor",
               "protocols": "protocol"}


def _protocol(name: str | None) -> str | None:
    """``--protocol NAME`` checked against the registered protocols (bench.protocols)."""
    if name is not None:
        from . import protocols

        try:
            protocols.get(name)
        except BenchError as exc:
            raise click.BadParameter(str(exc), param_hint="--protocol") from None
    return name


@cli.command(name="list")
@click.argument("what", type=click.Choice(sorted(_LIST_KINDS)))
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@click.pass_context
def list_(ctx, what, name, as_json):
    """List registered datasets, detectors, metrics, costs, thresholds, executors or protocols,
    one line each; with NAME, that one's description and parameters."""
    from . import listing

    if what == "protocols":  # not plugins: bench.protocols' registry
        click.echo(listing.protocols(name, as_json))
        return
    manager = _manager(ctx)
    kind = _LIST_KINDS[what]
    entries = list(manager.registry(kind))
    if name is not None:
        entries = [listing.find(entries, kind, name)]
    if as_json:
        data = listing.as_json(entries)
        click.echo(json.dumps(data[0] if name else data, indent=2, default=str))
    else:
        shown = listing.details(entries[0]) if name else listing.lines(entries, kind)
        click.echo("\n".join(shown))
    api.warn_problems(manager)


# ----------------------------------------------------------------------------- more commands
# Commands that live in their own modules are added here.
from .cli_records import (  # noqa: E402, F401  (re-exported)
    _allow_options,
    _gate,
    _known_metrics,
    _tolerances,
    baseline,
    baseline_check_cmd,
    baseline_update_cmd,
    compare_cmd,
    history,
    report,
    warn_impossible,
)
from .fetch import fetch_command  # noqa: E402

cli.add_command(compare_cmd)  # named compare
cli.add_command(baseline)
cli.add_command(history)
cli.add_command(report)
cli.add_command(fetch_command, "fetch")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and exit status 1.  The ``bench``
    command (``argv`` None): once its work is done, SIGINT/SIGTERM have their default action
    (a signal then ends the process by that signal: the shell's 128 + signum), and it does not
    wait for threads a plugin left running (see :func:`bench.executors.left_threads`)."""
    exited, code = False, None
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} \
        if main_thread else {}
    try:
        try:
            _main(argv)
        except SystemExit as exc:
            exited, code = True, exc.code
        finally:  # in-process callers (tests, scripts) get their handlers back; the command
            if main_thread:  # the default action from here (switched with both blocked)
                stop = {signal.SIGINT, signal.SIGTERM}
                if argv is None:
                    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
                for signum in stop:
                    signal.signal(signum, previous[signum] if argv is not None
                                  else signal.SIG_DFL)
    except KeyboardInterrupt as exc:  # a signal after _main's own handling
        exited, code = True, 128 + getattr(exc, "signum", 2)
    if argv is None and main_thread:
        # a request recorded but never raised (a handler's raise swallowed, or a handler
        # replaced before it ran) still stops the command
        signum = stop_requested() or max(signal.sigpending() & stop, default=0)
        if signum and not code:
            exited, code = True, 128 + signum
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop)  # a pending one now ends it
    if argv is not None:
        if exited:
            sys.exit(code)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    executors = sys.modules.get("bench.executors")
    if executors is not None and executors.left_threads():
        os._exit(0 if code is None else code if isinstance(code, int) else 1)
    sys.exit(code)


def _main(argv: list[str] | None) -> None:
    from .memory import own_process

    own_process()
    if threading.current_thread() is threading.main_thread():  # see bench.errors.early_stop
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, early_stop)
    try:
        if argv is None:  # the command: a signal while importing (bench._entry recorded it)
            checkpoint()  # stops here
        rc = cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        if os.environ.get("BENCH_TRACEBACK", "") not in ("", "0"):
            traceback.print_exc()
        click.echo(f"bench: error: {exc}", err=True)
        sys.exit(1)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        click.echo("bench: interrupted; finished cells are in the record, rerun to resume",
                   err=True)
        signum = getattr(exc, "signum", 0) or getattr(exc.__cause__, "signum", 2)  # click's
        sys.exit(128 + signum)  # Abort hides the Interrupted; 130 for Ctrl-C, 143 for SIGTERM
    except click.ClickException as exc:  # a usage error: one line, status 1 (as the README says)
        cmd = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "bench"
        click.echo(f"bench: error: {exc.format_message()} (see `{cmd} --help`)", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    if isinstance(rc, int) and rc:
        sys.exit(rc)


if __name__ == "__main__":  # pragma: no cover
    main()
