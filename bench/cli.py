"""The `bench` command line: a thin click layer over :mod:`bench.api`."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

import click

from . import __version__, api, records
from .errors import BenchError
from .leaderboard import FORMATS, render
from .plugins import Manager, set_manager
from .runner import Protocol


def _manager(ctx: click.Context) -> Manager:
    return ctx.obj["manager"]


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
    set_manager(manager)
    ctx.obj = {"manager": manager}


def _log(msg: str) -> None:
    click.echo(msg, err=True)


@cli.command()
@click.option("-d", "--dataset", "datasets", multiple=True, metavar="NAME[:k=v,...]",
              help="Dataset (repeatable).  Default: every built-in dataset that ships its data.")
@click.option("-m", "--detector", "detectors", multiple=True, metavar="NAME[:k=v,...]",
              help="Detector (repeatable).  Default: every registered detector.")
@click.option("--threshold", "thresholds", multiple=True, metavar="NAME[:k=v,...]",
              help="Threshold strategy (repeatable; default min_cost).  'oracle' is reported "
                   "separately as ORACLE.")
@click.option("--cost", "costs", multiple=True, metavar="NAME[:k=v,...]",
              help=f"Cost model (repeatable; default {api.DEFAULT_COST}).  The first one "
                   "drives min_cost.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME",
              help="Metric (repeatable).  Default: the default metric set.")
@click.option("--seed", "seeds", multiple=True, type=int, help="Seed (repeatable; default 0).")
@click.option("--train-on", type=click.Choice(["normal", "all"]), default="normal",
              show_default=True, help="Train on the normal training rows only, or on all.")
@click.option("--no-standardize", is_flag=True, help="Do not standardise inputs per series.")
@click.option("--executor", default="inline", show_default=True,
              help="How cells run: inline, or another registered executor (bench list executors).")
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
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.pass_context
def run(ctx, datasets, detectors, thresholds, costs, metrics, seeds, train_on, no_standardize,
        executor, jobs, timeout, memory_limit, scheduler, out, fmt, quiet):
    """Run every dataset x detector cell and print leaderboards (stdout); progress on stderr."""
    manager = _manager(ctx)
    api.warn_problems(manager)
    cells = api.plan(
        datasets, detectors,
        thresholds=thresholds or (api.DEFAULT_THRESHOLD,),
        costs=costs or (api.DEFAULT_COST,),
        metrics=metrics, seeds=seeds or (0,),
        protocol=Protocol(train_on=train_on, standardize=not no_standardize),
        manager=manager,
    )
    t0 = time.perf_counter()
    api.preflight(cells, manager)
    if not quiet:
        _log(f"bench: {len(cells)} cells "
             f"({len({str(c.dataset) for c in cells})} datasets x "
             f"{len({str(c.detector) for c in cells})} detectors x "
             f"{len({c.seed for c in cells})} seeds)")

    def progress(cell, done, total):
        if quiet:
            return
        status = cell["status"] if cell["status"] == "ok" else \
            f"{cell['status'].upper()}: {cell.get('error', '').splitlines()[0][:120]}"
        _log(f"[{done}/{total}] {cell['dataset']} x {cell['detector']} seed={cell['seed']}: "
             f"{status} ({cell.get('wall_s', 0):.1f} s)")

    options = {k: v for k, v in {"jobs": jobs, "timeout": timeout, "memory_limit": memory_limit,
                                 "scheduler": scheduler}.items() if v is not None}
    record = api.run(cells, out=out, executor=executor, executor_options=options,
                     manager=manager, on_cell=progress)
    click.echo(render(record, fmt, manager), nl=False)
    if not quiet:
        failed = sum(c["status"] != "ok" for c in record["cells"])
        _log(f"bench: {len(record['cells'])} cells, {failed} failed, "
             f"{time.perf_counter() - t0:.1f} s; record: {record.get('_path')}")


@cli.command()
@click.argument("record", type=click.Path())
@click.option("--format", "fmt", default="github", show_default=True, type=click.Choice(FORMATS),
              metavar="FORMAT", help="Any tabulate format, csv or json.")
@click.pass_context
def leaderboard(ctx, record, fmt):
    """Print the leaderboards of a run RECORD (a JSON file, or a directory: its newest run)."""
    click.echo(render(records.load(record), fmt, _manager(ctx)), nl=False)


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
        click.echo(tabulate(rows, headers=["plugin", "version", "module", "hooks", "registers"]))
    api.warn_problems(manager)


_LIST_KINDS = {"datasets": "dataset", "detectors": "detector", "metrics": "metric",
               "costs": "cost", "thresholds": "threshold", "executors": "executor"}


@cli.command(name="list")
@click.argument("what", type=click.Choice(sorted(_LIST_KINDS)))
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.pass_context
def list_(ctx, what, as_json):
    """List registered datasets, detectors, metrics, costs, thresholds or executors."""
    from tabulate import tabulate

    from .params import parameters

    manager = _manager(ctx)
    kind = _LIST_KINDS[what]
    entries = list(manager.registry(kind))
    data = []
    for e in entries:
        try:
            params = {n: (None if p.default is p.empty else p.default)
                      for n, p in parameters(e.factory).items()}
        except (TypeError, ValueError):
            params = {}
        data.append({"name": e.name, "plugin": e.plugin, "description": e.description,
                     "params": params})
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        rows = [[d["name"], d["plugin"], ", ".join(f"{k}={v}" for k, v in d["params"].items()),
                 d["description"][:100]] for d in data]
        click.echo(tabulate(rows, headers=[kind, "plugin", "parameters", "description"]))
    api.warn_problems(manager)


# ----------------------------------------------------------------------------- more commands
# Commands that live in their own modules are added here, one line each:
#     from .fetch import fetch_command; cli.add_command(fetch_command, "fetch")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and exit status 1."""
    try:
        cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        if os.environ.get("BENCH_TRACEBACK", "") not in ("", "0"):
            traceback.print_exc()
        click.echo(f"bench: error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("bench: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
