"""A command group that imports a command's module only when that command runs.

Invariant: ``xgate --help`` lists every command (name and summary) without importing any
command module; ``xgate <command>`` imports that command's module and no other, and a command
module imports at its top only what its help needs (Typer, ``gateway.cli``): the database,
HTTP, spreadsheet libraries and the models are imported inside the command that uses them, so
``xgate <command> --help`` never loads them (``tests/test_cli_startup.py``). A command whose
summary is not in ``registry.SUMMARIES`` is imported to show its help (correct, only slower),
and ``tests/test_cli_startup.py`` checks that every summary equals the command's own help.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from gateway.cli import registry


def load_command(name: str, target: str) -> Any:
    """The (Typer's click) command for a registry entry: a Typer group or a plain function."""
    obj = registry.resolve(target)
    if isinstance(obj, typer.Typer):
        group = typer.main.get_group(obj)
        group.name = name
        return group
    holder = typer.Typer()
    holder.command(name)(obj)
    return typer.main.get_command(holder)


class LazyGroup(TyperGroup):
    """``TyperGroup`` whose registry commands are loaded on first use (see module doc)."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        return names + [name for name, _ in registry.COMMANDS if name not in self.commands]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = dict(registry.COMMANDS).get(cmd_name)
        if target is None:
            return None
        summary = registry.SUMMARIES.get(cmd_name)
        if self._listing and summary is not None:
            return TyperCommand(cmd_name, help=summary)
        command = load_command(cmd_name, target)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
