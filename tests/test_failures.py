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


def test_key_derivations_are_pinned() -> None:
    """Keys are stored and sent: one derivation (gateway.idempotency), values never change."""
    from gateway.idempotency import issue_key, registration_key
    from gateway.outbox import idempotency_key

    h = "a" * 64
    assert idempotency_key is registration_key
    assert registration_key("beifang", "BF-2026-HGJL-2", h) == (
        "xg1-915497ad446af08176e8b5ab1e448837ad499f17"
    )
    assert issue_key("beifang", "BF-2026-HGJL-2", h) == (
        "xgi1-4968f88af3e8f21b0873f5a592f5af84ec61b065"
    )


def test_transcripts_escape_formulas_as_the_results_workbook_does() -> None:
    from gateway.credit.transcript import _cell
    from gateway.intake.results import FORMULA_PREFIXES, safe_value

    for prefix in FORMULA_PREFIXES:
        assert _cell(prefix + "cmd") == safe_value(prefix + "cmd") == "'" + prefix + "cmd"


@pytest.mark.storage
async def test_registration_transitions_are_enforced(make_gateway) -> None:
    from gateway.models import IllegalTransition, RegistrationStatus
    from gateway.outbox import _transition

    ids = make_ids(1, seed=125)
    async with make_gateway(orgs={"fake": {"plugin": "fake", "name": "fake"}}) as gw:
        [entry] = await enqueue(
            gw, "fake", PLAN, [OutboxItem(Candidate(name="生", id_number=ids[0]))]
        )
        await deliver(gw, "fake")
        with pytest.raises(IllegalTransition):  # accepted never goes back to pending
            async with gw.db.begin() as conn:
                await _transition(
                    conn, [entry.registration_id], RegistrationStatus.PENDING, datetime.now(UTC)
                )
        async with gw.db.connect() as conn:
            status = (
                await conn.execute(
                    select(t.registrations.c.status).where(
                        t.registrations.c.id == entry.registration_id
                    )
                )
            ).scalar_one()
            events = (
                (
                    await conn.execute(
                        select(t.registration_events.c.status).where(
                            t.registration_events.c.registration_id == entry.registration_id
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert status == "accepted" and "pending" not in events[1:]


def test_credit_files_are_read_by_the_one_spreadsheet_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Excel's "Unicode text" (UTF-16, tabs) and a workbook saved with a .csv name: the intake
    reader handles both; credit imports used a reader of their own that did not."""
    from openpyxl import Workbook

    from gateway.credit.importer import ALIASES, REQUIRED
    from gateway.credit.sheet import read_sheet

    header = ["证件号码", "姓名", "类型", "课程代码", "课程名称", "学分", "日期"]
    row = ["110101199003077777", "张三", "课程", "GE101", "大学英语", "4", "2025-07-01"]
    text = "\r\n".join("\t".join(r) for r in (header, row)) + "\r\n"
    unicode_text = tmp_path / "credits.txt"
    unicode_text.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    assert read_sheet(unicode_text, ALIASES, REQUIRED).rows[0][1]["title"] == "大学英语"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    sheet.append(row)
    misnamed = tmp_path / "credits.csv"
    book.save(misnamed)
    assert read_sheet(misnamed, ALIASES, REQUIRED).rows[0][1]["name"] == "张三"
