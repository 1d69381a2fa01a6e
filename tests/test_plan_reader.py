"""A stream reads its organization's exam plans once, not once per page (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from gateway.records import PlanCertificates
from gateway.store import tables as t

pytestmark = pytest.mark.storage


def _plan(code: str, certificate: str) -> dict[str, Any]:
    return {"organization": "bf", "code": code, "certificate_code": certificate, "level": 2}


async def test_plans_are_read_once_and_again_only_for_a_plan_not_seen(db: Any) -> None:
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM exam_plans" in statement:
            reads.append(statement)

    async with db.begin() as conn:
        await conn.execute(t.exam_plans.insert(), [_plan("P1", "C1"), _plan("P2", "C2")])
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    plans = PlanCertificates("bf")
    try:
        for _ in range(5):  # five pages (a transaction each) of the known plans: one read
            async with db.begin() as conn:
                assert await plans.of(conn, ["P1", "P2"]) == {"P1": "C1", "P2": "C2"}
        assert len(reads) == 1
        async with db.begin() as conn:  # a plan registered while the sync runs
            await conn.execute(t.exam_plans.insert(), _plan("P3", "C3"))
        async with db.begin() as conn:
            assert (await plans.of(conn, ["P3"]))["P3"] == "C3"
        assert len(reads) == 2
        for _ in range(3):  # scores of a plan never registered: one more read, then none
            async with db.begin() as conn:
                assert "PX" not in await plans.of(conn, ["P1", "PX"])
        assert len(reads) == 3
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
