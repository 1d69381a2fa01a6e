"""Look-ups staff use: ``xgate credits show|transcript`` by 学号 or name as well as by ID
number (several matches: a list to choose from, not an error), and transcripts for a class."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.credit.importer import CreditRow, import_rows
from gateway.masking import mask_id
from gateway.models import Candidate, CreditEntryKind
from gateway.people import upsert_candidates
from gateway.roster import import_roster, read_roster
from tests.idgen import make_ids
from tests.intake_support import write_xlsx

pytestmark = pytest.mark.storage
IDS = make_ids(4, seed=4242)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
HEADERS = ["学号", "姓名", "证件号码", "院系", "专业", "班级", "年级"]
ROSTER = [
    ["202401001", "张伟", IDS[0], "化学工程学院", "应用化工技术", "应化2401", 2024],
    ["202401002", "李娜", IDS[1], "化学工程学院", "应用化工技术", "应化2401", 2024],
    ["202402001", "张伟", IDS[2], "电气与信息工程学院", "电气自动化技术", "电气2401", 2024],
]


@pytest.fixture
def college(db_target: Any, make_gateway: Any, tmp_path: Path) -> Any:
    """The roster above; course credit for 张伟 (应化) and 张伟 (电气); 李娜 has none yet."""

    async def fill() -> None:
        path = write_xlsx(tmp_path / "roster.xlsx", ROSTER, headers=HEADERS)
        parsed = read_roster(path, today=date(2026, 12, 1))
        async with make_gateway() as gw, gw.db.begin() as conn:
            await import_roster(
                conn,
                parsed.rows,
                gw.hash_id,
                file_name=path.name,
                file_sha256="0" * 64,
                operator="t",
                now=NOW,
            )
            rows = [
                CreditRow(
                    i + 1,
                    IDS[i],
                    "张伟",
                    CreditEntryKind.COURSE,
                    "GE101",
                    "大学英语",
                    Decimal(credits),
                    date(2026, 7, 1),
                )
                for i, credits in ((0, "4.00"), (2, "2.50"))
            ]
            await import_rows(conn, rows, gw.hash_id, now=NOW)
            social = Candidate(
                name="王芳", id_number=IDS[3], class_name="社会培训班", student_number="S0001"
            )  # on a candidate list only, not on the roster
            await upsert_candidates(conn, [social], gw.keys, NOW)

    asyncio.run(fill())
    env = db_target.env()

    def xgate(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    return xgate


def test_by_student_number_with_major_and_class(college: Any) -> None:
    done = college("credits", "show", "202401001", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["student"] == {
        "student_number": "202401001",
        "department": "化学工程学院",
        "major": "应用化工技术",
        "class_name": "应化2401",
    }
    assert data["total_credits"] == "4.00" and data["account"]["id_masked"] == mask_id(IDS[0])


def test_a_name_two_people_share_lists_them_to_choose_from(college: Any) -> None:
    done = college("credits", "show", "张伟", "--json")
    assert done.exit_code == 0, done.output  # a list to choose from, not an error
    matches = json.loads(done.output)["matches"]
    assert {m["student_number"] for m in matches} == {"202401001", "202402001"}
    assert all(IDS[0] not in json.dumps(m) for m in matches)
    chosen = next(m for m in matches if m["class_name"] == "电气2401")
    done = college("credits", "show", chosen["ref"], "--json")
    assert json.loads(done.output)["total_credits"] == "2.50"
    done = college("credits", "transcript", "张伟")
    assert done.exit_code == 0 and "2 learners match" in done.output


def test_the_id_number_still_works_and_unknown_names_are_clear(college: Any) -> None:
    done = college("credits", "show", IDS[2], "--json")
    assert json.loads(done.output)["student"]["major"] == "电气自动化技术"
    done = college("credits", "show", "王五")
    assert done.exit_code == 2 and "王五" in done.output
    done = college("credits", "show", "李娜")  # on the roster, but no credit yet
    assert done.exit_code == 2


def test_class_transcripts(college: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = college("credits", "transcript", "--class", "应化2401", "--format", "json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert [(s["student_number"], s["total_credits"]) for s in data["students"]] == [
        ("202401001", "4.00"),
        ("202401002", "0.00"),
    ]
    assert data["students"][1]["transcript"] is None and data["students"][0]["major"]
    done = college("credits", "transcript", "--class", "应化2401", "--output", "c.xlsx")
    assert done.exit_code == 0, done.output
    book = load_workbook(tmp_path / "c.xlsx")
    summary = list(book["汇总"].iter_rows(values_only=True))
    assert summary[0][:3] == ("学号", "姓名", "证件号码（脱敏）")
    assert [r[0] for r in summary[1:]] == ["202401001", "202401002"]
    assert [r[2] for r in list(book["明细"].iter_rows(values_only=True))[1:]] == ["GE101"]
    assert oct((tmp_path / "c.xlsx").stat().st_mode & 0o777) == "0o600"  # personal data
    done = college("credits", "transcript", "--class", "没有这个班")
    assert done.exit_code == 2
    done = college("audit", "--action", "credits.transcript_class", "--json")
    looked = [(e["target"], e["outcome"]) for e in json.loads(done.stdout)["entries"]]
    assert looked == [
        ("class 没有这个班", "not_found"),
        ("class 应化2401", "ok"),
        ("class 应化2401", "ok"),
    ]
    done = college("credits", "transcript")
    assert done.exit_code == 2
    done = college("credits", "transcript", "--class", "社会培训班", "--format", "json")
    assert done.exit_code == 0, done.output
    [social] = json.loads(done.output)["students"]
    assert (social["student_number"], social["id_masked"]) == ("S0001", mask_id(IDS[3]))
