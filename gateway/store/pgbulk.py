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
  ``INSERT ... SELECT ... FROM unnest($1::type[], ...) ON CONFLICT DO NOTHING RETURNING``: one
  statement of a handful of parameters whatever the page size, planned in microseconds, that
  inserts the new rows and reads their ids back in the same round trip (no staging table). A
  column with the same object in every row (the run, the time, the organization) is one
  parameter instead of an array: asyncpg checks and encodes an array element by element.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

_UNNEST: dict[
    tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[bool, ...]], str
] = {}


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
    shared: tuple[bool, ...],
) -> str:
    """The statement for ``columns``, a ``shared`` one as a single parameter, the others as
    arrays through ``unnest``; cached per table, columns and which are shared."""
    cache_key = (table.name, columns, key, returning, shared)
    sql = _UNNEST.get(cache_key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        picks: list[str] = []
        arrays: list[str] = []
        for i, (c, one) in enumerate(zip(columns, shared, strict=True), start=1):
            kind = table.c[c].type.compile(dialect=conn.dialect)
            if one:
                picks.append(f"${i}::{kind}")
            else:
                arrays.append(f"${i}::{kind}[]")
                picks.append(f"u.c{i}")
        names = ", ".join(f"c{i}" for i, one in enumerate(shared, start=1) if not one)
        sql = _UNNEST[cache_key] = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)})"
            f" SELECT {', '.join(picks)} FROM unnest({', '.join(arrays)}) AS u({names})"
            f" ON CONFLICT ({', '.join(quote(k) for k in key)}) DO NOTHING"
            f" RETURNING {', '.join(quote(c) for c in returning)}"
        )
    return sql


def _shared(arrays: Sequence[Sequence[Any]]) -> tuple[bool, ...]:
    """Which columns hold one object in every row (a page's run, its time, its organization,
    ``True``): those go as one parameter, not an array the driver encodes value by value.
    By identity, so equal values of different types (``1``, ``True``, ``Decimal(1)``) are
    never merged; the first column stays an array whatever it holds (``unnest`` needs one)."""
    shared = [len(a) > 0 and all(v is a[0] for v in a) for a in arrays]
    if shared:
        shared[0] = False
    return tuple(shared)


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
    not taken; ``returning`` of the rows inserted. A column with the same object in every row
    is sent once (``_shared``)."""
    shared = _shared(arrays)
    sql = _unnest_sql(conn, table, tuple(columns), tuple(key), tuple(returning), shared)
    params = tuple(
        array[0] if one else list(array) for array, one in zip(arrays, shared, strict=True)
    )
    result = await conn.exec_driver_sql(sql, params)
    return [tuple(r) for r in result]
