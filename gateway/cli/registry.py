"""Where each command module is listed, so adding a command touches one line here.

Entries are ``(command name, "module:attribute")``; the attribute is a Typer group (added as a
sub-command group) or a plain function (added as a command). Imported lazily at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import typer

COMMANDS: list[tuple[str, str]] = [
    ("demo", "gateway.cli.demo:demo"),
    ("outbox", "gateway.cli.outbox:app"),
    ("serve", "gateway.cli.serve:serve"),
    ("sync", "gateway.cli.sync:sync"),
    ("issue", "gateway.cli.sync:issue"),
    ("runs", "gateway.cli.sync:runs"),
    ("quarantine", "gateway.cli.sync:quarantine_app"),
    ("credits", "gateway.cli.credits:app"),
    ("check", "gateway.cli.intake:check"),
    ("submit", "gateway.cli.intake:submit"),
    ("worker", "gateway.cli.jobs:worker"),
    ("jobs", "gateway.cli.jobs:app"),
    ("verify", "gateway.cli.outward:verify"),
    ("recognise", "gateway.cli.outward:recognise"),
    ("credentials", "gateway.cli.outward:credentials_app"),
    ("learners", "gateway.cli.outward:learners_app"),
    ("users", "gateway.cli.users:app"),
]


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def typers() -> Iterator[tuple[str, typer.Typer]]:
    for name, target in COMMANDS:
        obj = _resolve(target)
        if isinstance(obj, typer.Typer):
            yield name, obj


def commands() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, target in COMMANDS:
        obj = _resolve(target)
        if not isinstance(obj, typer.Typer):
            yield name, obj
