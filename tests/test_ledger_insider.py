"""The insider suite: someone with write access to the database but not the key file rewrites
the ledger consistently (chain and head), which no hash chain alone can notice; the signed
checkpoint does, and ``credits verify`` names the account or checkpoint. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.credit.ledger import entry_hash
from gateway.masking import mask_id
from gateway.store import tables as t
from tests.credit_support import write_csv
from tests.idgen import make_ids
from tests.test_credit_cli import on_db

pytestmark = pytest.mark.storage
P1, P2 = make_ids(2, seed=91)
runner = CliRunner()


@pytest.fixture
def cli(db_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    env = db_target.env()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        if "--json" in args:  # one JSON document on stdout; log lines go to stderr
            return result.exit_code, result.stdout
        return result.exit_code, " ".join(result.output.split())

    invoke.target = db_target  # type: ignore[attr-defined]
    assert invoke("db", "upgrade")[0] == 0
    rows = [
        [P1, "张三", "课程", "GE101", "大学英语", 4, "2025-07-01"],
        [P1, "张三", "课程", "GE102", "高等数学", 4, "2025-07-01"],
        [P2, "李四", "课程", "GE101", "大学英语", 3, "2025-07-01"],
        [P2, "李四", "培训", "TR9", "叉车培训", 1, "2025-09-01"],
    ]
    assert invoke("credits", "import", str(write_csv(tmp_path / "c.csv", rows)))[0] == 0
    code, out = invoke("credits", "verify", "--json")
    assert code == 0 and json.loads(out)["checkpoint"]["seq"] == 1, out  # signed on close
    return invoke


async def _account(conn: Any, number: str) -> Any:
    from tests.keys_support import hash_id

    a = t.learning_accounts
    return (await conn.execute(select(a).where(a.c.id_hash == hash_id(number)))).one()


async def _entries(conn: Any, account_id: int) -> list[dict[str, Any]]:
    led = t.credit_ledger
    rows = await conn.execute(select(led).where(led.c.account_id == account_id).order_by(led.c.seq))
    return [dict(r._mapping) for r in rows]


def test_removing_the_last_entry_and_moving_the_head_back_is_named(cli: Any) -> None:
    async def tamper(conn: Any) -> None:
        acc = await _account(conn, P1)
        first, last = await _entries(conn, acc.id)
        await conn.execute(delete(t.credit_ledger).where(t.credit_ledger.c.id == last["id"]))
        await conn.execute(
            update(t.learning_accounts)
            .where(t.learning_accounts.c.id == acc.id)
            .values(head_seq=1, head_hash=first["hash"])
        )

    on_db(cli.target, tamper)
    code, out = cli("credits", "verify")
    assert code == 1
    assert f"account {mask_id(P1)}: head moved back from entry 2 to 1 since checkpoint 1" in out
    assert mask_id(P2) not in out


def test_deleting_an_account_with_its_entries_is_named(cli: Any) -> None:
    async def tamper(conn: Any) -> None:
        acc = await _account(conn, P2)
        await conn.execute(delete(t.credit_ledger).where(t.credit_ledger.c.account_id == acc.id))
        await conn.execute(
            delete(t.learning_outcomes).where(t.learning_outcomes.c.account_id == acc.id)
        )
        await conn.execute(delete(t.learning_accounts).where(t.learning_accounts.c.id == acc.id))

    on_db(cli.target, tamper)
    code, out = cli("credits", "verify", "--json")
    data = json.loads(out)
    assert code == 1 and data["problems"] == []  # every remaining chain is intact...
    assert data["checkpoint_problems"] == [  # ...but the signed checkpoint remembers
        f"account {mask_id(P2)}: deleted since checkpoint 1 (2 entries)"
    ]


def test_changing_credits_and_recomputing_the_chain_is_named(cli: Any) -> None:
    async def tamper(conn: Any) -> None:
        from tests.keys_support import hash_id

        acc = await _account(conn, P1)
        prev = "0" * 64
        for row in await _entries(conn, acc.id):
            if row["seq"] == 1:
                row["credits"] = 40
            row["prev_hash"] = prev
            row["hash"] = entry_hash(prev, {**row, "account": hash_id(P1)})
            await conn.execute(
                update(t.credit_ledger)
                .where(t.credit_ledger.c.id == row["id"])
                .values(credits=row["credits"], prev_hash=row["prev_hash"], hash=row["hash"])
            )
            prev = row["hash"]
        await conn.execute(
            update(t.learning_accounts)
            .where(t.learning_accounts.c.id == acc.id)
            .values(head_hash=prev)
        )

    on_db(cli.target, tamper)
    code, out = cli("credits", "verify")
    assert code == 1 and "tampered" in out
    assert f"account {mask_id(P1)}, entry 2: changed since checkpoint 1" in out


def test_altered_or_deleted_checkpoints_are_named(cli: Any, tmp_path: Path) -> None:
    copy = tmp_path / "checkpoints.json"
    assert cli("credits", "checkpoints", "export", "--output", str(copy))[0] == 0
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    assert cli("credits", "verify", "--checkpoints", str(copy))[0] == 0

    async def forge(conn: Any) -> None:  # re-point the checkpoint at a rewritten ledger
        await conn.execute(update(t.ledger_checkpoints).values(root="f" * 64))

    on_db(cli.target, forge)
    code, out = cli("credits", "verify")
    assert code == 1 and "checkpoint 1: its signature does not verify" in out

    async def wipe(conn: Any) -> None:
        await conn.execute(delete(t.ledger_checkpoints))

    on_db(cli.target, wipe)
    assert cli("credits", "verify")[0] == 0  # the database alone no longer knows (and re-signs)
    code, out = cli("credits", "verify", "--checkpoints", str(copy))
    assert code == 1 and "checkpoint 1: differs from the exported copy" in out


def test_no_checkpoint_is_signed_over_a_tampered_ledger(cli: Any, tmp_path: Path) -> None:
    async def tamper(conn: Any) -> None:
        acc = await _account(conn, P2)
        await conn.execute(delete(t.credit_ledger).where(t.credit_ledger.c.account_id == acc.id))
        await conn.execute(
            delete(t.learning_outcomes).where(t.learning_outcomes.c.account_id == acc.id)
        )
        await conn.execute(delete(t.learning_accounts).where(t.learning_accounts.c.id == acc.id))

    on_db(cli.target, tamper)
    more = [[P1, "张三", "课程", "GE103", "体育", 1, "2025-07-01"]]
    assert cli("credits", "import", str(write_csv(tmp_path / "m.csv", more)))[0] == 0
    code, out = cli("credits", "verify", "--json")
    data = json.loads(out)
    assert code == 1 and data["checkpoint"]["seq"] == 1  # the append was not checkpointed
    assert data["checkpoint_problems"] == [
        f"account {mask_id(P2)}: deleted since checkpoint 1 (2 entries)"
    ]
