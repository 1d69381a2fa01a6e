"""Output and exit codes shared by every command.

Exit codes: 0 done; 1 done, with failures (some organization or row failed); 2 bad input or
usage; 3 configuration error. Every reporting command takes ``--json`` and then prints exactly
one JSON document on stdout (errors go to stderr, masked).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gateway.errors import XgateError
from gateway.masking import mask_text

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_INPUT = 2
EXIT_CONFIG = 3

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def print_json(data: Any) -> None:
    """One JSON document on stdout. Reports are masked as a whole: an error text or a reason
    that quotes an ID number or a mobile is masked here even if its producer forgot."""
    sys.stdout.write(dumps(_masked(data)) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    tbl = Table(title=title, show_lines=False)
    for col in columns:
        tbl.add_column(col)
    for row in rows:  # cells are text, never markup: a value like "[/x]" must print as it is
        tbl.add_row(*(Text("" if v is None else str(v)) for v in row))
    if console.is_terminal:
        console.print(tbl)
        return
    # redirected to a file or a pipe: the whole table, never cut to an assumed 80 columns
    width = Console(width=10_000, file=io.StringIO()).measure(tbl).maximum
    Console(file=console.file, width=max(width, 20), no_color=console.no_color).print(tbl)


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    err_console.print(Text("error: ", style="bold red") + Text(mask_text(message)), highlight=False)
    raise typer.Exit(code)


def write_private(path: Path, text: str) -> None:
    """Write a file that holds personal data (mode 0600, ``gateway.private_files``); a path
    that cannot be written is exit 2 naming it, never a traceback."""
    from gateway import private_files

    try:
        private_files.write_text(path, text)
    except OSError as exc:
        fail(f"cannot write {path}: {exc}", EXIT_INPUT)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine and turn the core's typed errors into messages and exit codes."""
    try:
        return asyncio.run(factory())
    except XgateError as exc:
        fail(str(exc), getattr(exc, "exit_code", EXIT_FAILURES))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:
        # the database refused: say so, masked, without a traceback (SQLAlchemy is imported
        # only by commands that use a database, so it is looked up, not imported, here)
        database = sys.modules.get("sqlalchemy.exc")
        if database is None or not isinstance(exc, database.SQLAlchemyError):
            raise
        reason = getattr(exc, "orig", None) or exc
        fail(f"database error: {type(reason).__name__}: {reason}", EXIT_FAILURES)
