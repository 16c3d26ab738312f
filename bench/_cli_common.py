"""What the modules of the `bench` command line share (:mod:`bench.cli` re-exports it)."""

from __future__ import annotations

import click

from .plugins import Manager


def _manager(ctx: click.Context) -> Manager:
    return ctx.obj["manager"]


def _log(msg: str) -> None:
    click.echo(msg, err=True)
