"""Storage foundation: migrations, constraints (keys: test_keys.py). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from gateway.store import tables as t
from gateway.store.db import head_revision

pytestmark = pytest.mark.storage
NOW = datetime(2026, 1, 1, tzinfo=UTC)

EXPECTED = {
    "exam_plans",
    "registrations",
    "registration_events",
    "scores",
    "score_revisions",
    "certificates",
    "certificate_events",
    "sync_cursors",
    "sync_runs",
    "sync_run_streams",
    "learning_accounts",
    "credit_ledger",
    "learning_outcomes",
    "quarantine",
    "candidates",
    "submissions",
    "issue_requests",
    "xgate_meta",
    "alembic_version",
}


def test_the_head_constant_is_alembics_head() -> None:
    """``HEAD_REVISION`` saves every start Alembic's import; it must name the newest script."""
    from gateway.store.db import alembic_head

    assert head_revision() == alembic_head()


async def test_empty_database_is_migrated_on_first_use(db, db_target) -> None:
    assert await db.revision() == head_revision()
    async with db.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert names >= EXPECTED
    if db_target.schema:  # PostgreSQL: everything went into the test's own schema
        async with db.connect() as conn:
            names_in_schema = await conn.run_sync(
                lambda c: set(inspect(c).get_table_names(schema=db_target.schema))
            )
        assert names_in_schema >= EXPECTED


async def test_migrations_match_the_table_definitions(db) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def diff(conn):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(conn), t.metadata)

    async with db.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_registration_is_unique_per_candidate_and_plan(db) -> None:
    async with db.begin() as conn:
        cid = (
            await conn.execute(
                insert(t.candidates).returning(t.candidates.c.id),
                dict(
                    id_hash="h",
                    id_type="resident",
                    id_number="x",
                    name="n",
                    created_at=NOW,
                    updated_at=NOW,
                ),
            )
        ).scalar_one()
        row = dict(
            organization="o",
            plan_code="p",
            candidate_id=cid,
            status="pending",
            created_at=NOW,
            updated_at=NOW,
        )
        await conn.execute(insert(t.registrations), {**row, "idempotency_key": "k1"})
    with pytest.raises(IntegrityError):
        async with db.begin() as conn:
            await conn.execute(insert(t.registrations), {**row, "idempotency_key": "k2"})
    async with db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.registrations))).scalar() == 1


async def test_sqlite_uses_wal(db) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    async with db.connect() as conn:
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    assert mode == "wal"


async def test_sqlite_caches_and_checkpoints_for_bulk_syncs(db) -> None:
    """Every connection gets the larger page cache and the longer checkpoint interval."""
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    async with db.connect() as conn:
        cache = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
        checkpoint = (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar()
    assert (cache, checkpoint) == (-32768, 10000)


async def test_lookups_by_holder_use_an_index_after_the_redundant_ones_are_gone(db) -> None:
    """Revision 0011 dropped indexes that were prefixes of others; the look-ups they served
    (by holder, by score, by account) must still be index searches, never table scans."""
    if not db.is_sqlite:
        pytest.skip("SQLite's EXPLAIN QUERY PLAN")
    queries = {
        "scores": "SELECT * FROM scores WHERE id_hash IN ('a', 'b')",
        "certificates": "SELECT * FROM certificates WHERE id_hash = 'a'",
        "score_revisions": "SELECT * FROM score_revisions WHERE score_id = 1",
        "learning_outcomes": "SELECT * FROM learning_outcomes WHERE account_id = 1",
    }
    async with db.connect() as conn:
        for table, sql in queries.items():
            plan = " ".join(
                str(r[-1]) for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (table, plan)
        names = {r[0] for r in await conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert not names & {
        "ix_scores_id_hash",
        "ix_score_revisions_score_id",
        "ix_certificates_id_hash",
        "ix_learning_outcomes_account_id",
    }


async def test_revisions_0012_and_0013_keep_rows_references_and_history(
    db_target,
) -> None:
    """A database at 0011 holding scores at revision 2 and both their revision rows: after
    0012 the same rows with the same ids, the key (holder first) still unique, and the holder
    look-up an index search; after 0013 only the superseded revision rows remain (each still
    pointing at its score) and the score carries its run and when revision 1 was recorded."""
    from alembic import command
    from sqlalchemy.ext.asyncio import create_async_engine

    from gateway.store import open_database
    from gateway.store.db import _alembic_config, postgresql_settings

    args: dict = {}
    if db_target.schema:
        args["connect_args"] = {"server_settings": postgresql_settings(db_target.schema)}
    engine = create_async_engine(db_target.url, **args)
    stamp = datetime(2026, 6, 1, tzinfo=UTC)
    corrected = datetime(2026, 6, 3, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda c: command.upgrade(_alembic_config(c, db_target.schema), "0011")
            )
            for n in range(3):
                score_id = (
                    await conn.execute(
                        insert(t.scores).returning(t.scores.c.id),
                        {
                            "organization": "bf",
                            "plan_code": f"P{n}",
                            "id_hash": "h" * 64,
                            "revision": 2,
                            "revised_at": corrected,
                            "updated_at": corrected,
                            "rule_passed": n == 1,
                        },
                    )
                ).scalar_one()
                await conn.execute(
                    insert(t.score_revisions),
                    [
                        {
                            "score_id": score_id,
                            "revision": revision,
                            "revised_at": at,
                            "recorded_at": at,
                            "run_id": run,
                        }
                        for revision, at, run in ((1, stamp, 7), (2, corrected, 8))
                    ],
                )
            before = (await conn.execute(select(t.scores.c.id, t.scores.c.plan_code))).all()
    finally:
        await engine.dispose()
    database = await open_database(db_target.url, schema=db_target.schema)  # 0011 -> head
    try:
        assert await database.revision() == head_revision()
        async with database.connect() as conn:
            after = (await conn.execute(select(t.scores.c.id, t.scores.c.plan_code))).all()
            pointing = (
                await conn.execute(
                    select(func.count())
                    .select_from(t.score_revisions)
                    .join(t.scores, t.scores.c.id == t.score_revisions.c.score_id)
                )
            ).scalar()
            history = (
                await conn.execute(select(t.score_revisions.c.revision, t.score_revisions.c.run_id))
            ).all()
            current = (await conn.execute(select(t.scores.c.run_id, t.scores.c.recorded_at))).all()
        assert sorted(after) == sorted(before) and pointing == 3
        assert sorted(history) == [(1, 7)] * 3  # revision 2 is the scores row itself
        assert {(run, at.replace(tzinfo=at.tzinfo or UTC)) for run, at in current} == {(8, stamp)}
        with pytest.raises(IntegrityError):
            async with database.begin() as conn:
                await conn.execute(
                    insert(t.scores),
                    {
                        "organization": "bf",
                        "plan_code": "P1",
                        "id_hash": "h" * 64,
                        "revision": 1,
                        "revised_at": stamp,
                        "updated_at": stamp,
                        "recorded_at": stamp,
                    },
                )
        if database.is_sqlite:
            async with database.connect() as conn:
                plan = " ".join(
                    str(r[-1])
                    for r in await conn.exec_driver_sql(
                        "EXPLAIN QUERY PLAN SELECT * FROM scores WHERE id_hash = 'h'"
                    )
                )
                assert "USING INDEX" in plan, plan
                assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await database.dispose()
