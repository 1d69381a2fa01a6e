"""Keys outside the database, and the audit trail of look-ups (docs/privacy.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway import audit
from gateway.cli.main import app
from gateway.keys import generate, legacy_hash, load, lookup_hash, write
from gateway.store import open_database
from gateway.store import tables as t
from tests.credit_support import write_csv
from tests.idgen import make_ids
from tests.keys_support import KEYS

pytestmark = pytest.mark.storage
P1, P2 = make_ids(2, seed=77)
runner = CliRunner()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def env(db_target: Any) -> dict[str, str]:
    """The test database, created (commands other than ``db upgrade`` never create one)."""
    variables = db_target.env()
    assert invoke(variables, "db", "upgrade")[0] == 0
    return variables


def meta(target: Any) -> dict[str, str]:
    async def go() -> dict[str, str]:
        db = await open_database(target.url, schema=target.schema)
        try:
            async with db.connect() as conn:
                rows = await conn.execute(select(t.meta.c.key, t.meta.c.value))
                return {r.key: r.value for r in rows}
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_keys_init_writes_a_private_file_once_and_show_reveals_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "k" / "college.keys"
    env = {"XGATE_KEYS": str(path)}
    code, out = invoke(env, "keys", "init")
    assert code == 0 and path.exists(), out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    code, out = invoke(env, "keys", "init")
    assert code == 2 and "never overwritten" in out and path.read_bytes() == before
    keys = load(path)
    code, out = invoke(env, "keys", "show", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["active_data_key"] == "d1"
    for secret in (keys.lookup_key, keys.session_key, keys.ledger_key, keys.data_keys["d1"]):
        assert base64.b64encode(secret).decode() not in out and secret.hex() not in out


def test_the_database_stores_fingerprints_and_no_key(
    db_target: Any, env: dict[str, str], tmp_path: Path
) -> None:
    csv = write_csv(
        tmp_path / "c.csv", [[P1, "张三", "课程", "GE101", "大学英语", 4, "2025-07-01"]]
    )
    assert invoke(env, "credits", "import", str(csv))[0] == 0
    stored = meta(db_target)
    assert stored["keys.lookup"] == KEYS.fingerprints()["keys.lookup"]
    assert "keys.data.d1" in stored and "id_salt" not in stored
    text = json.dumps(stored)
    for secret in (KEYS.lookup_key, KEYS.session_key, KEYS.ledger_key, KEYS.data_keys["d1"]):
        assert base64.b64encode(secret).decode() not in text and secret.hex() not in text


def test_missing_wrong_or_exposed_keys_refuse_to_start(env: dict[str, str], tmp_path: Path) -> None:
    assert invoke(env, "credits", "verify")[0] == 0  # binds the session's keys
    code, out = invoke({**env, "XGATE_KEYS": str(tmp_path / "none.keys")}, "credits", "verify")
    assert code == 3 and "no key file" in out and "xgate keys init" in out
    other = write(generate(), tmp_path / "other.keys")
    code, out = invoke({**env, "XGATE_KEYS": str(other)}, "credits", "verify")
    assert code == 3 and "does not belong to this database" in " ".join(out.split())
    assert "lookup differs" in out
    os.chmod(other, 0o644)
    code, out = invoke({**env, "XGATE_KEYS": str(other)}, "credits", "verify")
    assert code == 3 and "chmod 600" in " ".join(out.split())


def test_a_milestone_1_database_moves_its_salt_into_a_key_file(
    db_target: Any, env: dict[str, str], tmp_path: Path
) -> None:
    async def make_legacy() -> None:
        db = await open_database(db_target.url, schema=db_target.schema)
        try:
            async with db.begin() as conn:
                await conn.execute(t.meta.insert(), [{"key": "id_salt", "value": "old-salt"}])
        finally:
            await db.dispose()

    asyncio.run(make_legacy())
    path = tmp_path / "moved.keys"
    env = {**env, "XGATE_KEYS": str(path)}
    write(generate(), tmp_path / "fresh.keys")
    code, out = invoke({**env, "XGATE_KEYS": str(tmp_path / "fresh.keys")}, "credits", "verify")
    assert code == 3 and "--from-database" in out
    code, out = invoke(env, "keys", "init", "--from-database")
    assert code == 0, out
    moved = load(path)
    assert moved.hash_id(P1) == legacy_hash(P1, "old-salt")  # every stored hash stays valid
    assert "id_salt" not in meta(db_target)
    assert invoke(env, "credits", "verify")[0] == 0


def test_lookups_of_a_person_are_audited(env: dict[str, str], tmp_path: Path) -> None:
    csv = write_csv(
        tmp_path / "c.csv", [[P1, "张三", "课程", "GE101", "大学英语", 4, "2025-07-01"]]
    )
    assert invoke(env, "credits", "import", str(csv))[0] == 0
    assert invoke(env, "credits", "show", P1)[0] == 0
    assert invoke(env, "credits", "transcript", P1, "--format", "json")[0] == 0
    assert invoke(env, "credits", "show", P2)[0] == 2  # no account: the look-up is still recorded
    code, out = invoke(env, "audit", "--action", "credits.*", "--json")
    entries = json.loads(out)["entries"]
    assert code == 0 and [(e["action"], e["outcome"]) for e in entries] == [
        ("credits.show", "not_found"),
        ("credits.transcript", "ok"),
        ("credits.show", "ok"),
    ]
    assert entries[2]["target"] == KEYS.hash_id(P1) and entries[0]["target"] == KEYS.hash_id(P2)
    assert P1 not in out and P2 not in out
    assert entries[0]["actor"] == audit.cli_actor() and entries[0]["origin"].startswith("cli@")
    today = datetime.now(UTC).date()
    code, out = invoke(env, "audit", "--since", str(today + timedelta(days=1)), "--json")
    assert code == 0 and json.loads(out)["entries"] == []
    code, out = invoke(env, "audit", "--user", "someone-else", "--json")
    assert json.loads(out)["entries"] == []
    assert invoke(env, "audit", "--since", "yesterday")[0] == 2


async def test_audit_record_refuses_personal_data_as_target(db: Any) -> None:
    async with db.begin() as conn:
        with pytest.raises(ValueError, match="personal data"):
            await audit.record(conn, actor="a", action="x.y", target=P1)
        await audit.record(
            conn, actor="a", action="x.y", target="42", details={"note": f"asked about {P1}"}
        )
        rows = await audit.query(conn, action="x.y", target="42")
    assert len(rows) == 1 and P1 not in json.dumps(rows[0].details)


def test_lookup_hash_is_keyed() -> None:
    assert lookup_hash(P1, b"a" * 32) != lookup_hash(P1, b"b" * 32)
    assert len(lookup_hash(P1, b"a" * 32)) == 64
