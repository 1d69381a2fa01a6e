"""The registration outbox: never two registrations for one candidate, whatever fails when."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.models import Candidate, ExamPlan, RegistrationStatus
from gateway.outbox import OutboxItem, deliver, enqueue, idempotency_key, open_entries, reconcile
from gateway.store import tables as t
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

pytestmark = pytest.mark.storage
ORGS = {"fake": {"plugin": "fake", "name": "fake"}}
PLAN = ExamPlan(code="P1", organization="fake", certificate_code="HGJL", level=2)


def items(n: int, seed: int = 1) -> list[OutboxItem]:
    return [
        OutboxItem(Candidate(name=f"考生{i}", id_number=number))
        for i, number in enumerate(make_ids(n, seed))
    ]


async def statuses(gw) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with gw.db.connect() as conn:
        rows = await conn.execute(
            select(t.registrations.c.status, func.count()).group_by(t.registrations.c.status)
        )
        return {r[0]: r[1] for r in rows}


async def test_enqueue_is_idempotent_and_commits_before_sending(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        first = await enqueue(gw, "fake", PLAN, items(5))
        again = await enqueue(gw, "fake", PLAN, items(5))
        assert all(e.created for e in first) and not any(e.created for e in again)
        assert [e.registration_id for e in first] == [e.registration_id for e in again]
        assert await statuses(gw) == {"pending": 5}
        assert fakeorg.org("fake").register_calls == 0
        key = idempotency_key("fake", "P1", gw.hash_id(make_ids(1)[0]))
        assert first[0].idempotency_key == key


async def test_deliver_accepts_and_rejects_with_reason(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        batch = items(30)
        fakeorg.org("fake").refuse[batch[3].candidate.id_number] = "LEVEL_NOT_ALLOWED"
        await enqueue(gw, "fake", PLAN, batch)
        report = await deliver(gw, "fake")
        assert (report.accepted, report.rejected, report.unknown) == (29, 1, 0)
        assert fakeorg.org("fake").register_calls == 2  # batch size 25
        async with gw.db.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(t.registrations).where(t.registrations.c.reason_code.is_not(None))
                    )
                )
                .mappings()
                .one()
            )
            assert row["reason_code"] == "LEVEL_NOT_ALLOWED" and row["status"] == "rejected"
            events = (
                await conn.execute(select(func.count()).select_from(t.registration_events))
            ).scalar()
        assert events == 30 * 3  # pending -> sent -> accepted/rejected
        again = await deliver(gw, "fake")
        assert again.sent == 0 and fakeorg.org("fake").register_calls == 2


async def test_answer_lost_after_commit_is_reconciled_not_resent(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        fake = fakeorg.org("fake")
        fake.drop_after_commit = 1.0  # every answer is lost after the organization committed
        await enqueue(gw, "fake", PLAN, items(3))
        report = await deliver(gw, "fake")
        assert fake.register_calls == 1  # one POST, never a second
        assert fake.lookup_calls == 3
        assert report.accepted == 0 and report.reconciled == 3 and report.unknown == 0
        assert await statuses(gw) == {"accepted": 3}
        assert len(fake.registrations) == 3


async def test_failure_before_sending_defers_and_keeps_pending(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").fail_before = 1
        await enqueue(gw, "fake", PLAN, items(4))
        report = await deliver(gw, "fake")
        assert report.deferred == 4 and report.errors
        assert await statuses(gw) == {"pending": 4}
        report = await deliver(gw, "fake")
        assert report.accepted == 4


async def test_entries_abandoned_by_a_killed_process_are_looked_up(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        fake = fakeorg.org("fake")
        batch = items(2)
        await enqueue(gw, "fake", PLAN, batch)
        # A process that died mid-send: the first candidate reached the organization.
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        owner = f"{os.uname().nodename}:{dead.stdout.strip()}:deadbeef"
        async with gw.db.begin() as conn:
            await conn.execute(
                t.registrations.update().values(
                    status="sent",
                    lease_owner=owner,
                    lease_until=datetime.now(UTC) + timedelta(minutes=5),
                )
            )
        fake.registrations[("P1", batch[0].candidate.id_number)] = "R-EXISTING"
        assert len(await open_entries(gw, "fake")) == 2
        report = await reconcile(gw, "fake")
        assert (report.accepted, report.requeued) == (1, 1)
        delivered = await deliver(gw, "fake")
        assert delivered.accepted == 1
        assert fake.register_calls == 1 and len(fake.registrations) == 2
        assert await statuses(gw) == {"accepted": 2}


async def test_thousand_candidates_with_lost_answers_register_exactly_once(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        fake = fakeorg.org("fake")
        fake.drop_after_commit = 0.3
        await enqueue(gw, "fake", PLAN, items(1000, seed=3))
        report = await deliver(gw, "fake")
        assert report.unknown == 0
        assert len(fake.registrations) == 1000
        assert await statuses(gw) == {RegistrationStatus.ACCEPTED.value: 1000}
        # every register call carried distinct candidates: no candidate was sent twice
        assert fake.register_calls == 40


async def test_a_live_owner_is_never_overtaken_even_past_its_lease(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        await enqueue(gw, "fake", PLAN, items(1))
        owner = f"{os.uname().nodename}:{os.getppid()}:alive"  # a live process on this host
        async with gw.db.begin() as conn:
            await conn.execute(
                t.registrations.update().values(
                    status="sent",
                    lease_owner=owner,
                    lease_until=datetime.now(UTC) - timedelta(hours=5),
                )
            )
        report = await reconcile(gw, "fake")
        assert report.requeued == 0 and fakeorg.org("fake").lookup_calls == 0
        assert await statuses(gw) == {"sent": 1}


async def test_registrations_settled_by_look_up_are_announced(make_gateway) -> None:
    seen: list[str] = []

    class Observer:
        from gateway import hookimpl

        @staticmethod
        @hookimpl
        def xgate_candidate_registered(organization: str, plan_code: str, registration) -> None:  # type: ignore[no-untyped-def]
            seen.append(registration.idempotency_key)

    async with make_gateway(orgs=ORGS, extra=[("observer", Observer())]) as gw:
        fakeorg.org("fake").drop_after_commit = 1.0
        queued = await enqueue(gw, "fake", PLAN, items(3))
        await deliver(gw, "fake")
        assert sorted(seen) == sorted(e.idempotency_key for e in queued)
