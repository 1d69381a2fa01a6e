"""``among``: the same rows as ``IN``; on PostgreSQL one array parameter, so one statement text
whatever a page's number of keys (the statement cache holds one entry, not one per size)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from gateway.store import tables as t
from gateway.store.among import among

pytestmark = pytest.mark.storage
NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_among_matches_what_in_matches(db: Any) -> None:
    accounts = t.learning_accounts
    hashes = [f"{i:064x}" for i in range(40)]
    async with db.begin() as conn:
        await conn.execute(
            accounts.insert(),
            [
                {"id_hash": h, "id_masked": "1****1", "kind": "student", "created_at": NOW}
                for h in hashes
            ],
        )
        for wanted in (hashes[:1], hashes[5:25], [*hashes[30:], "f" * 64], []):
            found = await conn.execute(
                select(accounts.c.id_hash).where(among(conn.dialect, accounts.c.id_hash, wanted))
            )
            assert sorted(r.id_hash for r in found) == sorted(set(wanted) & set(hashes))


def test_one_statement_text_whatever_the_number_of_keys_on_postgresql() -> None:
    dialect = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
    column = t.scores.c.id_hash

    def compiled(n: int) -> Any:
        return (
            select(t.scores.c.id).where(among(dialect, column, ["a"] * n)).compile(dialect=dialect)
        )

    small, large = compiled(3), compiled(500)
    assert str(small) == str(large)
    assert "ANY" in str(small)
    assert len(small.params) == len(large.params) == 1
