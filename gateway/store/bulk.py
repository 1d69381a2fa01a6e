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

from gateway.store import pgbulk


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


def _processed(prepared: _Prepared, rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with every value through its column's bind processor. A page repeats values (its
    transaction time in every row, stamps, flags), so each column remembers what it processed,
    keyed by type, value and time zone (equal instants in two zones are stored differently)."""
    active: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
        (i, p, {}) for i, p in enumerate(prepared.processors) if p is not None
    ]
    if not active:
        return list(rows)
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i, process, seen in active:
            value = values[i]
            if value is not None:
                key = (value.__class__, value, getattr(value, "tzinfo", None))
                done = seen.get(key, _MISSING)
                if done is _MISSING:
                    done = seen[key] = process(value)
                values[i] = done
        params.append(tuple(values))
    return params


_MISSING = object()


async def insert_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) with one ``executemany``; the count."""
    prepared = _prepare(conn.dialect, table, tuple(columns))
    params = _processed(prepared, rows)
    if conn.dialect.name == "postgresql":
        return await pgbulk.copy_rows(conn, table, columns, params)
    if params:
        await conn.exec_driver_sql(prepared.sql, params)
    return len(params)


# both drivers take up to 32,767 parameters in one statement
MAX_PARAMETERS = 32_000


async def insert_new_returning(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert the rows whose ``key`` is not taken; ``returning`` of the rows inserted.

    One multi-row ``INSERT ... VALUES (...), (...) ON CONFLICT (key) DO NOTHING RETURNING`` per
    chunk of rows (SQLite and PostgreSQL); rows already stored return nothing.
    """
    prepared = _prepare(conn.dialect, table, tuple(columns))
    params = _processed(prepared, rows)
    if conn.dialect.name == "postgresql":
        return await pgbulk.insert_new_returning(
            conn, table, columns, params, key=key, returning=returning
        )
    quote = conn.dialect.identifier_preparer
    head, _, _ = prepared.sql.partition(" VALUES ")
    tail = (
        f" ON CONFLICT ({', '.join(quote.quote(k) for k in key)}) DO NOTHING"
        f" RETURNING {', '.join(quote.quote(c) for c in returning)}"
    )
    numbered = conn.dialect.paramstyle in ("numeric_dollar", "numeric")
    width = len(columns)
    step = max(1, MAX_PARAMETERS // width)
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(params), step):
        chunk = params[start : start + step]
        if numbered:
            groups = (
                "(" + ", ".join(f"${r * width + i + 1}" for i in range(width)) + ")"
                for r in range(len(chunk))
            )
        else:
            one = "(" + ", ".join("?" * width) + ")"
            groups = (one for _ in chunk)
        sql = f"{head} VALUES {', '.join(groups)}{tail}"
        flat = tuple(value for row in chunk for value in row)
        result = await conn.exec_driver_sql(sql, flat)
        out.extend(tuple(r) for r in result)
    return out
