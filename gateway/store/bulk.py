"""Bulk inserts handed straight to the driver's ``executemany`` as prebuilt parameter tuples.

Invariant: a row written here is stored exactly as SQLAlchemy Core's ``insert()`` would store
it: every value goes through its column type's own bind processor for the dialect (on SQLite
timestamps become SQLAlchemy's text format and decimals floats; on PostgreSQL asyncpg encodes
the Python values itself). What is skipped is SQLAlchemy's per-row work: a parameter dictionary
per row, its key lookups and the statement's compilation (cached here per dialect, table and
columns). Every column the table needs must be given: no Python-side defaults are applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class _Prepared:
    sql: str
    processors: tuple[Callable[[Any], Any] | None, ...]


_PREPARED: dict[tuple[str, str, tuple[str, ...]], _Prepared] = {}


def _prepare(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Prepared:
    key = (dialect.name, table.name, columns)
    found = _PREPARED.get(key)
    if found is None:
        quote = dialect.identifier_preparer
        if dialect.paramstyle in ("numeric_dollar", "numeric"):
            marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        else:
            marks = ", ".join("?" for _ in columns)
        names = ", ".join(quote.quote(c) for c in columns)
        found = _Prepared(
            f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({marks})",
            tuple(table.c[c].type._cached_bind_processor(dialect) for c in columns),
        )
        _PREPARED[key] = found
    return found


async def insert_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) with one ``executemany``; the count."""
    prepared = _prepare(conn.dialect, table, tuple(columns))
    active = [(i, p) for i, p in enumerate(prepared.processors) if p is not None]
    params: list[Any] = []
    for row in rows:
        if active:
            values = list(row)
            for i, process in active:
                if values[i] is not None:
                    values[i] = process(values[i])
            row = tuple(values)
        params.append(row)
    if params:
        await conn.exec_driver_sql(prepared.sql, params)
    return len(params)
