"""Personal data at rest: sealed fields, private files, sealing an old database, rotation."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner
from xgate_simulators.demo import run_demo, submit_sample

from gateway import privacy
from gateway.cli.main import app
from gateway.fieldcrypt import SealedValueError, is_sealed, key_id_of
from gateway.keys import load
from gateway.models import Candidate
from gateway.people import candidate_from_row, upsert_candidates
from gateway.records import quarantine
from gateway.store import open_database
from gateway.store import tables as t
from tests.idgen import make_ids
from tests.keys_support import KEYS

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
_ID = re.compile(r"^\d{17}[\dXx]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def demo_people() -> tuple[set[str], set[str]]:
    """Every ID number and mobile in the demo's input lists (candidates and roster)."""
    ids: set[str] = set()
    mobiles: set[str] = set()
    for name in ("candidates.xlsx", "roster.xlsx"):
        for ws in load_workbook(DATA / name, read_only=True).worksheets:
            for row in ws.iter_rows(values_only=True):
                for value in row:
                    text = str(value).strip() if value is not None else ""
                    if _ID.match(text):
                        ids.add(text.upper())
                    elif _MOBILE.match(text):
                        mobiles.add(text)
    return ids, mobiles


def leaks(raw: bytes, values: set[str]) -> list[str]:
    return sorted(v for v in values if v.encode() in raw)


