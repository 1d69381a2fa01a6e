"""The ``xgate`` entry point: answers ``--version`` before importing anything else.

Invariant: ``xgate --version`` imports the standard library and ``gateway._version`` only
(``tests/test_cli_startup.py`` checks the module list); every other invocation builds the
Typer application (``gateway.cli.app``), whose commands load their modules lazily.
"""

from __future__ import annotations

import sys
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from gateway.cli.main import app`` (tests, embedding)
        from gateway.cli.app import app

        return app
    raise AttributeError(f"module 'gateway.cli.main' has no attribute {name!r}")


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from gateway._version import __version__

        print(f"xgate {__version__}")
        return
    from gateway import heap

    heap.starting()
    from gateway.cli.app import app

    app()
