"""Certificate issuance on request: only for passed candidates, never twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from gateway.issuance import issue_all
from gateway.models import Candidate, ExamPlan, ScoreRecord
from gateway.outbox import OutboxItem, deliver, enqueue
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

pytestmark = pytest.mark.storage
ORGS = {"fake": {"plugin": "fake", "name": "fake"}}
PLAN = ExamPlan(code="P1", organization="fake", certificate_code="HGJL", level=2)


async def test_issue_only_for_passed_and_exactly_once(make_gateway) -> None:
    ids = make_ids(4, seed=21)
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        await enqueue(
            gw,
            "fake",
            PLAN,
            [OutboxItem(Candidate(name=f"生{i}", id_number=n)) for i, n in enumerate(ids)],
        )
        await deliver(gw, "fake")
        marks = [(80, 90), (59, 90), (75, 75), (90, 40)]  # two pass by the 60/60 rule
        org.scores = [
            ScoreRecord(
                organization="fake",
                plan_code="P1",
                id_number=n,
                theory=a,
                practical=b,
                passed=a >= 60 and b >= 60,
                revised_at=datetime(2026, 12, 21, tzinfo=UTC),
            )
            for n, (a, b) in zip(ids, marks, strict=True)
        ]
        await run_sync(gw)
        org.lose_issue_answer = 1  # first answer lost after the organization issued
        first = await issue_all(gw)
        assert first[0].requested == 2 and first[0].unknown == 2 and first[0].issued == 0
        second = await issue_all(gw)
        assert second[0].requested == 0 and second[0].issued == 2
        third = await issue_all(gw)
        assert third[0].requested == 0 and third[0].issued == 0
        assert len(org.issued) == 2  # the organization issued two certificates, not four
        async with gw.db.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(t.certificates))).scalar()
            statuses = (await conn.execute(select(t.issue_requests.c.status))).scalars().all()
        assert n == 2 and sorted(statuses) == ["issued", "issued"]
        # the next sync sees the same certificates as unchanged
        report = await run_sync(gw)
        certs = next(s for s in report.streams if s.stream == "certificates")
        assert certs.new == 0


async def test_a_failing_issue_call_leaves_nothing_stuck(make_gateway) -> None:
    ids = make_ids(2, seed=22)
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        await enqueue(
            gw,
            "fake",
            PLAN,
            [OutboxItem(Candidate(name=f"生{i}", id_number=n)) for i, n in enumerate(ids)],
        )
        await deliver(gw, "fake")
        org.scores = [
            ScoreRecord(
                organization="fake",
                plan_code="P1",
                id_number=n,
                theory=80,
                practical=80,
                passed=True,
                revised_at=datetime(2026, 12, 21, tzinfo=UTC),
            )
            for n in ids
        ]
        await run_sync(gw)
        adapter = gw.organization("fake").adapter
        real_issue = adapter.issue

        async def broken(requests):  # type: ignore[no-untyped-def]
            raise ValueError("garbled answer")

        adapter.issue = broken
        first = await issue_all(gw)
        assert first[0].unknown == 2 and first[0].errors
        # a killed run would have left them "sent": the next run picks those up as well
        async with gw.db.begin() as conn:
            await conn.execute(t.issue_requests.update().values(status="sent"))
        adapter.issue = real_issue
        second = await issue_all(gw)
        assert second[0].issued == 2 and len(org.issued) == 2
