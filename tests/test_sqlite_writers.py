"""SQLite writers of one process queue on an asyncio lock (``Database.begin``): concurrent
page transactions all commit, none waits in SQLite's sleeping busy handler, and one Database
serves event loops one after another (as CLI commands and tests use it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from gateway.store import open_database
from gateway.store import tables as t


async def _writers(db: object, start: int, n: int) -> None:
    async def one(i: int) -> None:
        async with db.begin() as conn:  # type: ignore[attr-defined]
            await conn.execute(t.meta.insert().values(key=f"k{i}", value="v"))
            await asyncio.sleep(0)  # hold the write transaction across a loop turn

    await asyncio.gather(*(one(i) for i in range(start, start + n)))


def test_concurrent_writers_all_commit_across_event_loops(tmp_path: Path) -> None:
    async def opened() -> object:
        return await open_database(f"sqlite:///{tmp_path / 'w.db'}")

    db = asyncio.run(opened())
    started = datetime.now(UTC)
    asyncio.run(_writers(db, 0, 20))
    asyncio.run(_writers(db, 20, 20))  # a second loop: the first loop's lock is not reused

    async def count() -> int:
        async with db.connect() as conn:  # type: ignore[attr-defined]
            found = await conn.execute(
                select(func.count()).select_from(t.meta).where(t.meta.c.key.like("k%"))
            )
            await db.dispose()  # type: ignore[attr-defined]
            return int(found.scalar_one())

    assert asyncio.run(count()) == 40
    # 40 queued transactions on a local file: well under SQLite's busy-handler sleeps
    assert (datetime.now(UTC) - started).total_seconds() < 20
