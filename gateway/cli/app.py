"""The ``xgate`` application: global options; every command loads lazily from the registry.

Built only when a command runs or help is asked for (``gateway.cli.main`` answers
``--version`` without it); no command module is imported here (``gateway.cli.lazy``).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gateway._version import __version__
from gateway.cli import state
from gateway.cli.lazy import LazyGroup

#: libraries whose DEBUG output is shown only at -vvv
NOISY_LIBRARIES = ("aiosqlite", "asyncio", "httpcore", "httpx", "hpack", "alembic")


class LogFormat(StrEnum):
    text = "text"
    json = "json"


app = typer.Typer(
    name="xgate",
    help="Integration gateway between a college and 1+X training-and-assessment organizations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xgate {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="settings file (default ./xgate.toml)")
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            metavar="",
            show_default=False,
            help="more log lines: -v info (and a plugin error's traceback), -vv debug, "
            "-vvv debug of the database and HTTP libraries too",
        ),
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print version")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="log lines on stderr: text or json")
    ] = LogFormat.text,
) -> None:
    """Global options apply to every command."""
    level = logging.WARNING - 10 * min(verbose, 2)
    from gateway.logs import configure_logging

    configure_logging(level, log_format.value)
    if verbose < 3:  # their DEBUG lines (every SQL call, every socket event) drown xgate's
        for noisy in NOISY_LIBRARIES:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    state.CONFIG = config


def run() -> None:
    app()
