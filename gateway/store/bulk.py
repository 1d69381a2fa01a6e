"""Bulk inserts handed straight to the driver as prebuilt parameter tuples (SQLite:
``executemany`` and multi-row ``VALUES``; PostgreSQL: ``COPY`` and arrays, ``pgbulk``).

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
from itertools import chain
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect, processors
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
        marks = ", ".join("?" for _ in columns)  # SQLite's statement: PostgreSQL's are pgbulk's
        names = ", ".join(quote.quote(c) for c in columns)
        found = _Prepared(
            f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({marks})",
            tuple(table.c[c].type._cached_bind_processor(dialect) for c in columns),
        )
        _PREPARED[key] = found
    return found


def _processed(prepared: _Prepared, rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with every value through its column's bind processor (``_bound_columns``)."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows or all(p is None for p in prepared.processors):
        return rows
    return list(zip(*_bound_columns(prepared, rows), strict=True))


def _bound_columns(prepared: _Prepared, rows: Sequence[tuple[Any, ...]]) -> list[Sequence[Any]]:
    """The rows' columns, each through its column's bind processor. A page repeats values (its
    transaction time in every row, stamps, flags), so each column remembers what it processed,
    keyed by type, value and time zone (equal instants in two zones are stored differently); a
    processor that is one C call is simply called. Rows of another width are a ``ValueError``."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, process in enumerate(prepared.processors):
        if process is None:
            continue
        if process in _DIRECT:
            columns[i] = [None if v is None else process(v) for v in columns[i]]
        else:
            columns[i] = _memoised(process, columns[i])
    return columns


def _memoised(process: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """``process`` of each value, once per distinct value. The same object (a page's ``now``,
    ``True``) is found by identity first: every value is alive in ``values`` meanwhile."""
    by_id: dict[int, Any] = {}
    seen: dict[Any, Any] = {}
    out: list[Any] = []
    for value in values:
        if value is not None:
            done = by_id.get(id(value), _MISSING)
            if done is _MISSING:
                key = (value.__class__, value, getattr(value, "tzinfo", None))
                done = seen.get(key, _MISSING)
                if done is _MISSING:
                    done = seen[key] = process(value)
                by_id[id(value)] = done
            value = done
        out.append(value)
    return out


#: Processors cheaper to call than to look up (SQLite's decimals: ``float(value)`` in C).
_DIRECT: frozenset[Callable[[Any], Any]] = frozenset({processors.to_float})
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


# SQLite takes up to 32,766 parameters in one statement
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

    SQLite: one multi-row ``INSERT ... VALUES (...), (...) ON CONFLICT (key) DO NOTHING
    RETURNING`` per chunk of rows. PostgreSQL: the same statement over one array per column
    (``gateway.store.pgbulk``). Rows already stored return nothing.
    """
    if not rows:
        return []
    prepared = _prepare(conn.dialect, table, tuple(columns))
    if conn.dialect.name == "postgresql":
        arrays = _bound_columns(prepared, rows)
        return await pgbulk.insert_arrays_returning(
            conn, table, columns, arrays, key=key, returning=returning
        )
    params = _processed(prepared, rows)
    quote = conn.dialect.identifier_preparer
    head, _, _ = prepared.sql.partition(" VALUES ")
    tail = (
        f" ON CONFLICT ({', '.join(quote.quote(k) for k in key)}) DO NOTHING"
        f" RETURNING {', '.join(quote.quote(c) for c in returning)}"
    )
    width = len(columns)
    step = max(1, MAX_PARAMETERS // width)
    one = "(" + ", ".join("?" * width) + ")"
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(params), step):
        chunk = params[start : start + step]
        sql = f"{head} VALUES {', '.join(one for _ in chunk)}{tail}"
        flat = tuple(chain.from_iterable(chunk))
        result = await conn.exec_driver_sql(sql, flat)
        out.extend(tuple(r) for r in result)
    return out
