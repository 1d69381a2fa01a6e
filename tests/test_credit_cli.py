"""``xgate credits``: what staff run, with its exit codes (0 ok, 1 failures, 2 input, 3 config)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.masking import mask_id
from gateway.store import open_database
from gateway.store import tables as t
from tests.credit_support import add_certificate, add_score, write_csv, write_xlsx
from tests.idgen import make_ids
from tests.keys_support import hash_id

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "examples" / "data" / "credit-rules.toml"
P1, P2 = make_ids(2, seed=21)
runner = CliRunner()


@pytest.fixture
def cli(db_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``xgate`` in-process against this test's database; returns (exit code, output)."""
    monkeypatch.chdir(tmp_path)
    env = {**db_target.env(), "XGATE_RULES_FILE": str(RULES)}

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.output

    invoke.target = db_target  # type: ignore[attr-defined]
    assert invoke("db", "upgrade")[0] == 0  # commands never create a database
    return invoke


def on_db(target: Any, work: Any) -> Any:
    async def go() -> Any:
        db = await open_database(target.url, schema=target.schema)
        try:
            async with db.begin() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    return asyncio.run(go())


def ledger_count(target: Any) -> int:
    async def count(conn: Any) -> int:
        return int((await conn.execute(select(func.count()).select_from(t.credit_ledger))).scalar())

    return int(on_db(target, count))


@pytest.mark.storage
def test_import_show_transcript_verify(cli: Any, tmp_path: Path) -> None:
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            [P1, "张三", "课程", "GE101", "大学英语", 4, "2025-07-01"],
            [P2, "李四", "课程", "GE101", "大学英语", "four", "2025-07-01"],
        ],
    )
    code, out = cli("credits", "import", str(bad))
    assert code == 2 and "row 3: credits" in out and "nothing imported" in out
    assert ledger_count(cli.target) == 0
    code, out = cli("credits", "import", str(bad), "--skip-invalid", "--json")
    assert code == 1 and json.loads(out)["added"] == 1
    good = write_xlsx(
        tmp_path / "good.xlsx",
        [
            [P1, "张三", "课程", "GE101", "大学英语", 4, date(2025, 7, 1)],
            [P1, "张三", "培训", "TR9", "叉车培训", 1, date(2025, 9, 1)],
        ],
    )
    code, out = cli("credits", "import", str(good), "--json")
    assert code == 0 and (json.loads(out)["added"], json.loads(out)["already"]) == (1, 1)
    assert ledger_count(cli.target) == 2

    code, out = cli("credits", "show", P1)
    assert code == 0 and mask_id(P1) in out and P1 not in out and "叉车培训" in out
    code, out = cli("credits", "show", P1, "--json")
    assert code == 0 and json.loads(out)["total_credits"] == "5.00"
    assert cli("credits", "show", P1[:-1] + "0" if P1[-1] != "0" else P1[:-1] + "1")[0] == 2
    assert cli("credits", "show", P2)[0] == 2  # valid number, no account

    target = tmp_path / "t.xlsx"
    code, out = cli("credits", "transcript", P1, "--format", "xlsx", "--output", str(target))
    assert code == 0 and load_workbook(target)["成绩单"]["B3"].value == mask_id(P1)
    code, out = cli("credits", "transcript", P1, "--format", "json")
    assert code == 0 and len(json.loads(out)["entries"]) == 2
    (tmp_path / "blocker").write_text("a file, not a folder")
    unwritable = str(tmp_path / "blocker" / "t.json")  # a clear exit 2, not a traceback
    code, out = cli("credits", "transcript", P1, "--format", "json", "--output", unwritable)
    assert code == 2 and "cannot write" in out
    code, out = cli("credits", "checkpoints", "export", "--output", unwritable)
    assert code == 2 and "cannot write" in out

    code, out = cli("credits", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] and json.loads(out)["entries"] == 2


@pytest.mark.storage
def test_verify_fails_naming_account_and_entry(cli: Any, tmp_path: Path) -> None:
    good = write_csv(
        tmp_path / "g.csv",
        [
            [P1, "张三", "课程", "GE101", "大学英语", 4, "2025-07-01"],
            [P1, "张三", "课程", "GE102", "高等数学", 4, "2025-07-01"],
        ],
    )
    assert cli("credits", "import", str(good))[0] == 0
    assert cli("credits", "verify")[0] == 0

    async def tamper(conn: Any) -> None:
        await conn.execute(
            update(t.credit_ledger).where(t.credit_ledger.c.seq == 2).values(credits=40)
        )

    on_db(cli.target, tamper)
    code, out = cli("credits", "verify")
    assert code == 1
    assert f"account {mask_id(P1)}, entry 2: altered" in " ".join(out.split())
    code, out = cli("credits", "verify", "--json")
    problems = json.loads(out)["problems"]
    assert code == 1 and [(p["account"], p["seq"]) for p in problems] == [(mask_id(P1), 2)]


@pytest.mark.storage
def test_reconcile_converts_with_the_configured_rules(cli: Any) -> None:
    holder = hash_id(P1)

    async def seed(conn: Any) -> None:
        await add_certificate(conn, holder, "BF-C1", "PLC", 3, plan_code="LH-1", org="liaohe")
        await add_score(conn, holder, "81", plan_code="LH-1", code="PLC", level=3, org="liaohe")

    on_db(cli.target, seed)
    code, out = cli("credits", "reconcile", "--json")
    assert code == 0 and json.loads(out) == {
        "rule_version": "2026.1",
        "accounts": 1,
        "converted": 3,
        "reversed": 0,
    }
    assert json.loads(cli("credits", "reconcile", "--json")[1])["converted"] == 0
    code, out = cli("credits", "show", holder, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["total_credits"] == "8.00"  # 2 + 4 + 3 capped at 8
    assert {c["grade"] for c in shown["courses"]} == {"良好"}


def test_rules_check_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["credits", "rules", "check", str(RULES)])
    assert result.exit_code == 0 and "version 2026.1, 13 rules" in result.output
    broken = tmp_path / "r.toml"
    broken.write_text(
        'version = "x"\n[[rule]]\ncertificate = "HGJL"\nlevel = 2\n'
        'course_code = "A"\ncourse_name = "B"\ncredits = 0\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["credits", "rules", "check", str(broken), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["errors"] == [
        f"{broken}: [[rule]] #1 (HGJL -> A): field credits: Input should be greater than 0"
    ]
    monkeypatch.delenv("XGATE_RULES_FILE", raising=False)
    result = runner.invoke(app, ["credits", "rules", "check"])
    assert result.exit_code == 3 and "no rules file" in result.output
    db_url = {"XGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    assert runner.invoke(app, ["credits", "reconcile"], env=db_url).exit_code == 3