async def test_after_the_demo_the_database_file_holds_no_id_number_or_mobile(
    tmp_path: Path,
) -> None:
    summary = await run_demo(tmp_path, submit=submit_sample)
    assert summary.ok and summary.submitted > 150
    ids, mobiles = demo_people()
    assert len(ids) > 150 and len(mobiles) > 50
    raw = b"".join(
        p.read_bytes() for p in tmp_path.glob("xgate.db*") if p.is_file()
    )  # the file and its WAL
    assert leaks(raw, ids) == [] and leaks(raw, mobiles) == []
    for name in ("xgate.db", "xgate.keys", "candidates.results.xlsx"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def _cands(n: int, seed: int) -> list[Candidate]:
    return [
        Candidate(id_number=number, name=f"考生{i}", mobile=f"139{seed:02d}{i:06d}")
        for i, number in enumerate(make_ids(n, seed=seed))
    ]


@pytest.mark.storage
async def test_sealed_values_open_only_in_their_own_row(db: Any) -> None:
    people = _cands(2, seed=5)
    async with db.begin() as conn:
        ids = await upsert_candidates(conn, people, KEYS, NOW)
        rows = {
            r.id_hash: dict(r._mapping)
            for r in await conn.execute(select(t.candidates).order_by(t.candidates.c.id))
        }
    assert len(ids) == 2 and all(is_sealed(r["id_number"]) for r in rows.values())
    assert all(is_sealed(r["mobile"]) and r["id_masked"].count("*") == 8 for r in rows.values())
    first, second = rows.values()
    assert candidate_from_row(first, KEYS).id_number == people[0].id_number
    assert candidate_from_row(first, KEYS).mobile == people[0].mobile
    swapped = {**first, "id_number": second["id_number"]}
    with pytest.raises(SealedValueError, match="does not open"):
        candidate_from_row(swapped, KEYS)


@pytest.mark.storage
async def test_an_old_plaintext_database_is_sealed_in_place_resumably(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = _cands(5, seed=6)
    async with db.begin() as conn:  # as milestone 1 stored them: in clear
        await conn.execute(
            t.candidates.insert(),
            [
                {
                    "id_hash": KEYS.hash_id(c.id_number),
                    "id_type": "resident",
                    "id_number": c.id_number,
                    "name": c.name,
                    "mobile": c.mobile,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for c in people
            ],
        )
        await quarantine(conn, "o", "scores", None, [('{"m": "13912345678"}', "bad")], NOW, KEYS)
        await conn.execute(t.quarantine.update().values(payload='{"m": "13912345678"}'))
    monkeypatch.setattr(privacy, "BATCH", 2)
    async with db.begin() as conn:  # one batch commits, then the process "dies"
        await privacy._candidates_batch(conn, KEYS, 0, False)
    async with db.connect() as conn:
        stored = [r.id_number for r in await conn.execute(select(t.candidates.c.id_number))]
        half = [dict(r._mapping) for r in await conn.execute(select(t.candidates))]
    assert sum(map(is_sealed, stored)) == 2  # half-sealed, and every row still readable:
    assert sorted(candidate_from_row(r, KEYS).id_number for r in half) == sorted(
        c.id_number for c in people
    )
    report = await privacy.seal_pending(db, KEYS)
    assert (report.candidates, report.quarantine) == (3, 1)
    async with db.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(select(t.candidates))]
        payload = (await conn.execute(select(t.quarantine.c.payload))).scalar_one()
    assert all(is_sealed(r["id_number"]) and is_sealed(r["mobile"]) for r in rows)
    assert is_sealed(payload) and "13912345678" not in payload
    assert (await privacy.seal_pending(db, KEYS)).total == 0  # nothing left: a no-op


@pytest.mark.storage
def test_keys_rotate_reencrypts_under_a_new_key(db_target: Any, tmp_path: Path) -> None:
    keys_file = tmp_path / "rot.keys"
    shutil.copy(Path(__import__("os").environ["XGATE_KEYS"]), keys_file)
    keys_file.chmod(0o600)
    env = {**db_target.env(), "XGATE_KEYS": str(keys_file)}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    people = _cands(3, seed=7)

    async def seed() -> None:
        database = await open_database(db_target.url, schema=db_target.schema)
        try:
            async with database.begin() as conn:
                await upsert_candidates(conn, people, KEYS, NOW)
        finally:
            await database.dispose()

    asyncio.run(seed())
    result = runner.invoke(app, ["keys", "rotate", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"candidates": 3' in result.output
    rotated = load(keys_file)
    assert rotated.active_key_id == "d2" and set(rotated.data_keys) == {"d1", "d2"}

    async def check() -> list[Candidate]:
        database = await open_database(db_target.url, schema=db_target.schema)
        try:
            async with database.connect() as conn:
                rows = [dict(r._mapping) for r in await conn.execute(select(t.candidates))]
        finally:
            await database.dispose()
        assert {key_id_of(r["id_number"]) for r in rows} == {"d2"}
        return [candidate_from_row(r, rotated) for r in rows]

    assert sorted(c.id_number for c in asyncio.run(check())) == sorted(c.id_number for c in people)


async def _locks(db: Any) -> list[dict[str, Any]]:
    """Who holds or waits for which lock, for a failure message (no personal data in it)."""
    from sqlalchemy import text

    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT a.pid, a.application_name, a.state, l.mode, l.granted,"
                " l.relation::regclass::text AS relation, left(a.query, 80) AS query"
                " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'relation' AND a.pid <> pg_backend_pid()"
            )
        )
        return [dict(r._mapping) for r in rows]


@pytest.mark.storage
async def test_pg_dump_holds_no_id_number_or_mobile(db: Any, db_target: Any) -> None:
    if db_target.schema is None:
        pytest.skip("PostgreSQL only")
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    people = _cands(20, seed=8)
    async with db.begin() as conn:
        await upsert_candidates(conn, people, KEYS, NOW)
    from tests.conftest import PG_DB, PG_HOST, PG_PORT, PG_USER

    command = ["pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER]
    # Run without blocking the event loop (this process's own connections stay served), let a
    # lock wait fail with pg_dump's message, and never wait for pg_dump without bound: on a
    # timeout the message says which sessions held what (a CI run once hung after this test).
    process = await asyncio.create_subprocess_exec(
        *command,
        "--lock-wait-timeout=10s",
        "-n",
        db_target.schema,
        PG_DB,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PGAPPNAME": "xgate-test-pg_dump", "PGCONNECT_TIMEOUT": "10"},
    )
    try:
        dump, errors = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"pg_dump did not finish in 60 s; locks: {await _locks(db)}")
    if process.returncode != 0:
        pytest.fail(f"pg_dump failed: {errors.decode(errors='replace')}; locks: {await _locks(db)}")
    assert b"candidates" in dump and len(dump) > 1000
    assert leaks(dump, {c.id_number for c in people}) == []
    assert leaks(dump, {c.mobile for c in people if c.mobile}) == []


@pytest.mark.storage
async def test_revision_0003_migrates_a_milestone_1_database_in_place(db_target: Any) -> None:
    """A database at revision 0002 with candidates and registrations (SQLite rebuilds the
    referenced table) gets id_masked from the plaintext; the start then seals the values."""
    from alembic import command
    from sqlalchemy.ext.asyncio import create_async_engine

    from gateway.store.db import _alembic_config, postgresql_settings

    args: dict[str, Any] = {}
    if db_target.schema:
        args["connect_args"] = {"server_settings": postgresql_settings(db_target.schema)}
    engine = create_async_engine(db_target.url, **args)
    number = make_ids(1, seed=9)[0]
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda c: command.upgrade(_alembic_config(c, db_target.schema), "0002")
            )
            cid = (
                await conn.execute(
                    t.candidates.insert()
                    .values(
                        id_hash=KEYS.hash_id(number),
                        id_type="resident",
                        id_number=number,
                        name="旧",
                        mobile="13800001111",
                        created_at=NOW,
                        updated_at=NOW,
                    )
                    .returning(t.candidates.c.id)
                )
            ).scalar_one()
            await conn.execute(
                t.registrations.insert().values(
                    idempotency_key="k",
                    organization="o",
                    plan_code="P",
                    candidate_id=cid,
                    status="accepted",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    finally:
        await engine.dispose()
    database = await open_database(db_target.url, schema=db_target.schema)  # migrates to head
    try:
        async with database.connect() as conn:
            row = dict((await conn.execute(select(t.candidates))).one()._mapping)
            regs = (await conn.execute(select(t.registrations.c.candidate_id))).scalars().all()
        assert row["id_masked"] == number[:6] + "********" + number[-4:] and regs == [row["id"]]
        assert (await privacy.seal_pending(database, KEYS)).candidates == 1
        async with database.connect() as conn:
            row = dict((await conn.execute(select(t.candidates))).one()._mapping)
        assert is_sealed(row["id_number"]) and candidate_from_row(row, KEYS).id_number == number
    finally:
        await database.dispose()
