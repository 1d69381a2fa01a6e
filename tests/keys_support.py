"""The test session's key file: one set of keys, written to a temporary folder by conftest.

Tests that need the hash the gateway computes use ``KEYS.hash_id``; subprocesses find the file
through ``XGATE_KEYS`` (set for the whole session) or ``DbTarget.env()``.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.keys import ENV, Keys, generate, write

KEYS: Keys = generate()


def install(folder: Path) -> Path:
    """Write the session's key file into ``folder`` (0600) and point ``XGATE_KEYS`` at it."""
    path = write(KEYS, folder / "xgate.keys")
    os.environ[ENV] = str(path)
    return path


def hash_id(number: str) -> str:
    """``id_hash`` as the gateway computes it with the session's keys."""
    return KEYS.hash_id(number)
