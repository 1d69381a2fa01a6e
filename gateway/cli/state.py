"""Process-wide CLI state set by the global options (the settings file to read)."""

from __future__ import annotations

from pathlib import Path

CONFIG: Path | None = None
