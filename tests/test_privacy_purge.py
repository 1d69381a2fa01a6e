"""``xgate privacy purge``: what is no longer needed goes, the pseudonymous ledger stays."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.models import Candidate
from gateway.people import upsert_candidates
from gateway.records import quarantine
from gateway.store import open_database
from gateway.store import tables as t
from gateway.web.uploads import UploadStore
from tests.credit_support import write_csv
from tests.idgen import make_ids
from tests.keys_support import KEYS

pytestmark = pytest.mark.storage
OLD = datetime(2025, 3, 1, tzinfo=UTC)
RECENT = datetime(2026, 6, 1, tzinfo=UTC)
runner = CliRunner()


def on_db(target: Any, work: Any) -> Any:
    async def go() -> Any:
        db = await open_database(target.url, schema=target.schema)
        try:
            async with db.begin() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_purge_removes_what_is_no_longer_needed_and_is_audited(
    db_target: Any, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    env = {**db_target.env(), "XGATE_CONSOLE__UPLOAD_DIR": str(uploads)}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    registered, forgotten, fresh = make_ids(3, seed=33)
    csv = write_csv(tmp_path / "c.csv", [[forgotten, "乙", "课程", "GE1", "英语", 2, "2025-01-02"]])
    assert runner.invoke(app, ["credits", "import", str(csv)], env=env).exit_code == 0

    async def seed(conn: Any) -> None:
        ids = await upsert_candidates(
            conn,
            [Candidate(id_number=n, name=f"生{i}") for i, n in enumerate((registered, forgotten))],
            KEYS,
            OLD,
        )
        await upsert_candidates(conn, [Candidate(id_number=fresh, name="丙")], KEYS, RECENT)
        await conn.execute(
            t.registrations.insert(),
            {
                "idempotency_key": "k",
                "organization": "o",
                "plan_code": "P",
                "candidate_id": ids[KEYS.hash_id(registered)],
                "status": "accepted",
                "created_at": OLD,
                "updated_at": OLD,
            },
        )
        await quarantine(conn, "o", "scores", None, [('{"m": "13900001111"}', "bad")], OLD, KEYS)
        await quarantine(conn, "o", "scores", None, [('{"m": "13900002222"}', "bad")], RECENT, KEYS)

    on_db(db_target, seed)
    store = UploadStore(uploads, timedelta(days=3650))  # the console would keep both
    store.save("old.xlsx", b"x", 1, OLD)
    store.save("new.xlsx", b"x", 1, datetime.now(UTC))

    result = runner.invoke(
        app, ["privacy", "purge", "--before", "2026-01-01", "--dry-run", "--json"], env=env
    )
    counts = json.loads(result.stdout)
    assert result.exit_code == 0 and (counts["candidates"], counts["quarantine_payloads"]) == (1, 1)

    result = runner.invoke(app, ["privacy", "purge", "--before", "2026-01-01", "--json"], env=env)
    done = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert (done["candidates"], done["quarantine_payloads"], done["uploads"]) == (1, 1, 1)

    async def after(conn: Any) -> dict[str, Any]:
        c, q = t.candidates.c, t.quarantine.c
        return {
            "people": set((await conn.execute(select(c.id_hash))).scalars()),
            "payloads": [r.payload for r in await conn.execute(select(q.payload).order_by(q.id))],
            "ledger": (
                await conn.execute(select(func.count()).select_from(t.credit_ledger))
            ).scalar_one(),
            "account": (
                await conn.execute(
                    select(t.learning_accounts.c.id_masked).where(
                        t.learning_accounts.c.id_hash == KEYS.hash_id(forgotten)
                    )
                )
            ).scalar_one(),
            "audit": [
                (r.action, r.details)
                for r in await conn.execute(
                    select(t.audit_log).where(t.audit_log.c.action == "privacy.purge")
                )
            ],
        }

    state = on_db(db_target, after)
    assert state["people"] == {KEYS.hash_id(registered), KEYS.hash_id(fresh)}
    assert state["payloads"][0] == "" and state["payloads"][1].startswith("x1:")
    assert state["ledger"] == 1 and "*" in state["account"]  # the ledger stays
    assert state["audit"] == [
        ("privacy.purge", {"candidates": 1, "quarantine_payloads": 1, "uploads": 1})
    ]
    assert [p.name for p in uploads.iterdir()] and len(list(uploads.iterdir())) == 1
    bad = runner.invoke(app, ["privacy", "purge", "--before", "2999-01-01"], env=env)
    assert bad.exit_code == 2
