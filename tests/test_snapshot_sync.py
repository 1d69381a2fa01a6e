"""Plugin API 1.1 in the sync: complete reads withdraw what they no longer list, corrections
count by value even when the organization's stamp did not advance."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from gateway.credit.verify import verify
from gateway.errors import TransientError
from gateway.models import CertificateRecord, ScoreRecord
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

pytestmark = pytest.mark.storage
ORGS = {"fake": {"plugin": "fake", "name": "fake", "page_size": 4}}
T0 = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
RULES = Path(__file__).resolve().parents[1] / "examples" / "data" / "credit-rules.toml"


def cert(i: int, id_number: str, **kw: Any) -> CertificateRecord:
    return CertificateRecord(
        organization="fake",
        number=f"FK-{i:05d}",
        certificate_code="HGJL",
        level=2,
        id_number=id_number,
        issued_on=date(2026, 12, 25),
        updated_at=T0,
        **kw,
    )


async def statuses(gw: Any) -> dict[str, str]:
    async with gw.db.connect() as conn:
        rows = await conn.execute(select(t.certificates.c.number, t.certificates.c.status))
        return {r.number: r.status for r in rows}


async def history(gw: Any, number: str) -> list[tuple[str, str | None, int | None]]:
    c, e = t.certificates, t.certificate_events
    async with gw.db.connect() as conn:
        rows = await conn.execute(
            select(e.c.status, e.c.detail, e.c.run_id)
            .join(c, c.c.id == e.c.certificate_id)
            .where(c.c.number == number)
            .order_by(e.c.id)
        )
        return [(r.status, r.detail, r.run_id) for r in rows]


async def reversals(gw: Any, number: str) -> list[str]:
    L = t.credit_ledger
    async with gw.db.connect() as conn:
        rows = await conn.execute(
            select(L.c.reason).where(L.c.kind == "reversal", L.c.source_ref == number)
        )
        return [r.reason for r in rows]


async def test_complete_read_withdraws_the_unlisted_and_reverses_their_credit(
    make_gateway,
) -> None:
    ids = make_ids(6, seed=21)
    async with make_gateway(orgs=ORGS, rules_file=RULES) as gw:
        org = fakeorg.org("fake")
        org.snapshot = True
        org.certificates = [cert(i, n) for i, n in enumerate(ids)]
        first = await run_sync(gw)
        assert first.totals()["credits_converted"] > 0 and first.totals()["withdrawn"] == 0
        # a score correction turns a pass into a fail: the organization stops listing it
        org.certificates = [c for c in org.certificates if c.number != "FK-00002"]
        second = await run_sync(gw)
        s = next(r for r in second.streams if r.stream == "certificates")
        assert s.status == "ok" and s.withdrawn == 1 and s.credits_reversed > 0
        assert second.totals()["withdrawn"] == 1
        assert (await statuses(gw))["FK-00002"] == "withdrawn"
        assert sum(v == "valid" for v in (await statuses(gw)).values()) == 5
        status, detail, run_id = (await history(gw, "FK-00002"))[-1]
        assert (
            status == "withdrawn"
            and run_id == second.run_id
            and "no longer listed" in (detail or "")
        )
        assert await reversals(gw, "FK-00002") and all(
            "withdrawn" in r for r in await reversals(gw, "FK-00002")
        )
        async with gw.db.connect() as conn:
            assert await verify(conn) == []
            stored = (
                await conn.execute(
                    select(t.sync_run_streams.c.withdrawn).where(
                        t.sync_run_streams.c.run_id == second.run_id,
                        t.sync_run_streams.c.stream == "certificates",
                    )
                )
            ).scalar_one()
        assert stored == 1
        # the same snapshot again changes nothing
        third = await run_sync(gw)
        assert third.totals()["withdrawn"] == 0 and third.totals()["credits_reversed"] == 0
        # listed again (a second correction): restored, with history, credit granted again
        org.certificates.append(cert(2, ids[2]))
        fourth = await run_sync(gw)
        s = next(r for r in fourth.streams if r.stream == "certificates")
        assert s.restored == 1 and s.credits_converted > 0
        assert (await statuses(gw))["FK-00002"] == "valid"
        assert [h[0] for h in await history(gw, "FK-00002")] == ["valid", "withdrawn", "valid"]
        assert "restored" in ((await history(gw, "FK-00002"))[-1][1] or "")
        async with gw.db.connect() as conn:
            assert await verify(conn) == []


async def test_no_withdrawal_after_a_failed_page_a_resumed_or_a_since_read(make_gateway) -> None:
    ids = make_ids(10, seed=22)
    async with make_gateway(orgs=ORGS, rules_file=RULES) as gw:
        org = fakeorg.org("fake")
        org.snapshot = True
        org.certificates = [cert(i, n) for i, n in enumerate(ids)]
        await run_sync(gw)
        org.certificates = org.certificates[:7]  # three gone
        adapter = gw.organization("fake").adapter
        real = adapter.certificates
        calls: list[str | None] = []

        async def flaky(cursor: str | None) -> Any:
            calls.append(cursor)
            async for page in real(cursor):
                yield page
                if len(calls) == 1:
                    raise TransientError("connection reset")

        adapter.certificates = flaky
        report = await run_sync(gw)
        s = next(r for r in report.streams if r.stream == "certificates")
        assert s.status == "ok" and s.withdrawn == 0 and calls == ["done", "4"]
        adapter.certificates = real
        # a since window is never a snapshot, whatever the adapter says
        report = await run_sync(gw, since=T0)
        assert report.totals()["withdrawn"] == 0
        assert set((await statuses(gw)).values()) == {"valid"}
        # a clean snapshot then does withdraw them
        report = await run_sync(gw)
        assert report.totals()["withdrawn"] == 3


async def test_quarantined_or_empty_snapshot_withdraws_nothing(make_gateway, caplog) -> None:
    ids = make_ids(3, seed=23)
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        org.snapshot = True
        org.certificates = [cert(i, n) for i, n in enumerate(ids)]
        await run_sync(gw)
        # one record the core cannot read: it may be one of ours, so nothing is withdrawn
        org.certificates = [
            org.certificates[0],
            {"number": "FK-00001", "level": "?"},  # type: ignore[list-item]
        ]
        report = await run_sync(gw)
        assert report.totals()["quarantined"] == 1 and report.totals()["withdrawn"] == 0
        org.certificates = []
        with caplog.at_level(logging.WARNING, logger="xgate.sync"):
            report = await run_sync(gw)
        assert report.totals()["withdrawn"] == 0 and "listed nothing" in caplog.text
        assert set((await statuses(gw)).values()) == {"valid"}


async def test_withdrawal_costs_a_few_statements_not_one_per_record(make_gateway) -> None:
    ids = make_ids(120, seed=24)
    async with make_gateway(orgs={"fake": {**ORGS["fake"], "page_size": 40}}) as gw:
        org = fakeorg.org("fake")
        org.certificates = [cert(i, n) for i, n in enumerate(ids)]
        await run_sync(gw)
        counted: list[str] = []

        def count(*args: Any) -> None:
            counted.append(args[2])

        engine = gw.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            await run_sync(gw, full=True)  # a plain re-read: the baseline
            plain = len(counted)
            counted.clear()
            org.snapshot = True
            org.certificates = org.certificates[:100]
            report = await run_sync(gw, full=True)
            assert report.totals()["withdrawn"] == 20
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(counted) - plain <= 8, counted


async def test_a_correction_under_the_same_stamp_is_a_new_revision(make_gateway, caplog) -> None:
    ids = make_ids(2, seed=25)

    def score(n: str, theory: int) -> ScoreRecord:
        return ScoreRecord(
            organization="fake",
            plan_code="P1",
            id_number=n,
            theory=theory,
            practical=80,
            passed=theory >= 60,
            revised_at=T0,  # stamped in whole seconds: the correction carries the same one
        )

    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        org.scores = [score(n, 70) for n in ids]
        await run_sync(gw)
        org.scores = [score(ids[0], 55), score(ids[1], 70)]
        with caplog.at_level(logging.WARNING, logger="xgate.records"):
            report = await run_sync(gw, full=True)
        assert report.totals()["changed"] == 1
        assert "did not advance" in caplog.text
        async with gw.db.connect() as conn:
            revs = (
                await conn.execute(select(t.score_revisions.c.revision, t.score_revisions.c.theory))
            ).all()
            current = (
                await conn.execute(
                    select(t.scores.c.revision, t.scores.c.theory).where(
                        t.scores.c.id_hash == gw.hash_id(ids[0])
                    )
                )
            ).one()
        # revision 1 superseded and kept; revision 2 is the score's row
        assert [(r.revision, float(r.theory)) for r in revs] == [(1, 70.0)]
        assert (current.revision, float(current.theory)) == (2, 55.0)
        # an older stamp never overwrites a newer one
        org.scores = [score(ids[0], 70).model_copy(update={"revised_at": T0 - timedelta(days=1)})]
        again = await run_sync(gw, full=True)
        assert again.totals()["changed"] == 0


async def test_a_certificate_stored_while_the_snapshot_was_read_is_not_withdrawn(
    make_gateway,
) -> None:
    """A webhook (or another run) stores a certificate while the read is under way and the
    read does not list it (the list lags, or the read had passed its place): it is current all
    the same. Only the next complete read decides."""
    from gateway.contract import Page
    from gateway.sync import StreamReport, apply_pages

    ids = make_ids(9, seed=26)
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        org.snapshot = True
        org.certificates = [cert(i, n) for i, n in enumerate(ids[:8])]
        await run_sync(gw)
        adapter = gw.organization("fake").adapter
        real = adapter.certificates
        pushed = cert(8, ids[8])

        done: list[bool] = []

        async def with_a_push(cursor: str | None) -> Any:
            async for page in real(cursor):
                yield page
                if not done:  # after the first page: a webhook arrives (the list lags behind)
                    done.append(True)
                    report = StreamReport("fake", "webhook")
                    pg = Page(records=[pushed], next_cursor=None)
                    await apply_pages(
                        gw,
                        gw.organization("fake"),
                        "certificates",
                        CertificateRecord,
                        [pg],
                        0,
                        report,
                        None,
                    )

        adapter.certificates = with_a_push
        report = await run_sync(gw)
        assert report.totals()["withdrawn"] == 0
        assert (await statuses(gw))["FK-00008"] == "valid"


async def test_pulled_pages_commit_replayable_and_webhook_pages_durable(
    make_gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pulled page commits with its cursor (a commit lost in a server crash is read again),
    so it may skip the WAL flush; a webhook's page has no cursor and must be durable."""
    from gateway.contract import Page
    from gateway.sync import StreamReport, apply_pages

    ids = make_ids(6, seed=31)
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").certificates = [cert(i, n) for i, n in enumerate(ids[:5])]
        flags: list[bool] = []
        begin = type(gw.db).begin

        def recording(db: Any, *, replayable: bool = False) -> Any:
            flags.append(replayable)
            return begin(db, replayable=replayable)

        monkeypatch.setattr(type(gw.db), "begin", recording)
        await run_sync(gw)
        assert True in flags  # the pages read with a cursor
        flags.clear()
        page = Page(records=[cert(5, ids[5])], next_cursor=None)
        report = StreamReport("fake", "webhook")
        await apply_pages(
            gw, gw.organization("fake"), "certificates", CertificateRecord, [page], 0, report, None
        )
        assert flags == [False]
