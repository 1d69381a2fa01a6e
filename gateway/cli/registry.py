"""Where each command module is listed, so adding a command touches one line here.

Modules are imported lazily by name; each exposes ``app`` (a Typer group) or ``command``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import typer

#: (command name, module) pairs; a module exposing ``app`` becomes a group, ``command`` a command.
MODULES: list[tuple[str, str]] = []


def typers() -> Iterator[tuple[str, typer.Typer]]:
    for name, module in MODULES:
        mod = importlib.import_module(module)
        if hasattr(mod, "app"):
            yield name, mod.app


def commands() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, module in MODULES:
        mod = importlib.import_module(module)
        if not hasattr(mod, "app") and hasattr(mod, "command"):
            yield name, mod.command
