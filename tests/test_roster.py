"""The student roster (学籍): reading the registrar's export, importing it all or nothing,
idempotent re-imports with history, and the link to candidates by the keyed ID hash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.credit.accounts import ensure_accounts
from gateway.intake.problems import IntakeFileError
from gateway.masking import mask_id
from gateway.models import Candidate
from gateway.people import upsert_candidates
from gateway.roster import import_roster, read_roster
from gateway.store import tables as t
from tests.idgen import make_ids
from tests.intake_support import write_xlsx

HEADERS = ["序号", "学号", "姓名", "身份证号", "二级学院", "专业", "班级", "入学年份", "学籍状态"]
HEADERS_WAIVER = [*HEADERS, "困难认定类型"]
IDS = make_ids(8, seed=1313)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)
runner = CliRunner()


def student(i: int, **changes: Any) -> list[Any]:
    row = {
        "n": i + 1,
        "number": f"2024010{i:02d}",
        "name": f"学生{i}",
        "id": IDS[i],
        "dept": "化学工程学院",
        "major": "应用化工技术",
        "class": "应化2401",
        "cohort": "2024级",
        "status": "在读",
    }
    row.update(changes)
    return list(row.values())


def roster_file(
    path: Path, rows: Sequence[Sequence[Any]], headers: Sequence[str] = HEADERS
) -> Path:
    return write_xlsx(path, rows, headers=headers, titles=["2024级学籍花名册"])


def test_the_registrars_export_is_read_with_the_candidate_list_reader(tmp_path: Path) -> None:
    full_width = IDS[1].translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    rows = [
        [*student(0), "低保"],
        [*student(1, id=full_width, cohort=2024, status="毕业"), ""],
        [*student(2, cohort=datetime(2023, 9, 1), status="休学"), "建档立卡户"],
    ]
    parsed = read_roster(roster_file(tmp_path / "学籍.xlsx", rows, HEADERS_WAIVER), today=TODAY)
    assert parsed.problems == [] and parsed.rows_total == 3
    a, b, c = parsed.rows
    assert (a.student_number, a.department, a.cohort, a.status, a.waiver_basis) == (
        "202401000",
        "化学工程学院",
        2024,
        "enrolled",
        "minimum_allowance",
    )
    assert (b.id_number, b.status, b.waiver_basis) == (IDS[1], "graduated", None)
    assert (c.cohort, c.status, c.waiver_basis) == (2023, "suspended", "registered_poor")


def test_gb18030_csv_roster(tmp_path: Path) -> None:
    lines = [",".join(HEADERS)] + [",".join(str(v) for v in student(i)) for i in range(2)]
    path = tmp_path / "roster.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    parsed = read_roster(path, today=TODAY)
    assert [r.name for r in parsed.rows] == ["学生0", "学生1"] and not parsed.problems


def test_every_bad_row_is_named_by_row_and_column(tmp_path: Path) -> None:
    bad_check = IDS[3][:17] + ("0" if IDS[3][17] != "0" else "1")
    rows = [
        student(0),
        student(1, number="202401000"),  # the 学号 of row 3 again
        student(2, id=bad_check),
        student(3, status="开除"),
        student(4, cohort="二〇二四"),
        student(5, major=""),
        student(6, id=IDS[0], number="202401099"),  # the person of row 3 again
    ]
    parsed = read_roster(roster_file(tmp_path / "r.xlsx", rows), today=TODAY)
    found = {(p.row, p.field, p.code) for p in parsed.problems}
    assert found == {
        (4, "student_number", "roster_duplicate_number"),
        (5, "id_number", "id_checksum"),
        (6, "roster_status", "roster_status_unknown"),
        (7, "cohort", "cohort_invalid"),
        (8, "major", "value_missing"),
        (9, "id_number", "roster_duplicate_id"),
    }
    text = " ".join(p.message_en + p.message_zh for p in parsed.problems)
    assert bad_check not in text and mask_id(bad_check) in text  # masked, never in full


def test_a_missing_column_is_a_whole_file_problem(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h != "入学年份"]
    rows = [[v for k, v in zip(HEADERS, student(0), strict=True) if k != "入学年份"]]
    with pytest.raises(IntakeFileError) as info:
        read_roster(roster_file(tmp_path / "r.xlsx", rows, headers), today=TODAY)
    assert info.value.code == "missing_columns" and "年级" in info.value.message_zh


async def _import(gw: Any, path: Path, now: datetime = NOW) -> Any:
    parsed = read_roster(path, today=TODAY)
    assert not parsed.problems, parsed.problems
    async with gw.db.begin() as conn:
        return await import_roster(
            conn,
            parsed.rows,
            gw.hash_id,
            file_name=path.name,
            file_sha256="0" * 64,
            operator="教务处",
            now=now,
        )


async def _rows(gw: Any, table: Any) -> list[dict[str, Any]]:
    async with gw.db.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table))).mappings()]


@pytest.mark.storage
async def test_import_stores_hash_and_mask_only_and_links_candidates(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with make_gateway() as gw:
        async with gw.db.begin() as conn:  # two students already sat an exam, one has credit
            known = [Candidate(name=f"学生{i}", id_number=IDS[i]) for i in (0, 1)]
            await upsert_candidates(conn, known, gw.keys, NOW)
            await ensure_accounts(conn, [(gw.hash_id(IDS[0]), mask_id(IDS[0]), "学生0", "student")])
        path = roster_file(tmp_path / "roster.xlsx", [student(i) for i in range(4)])
        done = await _import(gw, path)
        assert (done.added, done.changed, done.unchanged) == (4, 0, 0)
        assert (done.linked_candidates, done.linked_accounts) == (2, 1)
        stored = await _rows(gw, t.roster_students)
        assert {r["id_hash"] for r in stored} == {gw.hash_id(n) for n in IDS[:4]}
        assert {r["id_masked"] for r in stored} == {mask_id(n) for n in IDS[:4]}
        everything = json.dumps(
            [await _rows(gw, x) for x in (t.roster_students, t.roster_imports)], default=str
        )
        assert not any(n in everything for n in IDS)  # the number itself is never stored
        async with gw.db.connect() as conn:  # joined to candidates by the keyed hash
            joined = await conn.execute(
                select(func.count())
                .select_from(t.roster_students)
                .join(t.candidates, t.candidates.c.id_hash == t.roster_students.c.id_hash)
            )
            assert joined.scalar_one() == 2


@pytest.mark.storage
async def test_reimport_is_idempotent_and_records_every_change(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with make_gateway() as gw:
        first = roster_file(tmp_path / "a.xlsx", [student(i) for i in range(4)])
        await _import(gw, first)
        again = await _import(gw, first)
        assert not again.written and again.unchanged == 4
        assert len(await _rows(gw, t.roster_imports)) == 1  # the repeat wrote nothing
        later = datetime(2027, 7, 1, tzinfo=UTC)
        changed = [
            student(0, major="石油化工技术", **{"class": "石化2401"}),  # changed major
            student(1, status="毕业"),  # graduated
            student(2, number="202401077"),  # 学号 corrected: the same person
            student(3),
        ]
        done = await _import(gw, roster_file(tmp_path / "b.xlsx", changed), now=later)
        assert (done.added, done.changed, done.unchanged) == (0, 3, 1)
        assert done.changes == {"major": 1, "class_name": 1, "status": 1, "student_number": 1}
        changes = {(c["field"], c["old"], c["new"]) for c in await _rows(gw, t.roster_changes)}
        assert changes == {
            ("major", "应用化工技术", "石油化工技术"),
            ("class_name", "应化2401", "石化2401"),
            ("status", "enrolled", "graduated"),
            ("student_number", "202401002", "202401077"),
        }
        students = {r["name"]: r for r in await _rows(gw, t.roster_students)}
        assert len(students) == 4 and students["学生2"]["student_number"] == "202401077"
        assert students["学生1"]["status"] == "graduated"


@pytest.mark.storage
async def test_a_conflict_with_the_stored_roster_writes_nothing(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with make_gateway() as gw:
        await _import(gw, roster_file(tmp_path / "a.xlsx", [student(0), student(1)]))
        before = await _rows(gw, t.roster_students)
        # row 3 now says: 学号 of student 0 with the ID number of student 1
        crossed = [student(0, id=IDS[1]), student(5)]
        done = await _import(gw, roster_file(tmp_path / "b.xlsx", crossed))
        assert [(p.row, p.code) for p in done.conflicts] == [(3, "roster_conflict")]
        assert not done.written and await _rows(gw, t.roster_students) == before
        assert len(await _rows(gw, t.roster_imports)) == 1


@pytest.fixture
def cli(db_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=db_target.env())
        return result.exit_code, result.output

    return invoke


@pytest.mark.storage
def test_roster_commands(cli: Any, tmp_path: Path) -> None:
    path = roster_file(tmp_path / "roster.xlsx", [student(i) for i in range(3)])
    assert cli("db", "upgrade")[0] == 0  # only db upgrade and demo create a database
    code, out = cli("roster", "import", str(path), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["ok"], data["added"], data["imported"]) == (True, 3, True)
    code, out = cli("roster", "import", str(path))
    assert code == 0 and "up to date" in out
    bad = roster_file(tmp_path / "bad.xlsx", [student(0), student(1, status="开除")])
    code, out = cli("roster", "import", str(bad), "--json")
    assert code == 2 and json.loads(out)["problems"][0]["code"] == "roster_status_unknown"
    moved = roster_file(tmp_path / "moved.xlsx", [student(0, major="化工装备技术")])
    assert cli("roster", "import", str(moved))[0] == 0
    code, out = cli("roster", "show", "202401000", "--json")
    assert code == 0, out
    [found] = json.loads(out)
    assert found["major"] == "化工装备技术" and found["id_masked"] == mask_id(IDS[0])
    assert [(h["field"], h["old"], h["new"]) for h in found["history"]] == [
        ("major", "应用化工技术", "化工装备技术")
    ]
    assert IDS[0] not in out
    code, out = cli("roster", "show", "没有这个人")
    assert code == 2
