"""Export to the credit bank: incremental, corrections as corrections, the plugin hook."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gateway.credit import ensure_accounts, reconcile_accounts
from gateway.credit.export import ENTRY_COLUMNS, OUTCOME_COLUMNS, export_credit
from gateway.errors import InputError
from gateway.hookspecs import hookimpl
from gateway.store import tables as t
from tests.credit_support import (
    NOW,
    add_certificate,
    add_score,
    person,
    rules,
    set_certificate_status,
)

pytestmark = pytest.mark.storage
A, B = person(1), person(2)


class Bridge:
    """A provincial bridge plugin: records what each export handed it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def xgate_credit_export(
        self, export_id: int, outcomes: list[Any], entries: list[Any], directory: Path
    ) -> None:
        self.calls.append({"id": export_id, "outcomes": outcomes, "entries": entries})
        (directory / f"province-{export_id}.txt").write_text(str(len(entries)))


async def convert(gw: Any, *hashes: str) -> None:
    async with gw.db.begin() as conn:
        await reconcile_accounts(conn, list(hashes), rules(), run_id=None, now=NOW)


def sheet_rows(path: Path, name: str) -> list[dict[str, Any]]:
    rows = list(load_workbook(path)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


async def test_incremental_export_with_corrections(make_gateway, tmp_path) -> None:
    bridge = Bridge()
    async with make_gateway(extra=[("bridge", bridge)]) as gw:
        async with gw.db.begin() as conn:
            await ensure_accounts(
                conn, [(A, "110105********002X", "张三", "student"), (B, "b", "=cmd|x", "public")]
            )
            await add_certificate(conn, A, "BF-1", level=2)
            await add_score(conn, A, "91")
            await add_certificate(conn, B, "BF-2", level=1)
        await convert(gw, A, B)

        first = await export_credit(gw, tmp_path / "e1.xlsx")
        outcomes = sheet_rows(tmp_path / "e1.xlsx", "learning_outcomes")
        entries = sheet_rows(tmp_path / "e1.xlsx", "credit_entries")
        assert [o["source_ref"] for o in outcomes] == ["BF-1", "BF-2"]
        assert {o["action"] for o in outcomes} == {"new"} and tuple(outcomes[0]) == OUTCOME_COLUMNS
        assert len(entries) == len(first.entries) >= 3 and tuple(entries[0]) == ENTRY_COLUMNS
        assert all(e["action"] == "new" and e["rule_version"] for e in entries)
        assert outcomes[1]["name"] == "'=cmd|x"  # never a formula in the workbook
        assert [c["id"] for c in bridge.calls] == [first.export_id]
        assert bridge.calls[0]["entries"] == first.entries
        assert (tmp_path / f"province-{first.export_id}.txt").exists()

        second = await export_credit(gw, tmp_path / "e2.xlsx")
        assert second.outcomes == [] and second.entries == []

        # the organization revokes BF-1: reversals, and the outcome's new state, as corrections
        async with gw.db.begin() as conn:
            await set_certificate_status(conn, "BF-1", "revoked")
        await convert(gw, A)
        third = await export_credit(gw, tmp_path / "e3", fmt="csv")
        with (tmp_path / "e3.outcomes.csv").open(encoding="utf-8-sig") as fh:
            changed = list(csv.DictReader(fh))
        with (tmp_path / "e3.entries.csv").open(encoding="utf-8-sig") as fh:
            reversals = list(csv.DictReader(fh))
        assert [(o["action"], o["source_ref"], o["status"]) for o in changed] == [
            ("correction", "BF-1", "revoked")
        ]
        assert reversals and all(
            r["action"] == "correction" and r["kind"] == "reversal" and r["reverses_seq"]
            for r in reversals
        )
        assert third.corrections == 1 + len(reversals)
        assert sum(float(r["credits"]) for r in reversals) == -sum(
            float(e["credits"]) for e in entries if e["account"] == A
        )
        async with gw.db.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(t.credit_exports))).scalar()
            items = (
                await conn.execute(select(func.count()).select_from(t.credit_export_items))
            ).scalar()
        assert n == 3
        assert items == len(first.outcomes) + len(first.entries) + 1 + len(reversals)


async def test_unwritable_export_records_nothing(make_gateway, tmp_path) -> None:
    async with make_gateway() as gw:
        async with gw.db.begin() as conn:
            await ensure_accounts(conn, [(A, "m", "张三", "student")])
            await add_certificate(conn, A, "BF-1")
        await convert(gw, A)
        with pytest.raises(InputError, match="does not exist"):
            await export_credit(gw, tmp_path / "missing" / "e.xlsx")
        with pytest.raises(InputError, match="format"):
            await export_credit(gw, tmp_path / "e.pdf", fmt="pdf")
        blocker = tmp_path / "e.xlsx.tmp"
        blocker.mkdir()  # the temporary file cannot be created
        with pytest.raises(InputError, match="cannot write"):
            await export_credit(gw, tmp_path / "e.xlsx")
        async with gw.db.connect() as conn:
            assert (await conn.execute(select(t.credit_export_items))).first() is None
        again = await export_credit(gw, tmp_path / "ok.xlsx")
        assert again.outcomes and again.entries


def test_cli_export_issue_revoke(db_target: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import json

    from typer.testing import CliRunner

    from gateway.cli.main import app
    from tests.test_credit_cli import RULES, on_db

    monkeypatch.chdir(tmp_path)
    env = {**db_target.env(), "XGATE_RULES_FILE": str(RULES)}

    def xgate(*args: str) -> tuple[int, str]:
        done = CliRunner().invoke(app, list(args), env=env)
        return done.exit_code, done.output

    assert xgate("db", "upgrade")[0] == 0

    async def seed(conn: Any) -> None:
        await ensure_accounts(conn, [(A, "110105********002X", "张三", "student")])
        await add_certificate(conn, A, "BF-1", level=2)
        await reconcile_accounts(conn, [A], rules(), run_id=None, now=NOW)

    on_db(db_target, seed)
    code, out = xgate("credits", "export", "-o", str(tmp_path / "e.xlsx"), "--json")
    assert code == 0 and json.loads(out)["outcomes"] == 1 and json.loads(out)["entries"] >= 1
    code, out = xgate("credits", "export", "-o", str(tmp_path / "e2.csv"), "--format", "csv")
    assert code == 0 and "0 outcome(s), 0 entries" in out
    # an earlier export is never overwritten: its rows are in no later file
    before = (tmp_path / "e.xlsx").read_bytes()
    code, out = xgate("credits", "export", "-o", str(tmp_path / "e.xlsx"))
    assert code == 2 and "earlier export" in out and (tmp_path / "e.xlsx").read_bytes() == before
    assert xgate("credits", "export", "-o", str(tmp_path / "x"), "--format", "pdf")[0] == 2

    code, out = xgate("credentials", "issue", "--learner", A, "-o", str(tmp_path / "b.json"))
    assert code == 0, out
    token = json.loads((tmp_path / "b.json").read_text())["id"]
    assert token.startswith("data:application/vc+jwt,")
    urn = re.search(r"urn:uuid:[0-9a-f-]+", out)
    assert urn
    assert xgate("credentials", "revoke", urn.group(0), "--reason", "重发")[0] == 0
    assert xgate("credentials", "revoke", urn.group(0), "--reason", "again")[0] == 2
    code, out = xgate("credentials", "did")
    assert code == 0 and json.loads(out)["id"] == "did:web:127.0.0.1%3A8080"
    code, out = xgate("credentials", "verify", str(tmp_path / "e.xlsx"))
    assert code == 2  # not a credential
