"""Process-wide CLI state set by the global options (the settings file to read)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.runtime import Gateway

CONFIG: Path | None = None


def open_existing() -> AbstractAsyncContextManager[Gateway]:
    """The gateway on the configured database, which must exist already: a command never
    creates a database silently (only ``xgate db upgrade`` and ``xgate demo`` do); a missing
    one is a configuration error, exit 3."""
    from gateway.runtime import open_gateway

    return open_gateway(CONFIG, create=False)
