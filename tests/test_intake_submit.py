"""Submitting a checked file through the outbox, end to end with the fake organization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gateway.intake import write_results
from gateway.intake.audit import file_sha256
from gateway.intake.registered import already_registered, mark_registered_if_possible
from gateway.intake.submit import submit_checked
from gateway.settings import Settings
from gateway.store import tables as t
from tests.intake_support import check, make_id, student, write_xlsx
from tests.plugins_fixtures import fakeorg

pytestmark = pytest.mark.storage
ORGS = {"beifang": {"plugin": "fake", "name": "beifang"}}
OPTIONS: dict[str, Any] = {
    "organization": "beifang",
    "require_plan": True,
    "organization_names": frozenset({"beifang", "fake"}),
}
IDS = [make_id(seq=s) for s in (101, 103, 105, 107, 109)]


def the_file(tmp_path: Path) -> Path:
    rows = [
        student(name="张一", id_number=IDS[0]),
        student(name="张二", id_number=IDS[1], waiver="是"),
        student(name="张三", id_number=IDS[2], mobile="123"),  # invalid
        student(name="张四", id_number=IDS[3]),
        student(
            name="张五",
            id_number=IDS[4],
            major="环境工程技术",
            certificate="SHJ",
            level="初级",
            plan="BF-2026-SHJ-1",
        ),
    ]
    return write_xlsx(tmp_path / "名单.xlsx", rows, titles=["2026 报名表"])


async def rows_of(gw: Any, table: Any) -> list[dict[str, Any]]:
    async with gw.db.connect() as conn:
        return [
            dict(r) for r in (await conn.execute(select(table).order_by(table.c.id))).mappings()
        ]


async def test_submit_registers_valid_rows_records_the_audit_and_writes_results(
    make_gateway: Any, tmp_path: Path
) -> None:
    path = the_file(tmp_path)
    fake = fakeorg.org("beifang")
    fake.refuse[IDS[3]] = "=QUOTA_FULL"
    async with make_gateway(orgs=ORGS) as gw:
        checked = check(path, **OPTIONS)
        report = await submit_checked(
            gw, checked, organization="beifang", operator="李老师", file_sha256=file_sha256(path)
        )
        status = {row: o.status for row, o in report.outcomes.items()}
        assert status == {3: "accepted", 4: "accepted", 5: "invalid", 6: "rejected", 7: "accepted"}
        assert report.outcomes[6].code == "=QUOTA_FULL" and not report.ok
        assert fake.register_calls == 2  # one batch per plan
        assert {plan for plan, _ in fake.registrations} == {"BF-2026-HGJL-2", "BF-2026-SHJ-1"}

        subs = await rows_of(gw, t.submissions)
        assert [
            (s["plan_code"], s["rows_valid"], s["rows_accepted"], s["rows_rejected"]) for s in subs
        ] == [("BF-2026-HGJL-2", 3, 2, 1), ("BF-2026-SHJ-1", 1, 1, 0)]
        first = subs[0]
        assert first["operator"] == "李老师" and first["organization"] == "beifang"
        assert first["file_sha256"] == file_sha256(path) and first["file_name"] == "名单.xlsx"
        assert first["rows_total"] == 5 and first["finished_at"] is not None
        assert first["fee_charged"] == 640 and first["fee_waived"] == 320
        regs = await rows_of(gw, t.registrations)
        assert len(regs) == 4
        by_sub = {r["submission_id"] for r in regs}
        assert by_sub == set(report.submissions.values())
        waived = [r for r in regs if r["fee_waived"]]
        assert len(waived) == 1 and waived[0]["fee"] == 320

        results = write_results(checked, report.outcomes)
        ws = load_workbook(results)["结果 results"]
        assert [ws.cell(row=r, column=12).value.split(":")[0] for r in range(2, 7)] == [
            "accepted",
            "accepted",
            "invalid",
            "rejected",
            "accepted",
        ]

        # the same file again: nothing is sent, nothing new is recorded
        again = check(path, **OPTIONS)
        second = await submit_checked(
            gw, again, organization="beifang", operator="李老师", file_sha256=file_sha256(path)
        )
        assert fake.register_calls == 2
        assert {row: o.status for row, o in second.outcomes.items()} == {
            3: "skipped",
            4: "skipped",
            5: "invalid",
            6: "skipped",
            7: "skipped",
        }
        assert "rejected" in second.outcomes[6].detail_en
        assert len(await rows_of(gw, t.registrations)) == 4
        assert len(await rows_of(gw, t.submissions)) == 2


async def test_deferred_rows_stay_pending_and_go_with_the_next_submission(
    make_gateway: Any, tmp_path: Path
) -> None:
    path = the_file(tmp_path)
    fake = fakeorg.org("beifang")
    fake.fail_before = 1  # the first batch fails before anything reaches the organization
    async with make_gateway(orgs=ORGS) as gw:
        report = await submit_checked(
            gw, check(path, **OPTIONS), organization="beifang", operator="t", file_sha256="0" * 64
        )
        pending = [o for o in report.outcomes.values() if o.status == "pending"]
        assert len(pending) == 3 and "outbox" in pending[0].detail_en
        assert not report.ok
        second = await submit_checked(
            gw, check(path, **OPTIONS), organization="beifang", operator="t", file_sha256="0" * 64
        )
        assert [second.outcomes[r].status for r in (3, 4, 6, 7)] == ["accepted"] * 3 + ["skipped"]
        async with gw.db.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(t.registrations))).scalar()
        assert count == 4


async def test_check_reads_existing_registrations_without_writing(
    make_gateway: Any, db_target: Any, tmp_path: Path
) -> None:
    path = the_file(tmp_path)
    settings = Settings(database_url=db_target.url, database_schema=db_target.schema)
    checked = check(path)
    if db_target.backend == "sqlite":  # no database yet: nothing to read, nothing created
        assert await mark_registered_if_possible(checked, settings) is None
        assert not Path(db_target.url.split("///", 1)[1]).exists()
    async with make_gateway(orgs=ORGS) as gw:
        await submit_checked(
            gw, check(path, **OPTIONS), organization="beifang", operator="t", file_sha256="0" * 64
        )
        async with gw.db.connect() as conn:
            found = await already_registered(conn, "BF-2026-HGJL-2", {gw.hash_id(i) for i in IDS})
        assert set(found) == {gw.hash_id(IDS[0]), gw.hash_id(IDS[1]), gw.hash_id(IDS[3])}
        before = await rows_of(gw, t.registrations)
    checked = check(path)
    marked = await mark_registered_if_possible(checked, settings)
    assert marked is not None and sorted(marked) == [3, 4, 6, 7]
    assert [r.status for r in checked.rows] == [
        "skipped",
        "skipped",
        "invalid",
        "skipped",
        "skipped",
    ]
    assert "BF-2026-HGJL-2" in (checked.rows[0].skip or ("", ""))[1]
    async with make_gateway(orgs=ORGS) as gw:
        assert await rows_of(gw, t.registrations) == before
