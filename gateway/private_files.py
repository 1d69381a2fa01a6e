"""Files that hold personal data are readable by their owner only (mode 0600).

Invariant: such a file never exists at its final path with wider permissions, not even for a
moment: ``prepare`` creates it empty with 0600 (or narrows an existing one) before anything is
written, and writers that open it afterwards ("wb", "w") keep that mode. Used for the SQLite
database, results workbooks, transcripts, exports and reports.
"""

from __future__ import annotations

import os
from pathlib import Path

MODE = 0o600


def prepare(path: Path) -> Path:
    """Create ``path`` empty with mode 0600, or narrow an existing file to 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
        os.close(fd)
    except FileExistsError:
        os.chmod(path, MODE)
    return path


def write_text(path: Path, text: str) -> Path:
    """``Path.write_text`` for a file that holds personal data."""
    prepare(path)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
