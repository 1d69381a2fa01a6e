"""The failure policy: one table, followed by sync, the outbox, issuance and the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from gateway.errors import (
    AuthError,
    CircuitOpenError,
    ContractError,
    OutcomeUnknown,
    RejectedError,
    TransientError,
)
from gateway.failures import Action, Kind, Operation, decide
from gateway.issuance import issue_all
from gateway.models import Candidate, ExamPlan, ScoreRecord
from gateway.outbox import OutboxItem, deliver, enqueue
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

ORGS = {"fake": {"plugin": "fake", "name": "fake", "page_size": 5}}
PLAN = ExamPlan(code="P1", organization="fake", certificate_code="HGJL", level=2)


@pytest.mark.parametrize(
    ("error", "operation", "action", "stop"),
    [
        (AuthError("no"), Operation.READ, Action.FAIL_ORGANIZATION, True),
        (CircuitOpenError("paused"), Operation.WRITE, Action.DEFER, True),
        (OutcomeUnknown("lost"), Operation.WRITE, Action.UNKNOWN, False),
        (OutcomeUnknown("lost"), Operation.READ, Action.RETRY, False),
        (TransientError("reset", sent=True), Operation.WRITE, Action.UNKNOWN, False),
        (TransientError("refused"), Operation.WRITE, Action.DEFER, True),
        (RejectedError("plan closed", code="X"), Operation.WRITE, Action.REJECT, False),
        (ContractError("garbled"), Operation.READ, Action.RETRY, False),
        (ContractError("garbled"), Operation.RECEIVE, Action.REJECT, False),
        (RuntimeError("plugin bug"), Operation.WRITE, Action.UNKNOWN, True),
        (RuntimeError("plugin bug"), Operation.READ, Action.FAIL_ORGANIZATION, False),
    ],
)
def test_the_table(error: Exception, operation: Operation, action: Action, stop: bool) -> None:
    decision = decide(error, operation)
    assert (decision.action, decision.stop) == (action, stop)
    assert type(error).__name__ in decision.reason


def test_a_database_error_is_one_line_without_sql() -> None:
    exc = OperationalError("SELECT * FROM t WHERE id = ?", {"id": 1}, ConnectionError("gone"))
    decision = decide(exc, Operation.READ)
    assert decision.kind is Kind.DATABASE and decision.stop
    assert decision.reason == "database error: ConnectionError: gone"


def _scores(ids: list[str]) -> list[ScoreRecord]:
    return [
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


@pytest.mark.storage
@pytest.mark.parametrize("error", [AuthError("token refused"), CircuitOpenError("paused")])
async def test_a_stream_stopped_by_auth_keeps_what_it_committed(make_gateway, error) -> None:
    ids = make_ids(8, seed=121)
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = _scores(ids)
        adapter = gw.organization("fake").adapter
        real = adapter.scores

        async def stops(cursor: str | None) -> Any:
            async for page in real(cursor):
                yield page
                raise error

        adapter.scores = stops
        report = await run_sync(gw)
        by = {s.stream: s for s in report.streams}
        assert by["scores"].pages == 1 and by["scores"].new == 5
        assert by["scores"].status == ("failed" if isinstance(error, AuthError) else "deferred")
        assert by["certificates"].error and "not attempted" in by["certificates"].error
        async with gw.db.connect() as conn:
            recorded = (
                await conn.execute(
                    select(t.sync_run_streams.c.pages, t.sync_run_streams.c.new).where(
                        t.sync_run_streams.c.stream == "scores"
                    )
                )
            ).one()
        assert tuple(recorded) == (1, 5)


@pytest.mark.storage
async def test_an_issue_refusal_is_refused_not_unknown(make_gateway) -> None:
    ids = make_ids(2, seed=122)
    async with make_gateway(orgs={"fake": {"plugin": "fake", "name": "fake"}}) as gw:
        org = fakeorg.org("fake")
        await enqueue(
            gw, "fake", PLAN, [OutboxItem(Candidate(name="生", id_number=n)) for n in ids]
        )
        await deliver(gw, "fake")
        org.scores = _scores(ids)
        await run_sync(gw)
        adapter = gw.organization("fake").adapter

        async def refuses(requests: Any) -> Any:
            raise RejectedError("exam plan closed for issuance", code="CLOSED")

        adapter.issue = refuses
        report = (await issue_all(gw))[0]
        assert (report.refused, report.unknown) == (2, 0)
        async with gw.db.connect() as conn:
            rows = (
                await conn.execute(select(t.issue_requests.c.status, t.issue_requests.c.reason))
            ).all()
        assert [r.status for r in rows] == ["refused", "refused"]
        assert all("plan closed" in (r.reason or "") for r in rows)


@pytest.mark.storage
async def test_a_lost_database_is_one_line_per_organization(
    make_gateway, monkeypatch, caplog
) -> None:
    orgs = {"a": {"plugin": "fake", "name": "a"}, "b": {"plugin": "fake", "name": "b"}}
    async with make_gateway(orgs=orgs) as gw:
        for name in ("a", "b"):
            fakeorg.org(name).scores = _scores(make_ids(2, seed=123))

        async def lost(*args: Any, **kwargs: Any) -> int:
            raise OperationalError("INSERT ...", {}, ConnectionError("connection was closed"))

        monkeypatch.setattr("gateway.sync.quarantine", lost)
        with caplog.at_level("WARNING"):
            report = await run_sync(gw)
        failed = [s for s in report.streams if s.stream == "scores"]
        assert {s.organization for s in failed} == {"a", "b"}
        assert all(
            s.error == "database error: ConnectionError: connection was closed" for s in failed
        )
        assert all(s.status == "failed" for s in report.streams)  # certificates not attempted
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 2 and not any(r.exc_info or r.exc_text for r in errors)


@pytest.mark.storage
@pytest.mark.parametrize("level", ["WARNING", "INFO"])
async def test_a_plugin_bug_is_one_line_with_its_traceback_only_at_v(
    make_gateway, caplog, level
) -> None:
    async with make_gateway(orgs=ORGS) as gw:

        async def broken(cursor: str | None) -> Any:
            raise KeyError("total")
            yield  # pragma: no cover

        gw.organization("fake").adapter.scores = broken
        with caplog.at_level(level, logger="xgate.sync"):
            await run_sync(gw)
        [line] = [r for r in caplog.records if r.levelname == "ERROR"]
        assert "fake/scores: KeyError" in line.getMessage()
        assert bool(line.exc_info or line.exc_text) is (level == "INFO")  # masked: exc_text


@pytest.mark.storage
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AuthError("token refused"), "AuthError"),
        (TransientError("connect failed"), "connect failed"),
    ],
)
async def test_pending_rows_say_why_they_were_not_sent(make_gateway, error, expected) -> None:
    from gateway.outbox import open_entries

    ids = make_ids(2, seed=124)
    async with make_gateway(orgs={"fake": {"plugin": "fake", "name": "fake"}}) as gw:
        await enqueue(
            gw, "fake", PLAN, [OutboxItem(Candidate(name="生", id_number=n)) for n in ids]
        )
        adapter = gw.organization("fake").adapter

        async def down(plan: Any, requests: Any) -> Any:
            raise error

        adapter.register = down
        report = await deliver(gw, "fake")
        assert report.errors and not report.ok
        entries = await open_entries(gw, "fake")
        assert [e.status.value for e in entries] == ["pending", "pending"]
        assert all(expected in (e.reason or "") for e in entries)
