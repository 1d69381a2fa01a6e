"""The ``xgate`` application: global options and the sub-command groups."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gateway._version import __version__
from gateway.cli import state
from gateway.cli.commands_core import config_app, db_app, plugins_app, schemas_app
from gateway.logs import configure_logging


class LogFormat(StrEnum):
    text = "text"
    json = "json"


app = typer.Typer(
    name="xgate",
    help="Integration gateway between a college and 1+X training-and-assessment organizations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(plugins_app, name="plugins")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xgate {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="settings file (default ./xgate.toml)")
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True)] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print version")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="log lines on stderr: text or json")
    ] = LogFormat.text,
) -> None:
    """Global options apply to every command."""
    level = logging.WARNING - 10 * min(verbose, 2)
    configure_logging(level, log_format.value)
    state.CONFIG = config


def _register_optional() -> None:
    """Command groups delivered by later modules register themselves here."""
    from gateway.cli import registry

    for name, sub in registry.typers():
        app.add_typer(sub, name=name)
    for name, fn in registry.commands():
        app.command(name)(fn)


_register_optional()


def run() -> None:
    app()
