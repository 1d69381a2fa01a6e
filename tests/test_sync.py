"""The sync engine against the in-memory organization: history, idempotency, resumption."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.contract import Invalid
from gateway.learners import learner_detail
from gateway.models import CertificateRecord, ScoreRecord
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

pytestmark = pytest.mark.storage
ORGS = {"fake": {"plugin": "fake", "name": "fake", "page_size": 7}}
T0 = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)


def score(number: str, theory: int, practical: int, minutes: int = 0, **kw: Any) -> ScoreRecord:
    return ScoreRecord(
        organization="fake",
        plan_code="P1",
        id_number=number,
        theory=theory,
        practical=practical,
        total=(theory + practical) / 2,
        passed=theory >= 60 and practical >= 60,
        revised_at=T0 + timedelta(minutes=minutes),
        **kw,
    )


async def count(gw: Any, table: Any) -> int:
    async with gw.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_full_sync_then_nothing_new(make_gateway) -> None:
    ids = make_ids(20, seed=5)
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in ids]
        report = await run_sync(gw)
        assert report.ok
        s = {r.stream: r for r in report.streams}
        assert (s["scores"].pages, s["scores"].new) == (3, 20)
        # one row per new score: its current revision is the row (no history row yet)
        assert await count(gw, t.scores) == 20 and await count(gw, t.score_revisions) == 0
        again = await run_sync(gw)
        assert again.totals()["new"] == 0 and again.totals()["pages"] == 0
        assert await count(gw, t.score_revisions) == 0
        assert await count(gw, t.sync_runs) == 2


async def test_correction_adds_a_revision_and_duplicates_change_nothing(make_gateway) -> None:
    ids = make_ids(3, seed=6)
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        org.scores = [score(n, 70, 80) for n in ids]
        first = await run_sync(gw)
        # the organization corrects one score and re-sends an unchanged one (a duplicate)
        org.scores += [score(ids[0], 55, 80, minutes=30), score(ids[1], 70, 80)]
        report = await run_sync(gw)
        assert report.totals()["changed"] == 1
        assert await count(gw, t.score_revisions) == 1  # only the superseded revision
        async with gw.db.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(t.scores).where(t.scores.c.id_hash == gw.hash_id(ids[0]))
                    )
                )
                .mappings()
                .one()
            )
            revs = (
                (
                    await conn.execute(
                        select(t.score_revisions)
                        .where(t.score_revisions.c.score_id == row["id"])
                        .order_by(t.score_revisions.c.revision)
                    )
                )
                .mappings()
                .all()
            )
        assert row["revision"] == 2 and not row["rule_passed"] and not row["org_passed"]
        assert float(row["theory"]) == 55.0 and row["run_id"] == report.run_id
        # revision 1 kept as it was: its values, its run, when it was recorded
        assert [(r["revision"], float(r["theory"]), r["run_id"]) for r in revs] == [
            (1, 70.0, first.run_id)
        ]
        assert revs[0]["recorded_at"] == row["recorded_at"]  # first reached the college then
        assert row["updated_at"] > row["recorded_at"]  # the correction's time
        # a learner's record shows every revision, oldest first, the current one last
        async with gw.db.connect() as conn:
            account = (
                await conn.execute(
                    select(t.learning_accounts.c.id).where(
                        t.learning_accounts.c.id_hash == gw.hash_id(ids[0])
                    )
                )
            ).scalar_one()
            detail = await learner_detail(conn, f"a{account}")
        assert detail is not None
        [shown] = detail.scores
        assert [(v["revision"], float(v["theory"])) for v in shown["revisions"]] == [
            (1, 70.0),
            (2, 55.0),
        ]


async def test_invalid_records_are_quarantined_not_dropped(make_gateway) -> None:
    ids = make_ids(2, seed=8)
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        org.scores = [
            score(ids[0], 70, 80),
            {"plan_code": "P1", "id_number": ids[1], "theory": 170, "revised_at": "2026-12-20"},  # type: ignore[list-item]
            Invalid(payload={"raw": "row 3", "id": ids[1]}, reason="unparsable level"),  # type: ignore[list-item]
        ]
        report = await run_sync(gw)
        assert report.totals()["quarantined"] == 2 and report.totals()["new"] == 1
        async with gw.db.connect() as conn:
            errors = (await conn.execute(select(t.quarantine.c.error))).scalars().all()
        assert any("theory" in e for e in errors) and any("unparsable" in e for e in errors)


async def test_pass_rule_is_data_and_disagreement_is_flagged(make_gateway, tmp_path) -> None:
    cat = tmp_path / "catalogue.toml"
    cat.write_text(
        '[[certificate]]\ncode = "X1"\nname = "X"\norganization = "fake"\npractical_pass = 70\n',
        encoding="utf-8",
    )
    ids = make_ids(1, seed=9)
    async with make_gateway(orgs=ORGS, catalogue_file=cat) as gw:
        fakeorg.org("fake").scores = [score(ids[0], 70, 65, certificate_code="X1")]
        await run_sync(gw)
        async with gw.db.connect() as conn:
            row = (await conn.execute(select(t.scores))).mappings().one()
        assert row["org_passed"] is True and row["rule_passed"] is False
        assert row["pass_disagreement"] is True


async def test_certificate_revocation_is_history(make_gateway) -> None:
    ids = make_ids(1, seed=10)
    cert = CertificateRecord(
        organization="fake",
        number="BF-0001",
        certificate_code="HGJL",
        level=2,
        id_number=ids[0],
        issued_on=date(2026, 12, 25),
        updated_at=T0,
    )
    async with make_gateway(orgs=ORGS) as gw:
        org = fakeorg.org("fake")
        org.certificates = [cert]
        await run_sync(gw)
        org.certificates.append(
            cert.model_copy(
                update={
                    "status": "revoked",
                    "revoked_reason": "cheating",
                    "updated_at": T0 + timedelta(days=1),
                }
            )
        )
        await run_sync(gw)
        async with gw.db.connect() as conn:
            status = (await conn.execute(select(t.certificates.c.status))).scalar_one()
            history = (
                (
                    await conn.execute(
                        select(t.certificate_events.c.status).order_by(t.certificate_events.c.id)
                    )
                )
                .scalars()
                .all()
            )
        assert status == "revoked" and history == ["valid", "revoked"]


async def test_failing_organization_does_not_stop_the_others(make_gateway) -> None:
    ids = make_ids(5, seed=11)
    orgs = {**ORGS, "other": {"plugin": "fake", "name": "other"}}
    async with make_gateway(orgs=orgs) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in ids]

        async def broken(cursor: str | None) -> Any:
            raise RuntimeError("plugin bug")
            yield  # pragma: no cover

        gw.organization("other").adapter.scores = broken
        report = await run_sync(gw)
        assert not report.ok
        by = {(s.organization, s.stream): s for s in report.streams}
        assert by[("other", "scores")].status == "failed"
        assert "plugin bug" in (by[("other", "scores")].error or "")
        assert by[("fake", "scores")].status == "ok" and by[("fake", "scores")].new == 5


async def test_since_rereads_a_window_without_touching_the_rest(make_gateway) -> None:
    ids = make_ids(10, seed=12)
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80, minutes=i) for i, n in enumerate(ids)]
        await run_sync(gw)
        report = await run_sync(gw, since=T0 + timedelta(minutes=6))
        s = next(r for r in report.streams if r.stream == "scores")
        assert s.records == 4 and s.new == 0 and s.unchanged == 4


async def test_since_window_survives_a_transient_failure(make_gateway) -> None:
    from gateway.errors import TransientError

    ids = make_ids(10, seed=13)
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80, minutes=i) for i, n in enumerate(ids)]
        await run_sync(gw)  # the stored cursor is now at the end
        adapter = gw.organization("fake").adapter
        real = adapter.scores
        calls: list[str | None] = []

        async def flaky(cursor: str | None) -> Any:
            calls.append(cursor)
            if len(calls) == 1:
                raise TransientError("connection reset")
            async for page in real(cursor):
                yield page

        adapter.scores = flaky
        report = await run_sync(gw, since=T0 + timedelta(minutes=6))
        s = next(r for r in report.streams if r.stream == "scores")
        assert calls[0] == calls[1] == "6"  # the retry starts the window again, not at the end
        assert s.records == 4 and s.status == "ok"


async def test_a_damaged_id_number_from_an_organization_is_quarantined(make_gateway) -> None:
    good = make_ids(1, seed=14)[0]
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = [
            {
                "plan_code": "P1",
                "id_number": good[:17],
                "theory": 70,
                "practical": 70,  # type: ignore[list-item]
                "revised_at": "2026-12-20T10:00:00",
            },
            {
                "plan_code": "P1",
                "id_number": good[:17] + ("0" if good[17] != "0" else "1"),  # type: ignore[list-item]
                "theory": 70,
                "practical": 70,
                "revised_at": "2026-12-20T10:00:00",
            },
        ]
        report = await run_sync(gw)
        assert report.totals()["quarantined"] == 2 and report.totals()["new"] == 0
        async with gw.db.connect() as conn:
            accounts = (
                await conn.execute(select(func.count()).select_from(t.learning_accounts))
            ).scalar()
        assert accounts == 0
