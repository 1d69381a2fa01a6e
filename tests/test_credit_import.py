"""Importing course credits and training: validation per row, accounts, idempotent re-import."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.credit import verify
from gateway.credit.importer import import_rows, read_credit_file
from gateway.keys import lookup_hash
from gateway.masking import mask_id
from gateway.store import tables as t
from tests.credit_support import NOW, ledger_rows, write_csv, write_xlsx
from tests.idgen import make_ids

P1, P2, P3 = make_ids(3, seed=5)
TODAY = date(2026, 3, 1)


def hasher(number: str) -> str:
    return lookup_hash(number, b"test-key")


def good_rows() -> list[list[Any]]:
    return [
        [P1, "张三", "课程", "GE101", "大学英语", 4, date(2025, 7, 1)],
        [P1, "张三", "培训", "TR01", "安全生产培训", "1.5", "2025/08/15"],
        [P2, "李四", "course", "GE101", "大学英语", "4.00", "2025-07-01"],
    ]


async def counts(db: Any) -> tuple[int, ...]:
    """(accounts, outcomes, ledger entries)."""
    found = []
    async with db.connect() as conn:
        for tbl in (t.learning_accounts, t.learning_outcomes, t.credit_ledger):
            found.append((await conn.execute(select(func.count()).select_from(tbl))).scalar())
    return tuple(found)


async def run_import(db: Any, path: Path) -> Any:
    parsed = read_credit_file(path, today=TODAY)
    assert parsed.problems == []
    async with db.begin() as conn:
        return await import_rows(conn, parsed.rows, hasher, now=NOW)


@pytest.mark.storage
async def test_good_file_opens_accounts_and_appends_entries(db, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "credits.xlsx", good_rows())
    parsed = read_credit_file(path, today=TODAY)
    assert [r.row for r in parsed.rows] == [3, 4, 5]  # Excel row numbers under the title row
    result = await run_import(db, path)
    assert (result.added, result.already, result.accounts_created) == (3, 0, 2)
    assert await counts(db) == (2, 3, 3)
    async with db.connect() as conn:
        rows = [r for r in await ledger_rows(conn) if r["id_hash"] == hasher(P1)]
        accounts = {r.id_hash: r for r in await conn.execute(select(t.learning_accounts))}
        outcome = (
            (
                await conn.execute(
                    select(t.learning_outcomes).where(t.learning_outcomes.c.kind == "training")
                )
            )
            .mappings()
            .one()
        )
        assert await verify(conn) == []
    assert accounts[hasher(P1)].id_masked == mask_id(P1) and accounts[hasher(P1)].name == "张三"
    assert [(r["kind"], r["course_code"], Decimal(r["credits"])) for r in rows] == [
        ("course", "GE101", Decimal(4)),
        ("training", "TR01", Decimal("1.5")),
    ]
    assert rows[1]["source_org"] == "college" and rows[1]["source_ref"] == "TR01@2025-08-15"
    assert outcome["title"] == "安全生产培训" and outcome["achieved_on"] == date(2025, 8, 15)


@pytest.mark.storage
async def test_importing_the_same_file_twice_adds_nothing(db, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "credits.xlsx", good_rows())
    await run_import(db, path)
    again = await run_import(db, path)
    assert (again.added, again.already, again.accounts_created) == (0, 3, 0)
    assert await counts(db) == (2, 3, 3)


@pytest.mark.storage
async def test_changed_credits_for_a_recorded_row_are_a_conflict(db, tmp_path: Path) -> None:
    await run_import(db, write_xlsx(tmp_path / "a.xlsx", good_rows()))
    changed = [[P1, "张三", "课程", "GE101", "大学英语", 5, date(2025, 7, 1)]]
    result = await run_import(db, write_csv(tmp_path / "b.csv", changed))
    assert result.added == 0 and [str(c) for c in result.conflicts] == [
        "row 2: credits: already recorded with 4.00 credits (大学英语); not changed"
    ]
    assert await counts(db) == (2, 3, 3)


def test_bad_rows_are_named_by_row_and_column(tmp_path: Path) -> None:
    wrong_check = P3[:-1] + ("0" if P3[-1] != "0" else "1")
    rows = [
        [P1, "䶮", "培训", "TR01", "安全培训", 2, "2025-07-01"],  # fine (a rare character)
        [wrong_check, "王五", "课程", "GE101", "大学英语", 4, "2025-07-01"],
        [P2, "赵六", "课程", "GE101", "大学英语", "abc", "2025-07-01"],
        [P2, "赵六", "lecture", "GE102", "高等数学", 4, "2025-07-01"],
        [P2, "赵六", "课程", "GE103", "体育", 1, "2027-01-01"],
        ["1.10105E+17", "钱七", "课程", "GE101", "大学英语", 4, "2025-07-01"],
        [P1, "", "课程", "GE104", "", 1, "2025年7月1日"],
    ]
    path = write_csv(tmp_path / "bad.csv", rows, encoding="gb18030")
    parsed = read_credit_file(path, today=TODAY)
    found = [(p.row, p.column) for p in parsed.problems]
    assert found == [
        (3, "id_number"),
        (4, "credits"),
        (5, "kind"),
        (6, "date"),
        (7, "id_number"),
        (8, "name"),
        (8, "title"),
    ]
    assert [r.name for r in parsed.rows] == ["䶮"]
    messages = " ".join(str(p) for p in parsed.problems)
    assert "check character" in messages and "stored by Excel as a number" in messages
    assert "in the future" in messages and "'lecture'" in messages
    assert wrong_check not in messages and mask_id(wrong_check) in messages


def test_full_width_digits_lowercase_x_and_duplicate_rows(tmp_path: Path) -> None:
    full_width = P1.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    rows = [
        [full_width, " 张三 ", "课程", "GE101", "大学英语", 4, "20250701"],
        [P1.lower(), "张三", "课程", "GE101", "大学英语", 4, "2025-07-01"],
    ]
    parsed = read_credit_file(write_csv(tmp_path / "fw.csv", rows), today=TODAY)
    assert parsed.problems == [] and parsed.duplicates == 1
    assert [(r.id_number, r.name, r.achieved_on) for r in parsed.rows] == [
        (P1, "张三", date(2025, 7, 1))
    ]


def test_missing_column_and_missing_header(tmp_path: Path) -> None:
    from gateway.errors import InputError

    no_credits = write_csv(
        tmp_path / "a.csv",
        [[P1, "x", "课程", "C", "t", "2025-01-01"]],
        header=["证件号码", "姓名", "类型", "课程代码", "课程名称", "日期"],
    )
    with pytest.raises(InputError, match=r"missing column\(s\): credits \(学分/credits\)"):
        read_credit_file(no_credits, today=TODAY)
    with pytest.raises(InputError, match="no header row"):
        read_credit_file(write_csv(tmp_path / "b.csv", [], header=["a", "b"]), today=TODAY)
