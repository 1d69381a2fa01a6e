"""PostgreSQL bulk paths: a page's rows reach the server as data, not as statement text.

Invariant: a row written here is stored exactly as ``gateway.store.bulk`` would store it on
PostgreSQL (the values have been through the columns' bind processors there; asyncpg encodes
them itself either way), and inside the caller's transaction: the rows commit or roll back
with the page.

Why: a multi-row ``INSERT ... VALUES`` of 500 rows carries 8,000 parameters, and with custom
plans forced (``gateway.store.db.postgresql_settings``) the server parsed and planned that
statement anew for every page; ``executemany`` sends a message per row. Here:

- rows that are simply added go through ``COPY`` (asyncpg's binary ``copy_records_to_table``);
- rows that may already be stored go as one array per column into
  ``INSERT ... SELECT * FROM unnest($1::type[], ...) ON CONFLICT DO NOTHING RETURNING``: one
  statement of a handful of parameters whatever the page size, planned in microseconds, that
  inserts the new rows and reads their ids back in the same round trip (no staging table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

_UNNEST: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], str] = {}


async def copy_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) with one ``COPY``; the count."""
    if rows:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection  # asyncpg's connection, in the same transaction
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
    return len(rows)


def _unnest_sql(
    conn: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    cache_key = (table.name, columns, key, returning)
    sql = _UNNEST.get(cache_key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        arrays = ", ".join(
            f"${i}::{table.c[c].type.compile(dialect=conn.dialect)}[]"
            for i, c in enumerate(columns, start=1)
        )
        sql = _UNNEST[cache_key] = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)})"
            f" SELECT * FROM unnest({arrays})"
            f" ON CONFLICT ({', '.join(quote(k) for k in key)}) DO NOTHING"
            f" RETURNING {', '.join(quote(c) for c in returning)}"
        )
    return sql


async def insert_arrays_returning(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    arrays: Sequence[Sequence[Any]],
    *,
    key: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert the rows given as one array per column (in ``columns`` order) whose ``key`` is
    not taken; ``returning`` of the rows inserted."""
    sql = _unnest_sql(conn, table, tuple(columns), tuple(key), tuple(returning))
    result = await conn.exec_driver_sql(sql, tuple(list(array) for array in arrays))
    return [tuple(r) for r in result]
