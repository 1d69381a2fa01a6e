"""Reading the spreadsheets staff hand over: XLSX first, CSV second, as numbered rows.

What real files hold (see domain.md): CSV from Chinese Windows Excel in GBK (read as GB18030, its
superset), UTF-8 CSV with a BOM, title rows merged above the header, blank rows, full-width
characters and trailing spaces. Reading the file (format, encoding, delimiter) is the intake
reader's job (``gateway.intake.reader.spreadsheet_rows``); this module finds the header of
credit files and maps rows to fields. Rows keep the number Excel shows, so messages point at
the right line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import InputError

HEADER_SCAN_ROWS = 10


@dataclass(frozen=True)
class Sheet:
    """Data rows under the header: (Excel row number, field -> raw cell value)."""

    columns: dict[str, str]  # field -> header text as written in the file
    rows: list[tuple[int, dict[str, object]]]


def header_key(text: object) -> str:
    """How headers are compared: NFKC, lower case, no spaces, '*' (required marks) or '_'."""
    clean = unicodedata.normalize("NFKC", str(text or "")).lower()
    for ch in " \t\r\n*_/()（）":
        clean = clean.replace(ch, "")
    return clean


def _raw_rows(path: Path) -> list[tuple[int, list[object]]]:
    """The file's rows, read by the one spreadsheet reader (``gateway.intake.reader``): its
    encodings (UTF-8, UTF-8 with BOM, GB18030), format detection by content, and messages."""
    from gateway.intake.reader import spreadsheet_rows

    return [(number, list(row)) for number, row in spreadsheet_rows(path)]


def read_sheet(path: Path, aliases: Mapping[str, Iterable[str]], required: Iterable[str]) -> Sheet:
    """Find the header (within the first rows) and map each data row's cells to fields.

    ``aliases`` maps a field to the header spellings that mean it (Chinese and English).
    """
    if not path.exists():
        raise InputError(f"{path} does not exist")
    lookup = {header_key(a): name for name, names in aliases.items() for a in names}
    raw = _raw_rows(path)
    required = list(required)
    for pos, (_, cells) in enumerate(raw[:HEADER_SCAN_ROWS]):
        columns: dict[str, int] = {}
        written: dict[str, str] = {}
        for col, cell in enumerate(cells):
            name = lookup.get(header_key(cell))
            if name and name not in columns:
                columns[name] = col
                written[name] = str(cell).strip()
        if required and required[0] in columns and len(columns) >= min(3, len(required)):
            missing = [r for r in required if r not in columns]
            if missing:
                wanted = ", ".join(f"{r} ({'/'.join(list(aliases[r])[:2])})" for r in missing)
                raise InputError(f"{path.name}: missing column(s): {wanted}")
            rows = []
            for number, row in raw[pos + 1 :]:
                values = {n: row[c] if c < len(row) else None for n, c in columns.items()}
                if any(v not in (None, "") and str(v).strip() for v in values.values()):
                    rows.append((number, values))
            return Sheet(written, rows)
    first = "/".join(list(aliases[required[0]])[:2]) if required else "?"
    raise InputError(
        f"{path.name}: no header row found in the first {HEADER_SCAN_ROWS} rows "
        f"(looking for a {first} column) / 未找到表头"
    )
