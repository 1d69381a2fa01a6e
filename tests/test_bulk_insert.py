"""Bulk inserts straight to the driver store exactly what SQLAlchemy Core's insert stores
(timestamps, decimals, booleans and NULLs read back identical), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from gateway.records import REVISION_COLUMNS
from gateway.store import tables as t
from gateway.store.bulk import insert_rows

pytestmark = pytest.mark.storage

STAMP = datetime(2026, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)
EAST8 = timezone(timedelta(hours=8))


async def _score(conn: Any, id_hash: str) -> int:
    row = {
        "organization": "bf",
        "plan_code": "P1",
        "id_hash": id_hash,
        "revision": 1,
        "revised_at": STAMP,
        "updated_at": STAMP,
        "recorded_at": STAMP,
    }
    result = await conn.execute(t.scores.insert().returning(t.scores.c.id), row)
    return int(result.scalar_one())


async def test_bulk_rows_read_back_like_core_rows(db: Any) -> None:
    values = [
        (1, Decimal("88.50"), Decimal("61"), Decimal("149.50"), True, False, STAMP, 7, STAMP),
        (2, None, None, None, None, True, STAMP, None, STAMP),
        # the same instant in another zone: SQLite stores the wall time, so a value cache
        # keyed by equality alone would store this row's stamp as the first one's
        (3, Decimal("1"), Decimal("1.00"), None, False, False, STAMP.astimezone(EAST8), 1, STAMP),
    ]
    async with db.begin() as conn:
        core_id, bulk_id = await _score(conn, "a" * 64), await _score(conn, "b" * 64)
        await conn.execute(
            t.score_revisions.insert(),
            [dict(zip(REVISION_COLUMNS, (core_id, *v), strict=True)) for v in values],
        )
        written = await insert_rows(
            conn, t.score_revisions, REVISION_COLUMNS, [(bulk_id, *v) for v in values]
        )
        assert written == 3
        assert await insert_rows(conn, t.score_revisions, REVISION_COLUMNS, []) == 0
    async with db.connect() as conn:
        rows = (await conn.execute(select(t.score_revisions))).mappings().all()

    def read(score_id: int) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in r.items() if k not in ("id", "score_id")}
            for r in sorted(rows, key=lambda r: r["revision"])
            if r["score_id"] == score_id
        ]

    assert len(rows) == 6
    assert read(bulk_id) == read(core_id)
    assert read(bulk_id)[0]["theory"] == Decimal("88.50")
    assert read(bulk_id)[1]["org_passed"] is None


async def test_insert_new_returning_adds_only_new_keys_and_stores_core_values(db: Any) -> None:
    """The page path (``INSERT ... ON CONFLICT DO NOTHING RETURNING``; on PostgreSQL one array
    per column through ``unnest``) returns exactly the rows it added and stores each value as
    Core does, whatever the page size."""
    from gateway.records import SCORE_KEY, SCORE_VALUES
    from gateway.store.bulk import insert_new_returning

    columns = (*SCORE_KEY, "revision", "run_id", "recorded_at", *SCORE_VALUES)

    def row(id_hash: str, plan: str, theory: Decimal | None) -> tuple[Any, ...]:
        values = ("C1", 2, theory, Decimal("61"), None, True, None, False, False)
        return ("bf", plan, id_hash, 1, 3, STAMP, *values, STAMP, "r-1", STAMP)

    async with db.begin() as conn:
        core_id = await _score(conn, "c" * 64)  # taken: (bf, P1, ccc...)
        first = [row(f"{i:064x}", "P2", Decimal(i) / 4) for i in range(700)]
        added = await insert_new_returning(
            conn, t.scores, columns, first, key=SCORE_KEY, returning=("id", "id_hash")
        )
        again = await insert_new_returning(
            conn,
            t.scores,
            columns,
            [*first[:3], row("c" * 64, "P1", None), row("d" * 64, "P2", Decimal("88.50"))],
            key=SCORE_KEY,
            returning=("id", "id_hash"),
        )
        assert (
            await insert_new_returning(
                conn, t.scores, columns, [], key=SCORE_KEY, returning=("id",)
            )
            == []
        )
        single = await insert_new_returning(  # one row: every column is "shared"
            conn,
            t.scores,
            columns,
            [row("e" * 64, "P3", Decimal("1"))],
            key=SCORE_KEY,
            returning=("id_hash", "theory", "run_id"),
        )
        assert [(h, Decimal(v), r) for h, v, r in single] == [("e" * 64, Decimal("1"), 3)]
    assert sorted(h for _, h in added) == sorted(f"{i:064x}" for i in range(700))
    assert [h for _, h in again] == ["d" * 64]
    async with db.connect() as conn:
        stored = {r["id_hash"]: r for r in (await conn.execute(select(t.scores))).mappings()}
    assert len(stored) == 703
    assert stored["c" * 64]["id"] == core_id and stored["c" * 64]["theory"] is None
    d = stored["d" * 64]
    assert (d["theory"], d["practical"], d["total"], d["org_passed"]) == (
        Decimal("88.50"),
        Decimal("61"),
        None,
        True,
    )
    assert d["revised_at"].replace(tzinfo=d["revised_at"].tzinfo or UTC) == STAMP
    assert dict(added)[stored[f"{5:064x}"]["id"]] == f"{5:064x}"


async def test_a_replayable_transaction_skips_only_its_own_commit_flush(db: Any) -> None:
    """``begin(replayable=True)`` (a pulled page with its cursor) lets PostgreSQL commit without
    waiting for the WAL flush, for that transaction only; every other stays synchronous."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's synchronous_commit")
    show = "SHOW synchronous_commit"
    async with db.begin(replayable=True) as conn:
        assert (await conn.exec_driver_sql(show)).scalar() == "off"
    async with db.begin() as conn:
        assert (await conn.exec_driver_sql(show)).scalar() == "on"
    async with db.connect() as conn:
        assert (await conn.exec_driver_sql(show)).scalar() == "on"
