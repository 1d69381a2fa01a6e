"""Certificate -> credit conversion as desired-state reconciliation, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

from gateway.credit import ensure_accounts, reconcile_accounts, verify
from gateway.credit.ledger import GENESIS
from gateway.store import tables as t
from tests.credit_support import (
    NOW,
    ORG,
    add_certificate,
    add_score,
    correct_score,
    ledger_rows,
    person,
    rules,
    set_certificate_status,
)

pytestmark = pytest.mark.storage
A = person(1)
B = person(2)


async def open_accounts(db: Any, *hashes: str) -> None:
    async with db.begin() as conn:
        await ensure_accounts(
            conn,
            [(h, f"210802********{i:04d}", f"学员{i}", "student") for i, h in enumerate(hashes)],
        )


async def reconcile(
    db: Any,
    *hashes: str,
    version: str = "2026.1",
    run_id: int | None = 7,
    now: Any = NOW,
    **defaults: Any,
) -> Any:
    async with db.begin() as conn:
        return await reconcile_accounts(
            conn, hashes, rules(version, **defaults), run_id=run_id, now=now
        )


async def active_credit(db: Any, id_hash: str) -> dict[str, Decimal]:
    """Per course: credits of the account's entries (reversals included) summed."""
    async with db.connect() as conn:
        rows = [r for r in await ledger_rows(conn) if r["id_hash"] == id_hash]
    out: dict[str, Decimal] = {}
    for r in rows:
        out[r["course_code"]] = out.get(r["course_code"], Decimal(0)) + Decimal(r["credits"])
    return {k: v.quantize(Decimal("0.01")) for k, v in out.items() if v}


async def test_valid_certificate_converts_with_grade_rule_version_and_chain(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0001", "HGJL", 2)
        await add_score(conn, A, "85.50")
    result = await reconcile(db, A)
    assert [(e.course_code, e.credits) for e in result.converted] == [
        ("HG201", Decimal("4.00")),
        ("HG202", Decimal("3.00")),
    ]
    assert result.reversed == []
    async with db.connect() as conn:
        rows = await ledger_rows(conn)
        outcome = (await conn.execute(select(t.learning_outcomes))).mappings().one()
        assert await verify(conn) == []
    assert [r["seq"] for r in rows] == [1, 2]
    assert {r["grade"] for r in rows} == {"良好"}
    assert {r["rule_version"] for r in rows} == {"2026.1"}
    assert {r["run_id"] for r in rows} == {7}
    assert {r["source_ref"] for r in rows} == {"BF-0001"} and {r["source_org"] for r in rows} == {
        ORG
    }
    assert rows[0]["valid_until"] == date(2030, 12, 20)
    assert rows[0]["prev_hash"] == GENESIS and rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[0]["score_revision"] == 1
    assert (outcome["kind"], outcome["status"], outcome["level"]) == ("certificate", "valid", 2)
    assert Decimal(outcome["credits"]) == Decimal(7) and outcome["source_ref"] == "BF-0001"
    assert result.converted[0].account == A and result.converted[1].hash == rows[1]["hash"]


async def test_accounts_opened_in_the_transaction_are_handed_over_not_read_again(db) -> None:
    """The sync's path: ensure_accounts reports the accounts it opened; reconciling them as
    ``fresh`` in the same transaction converts a certificate holder's credits all the same."""
    await open_accounts(db, B)  # B existed before
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0001", "HGJL", 2)
        await add_score(conn, A, "85.50")
        created: set[str] = set()
        people = [(h, "210802********0011", "学员", "student") for h in (A, B, person(3))]
        await ensure_accounts(conn, people, now=NOW, created=created)
        assert created == {A, person(3)}
        result = await reconcile_accounts(
            conn, [A, B, person(3)], rules(), run_id=7, now=NOW, fresh=created
        )
    assert [(e.account, e.course_code, e.credits) for e in result.converted] == [
        (A, "HG201", Decimal("4.00")),
        (A, "HG202", Decimal("3.00")),
    ]
    async with db.connect() as conn:
        assert [r["id_hash"] for r in await ledger_rows(conn)] == [A, A]
        assert await verify(conn) == []


async def test_second_reconcile_adds_nothing(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0001", "HGJL", 2)
        await add_score(conn, A, "75")
    await reconcile(db, A)
    again = await reconcile(db, A, now=NOW + timedelta(days=30), run_id=8)
    assert again.converted == [] and again.reversed == []
    async with db.connect() as conn:
        assert len(await ledger_rows(conn)) == 2
        assert (
            await conn.execute(select(func.count()).select_from(t.learning_outcomes))
        ).scalar() == 1


async def test_score_correction_changing_grade_reverses_and_reconverts(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0002", "HGJL", 1)
        await add_score(conn, A, "85", level=1)
    await reconcile(db, A)
    async with db.begin() as conn:
        await correct_score(conn, A, "88")  # same band: nothing to do
    unchanged = await reconcile(db, A, run_id=8)
    assert unchanged.converted == [] and unchanged.reversed == []
    async with db.begin() as conn:
        await correct_score(conn, A, "91")
    result = await reconcile(db, A, run_id=9)
    assert len(result.reversed) == 1 and len(result.converted) == 1
    rev, new = result.reversed[0], result.converted[0]
    assert (rev.seq, rev.reverses_seq, rev.credits, rev.grade) == (2, 1, Decimal("-2.00"), "良好")
    assert rev.reason == "score corrected: grade 良好 -> 优秀"
    assert (new.seq, new.grade, new.credits, new.score_revision) == (3, "优秀", Decimal(2), 3)
    assert await active_credit(db, A) == {"HG101": Decimal("2.00")}
    async with db.connect() as conn:
        assert await verify(conn) == []


async def test_revocation_reverses_all_credits_of_the_certificate(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0003", "HGJL", 2)
    await reconcile(db, A)
    async with db.begin() as conn:
        await set_certificate_status(conn, "BF-0003", "revoked")
    result = await reconcile(db, A, run_id=9)
    assert result.converted == []
    assert sorted((e.reverses_seq, e.credits) for e in result.reversed) == [
        (1, Decimal("-4.00")),
        (2, Decimal("-3.00")),
    ]
    assert {e.reason for e in result.reversed} == {"certificate revoked"}
    assert await active_credit(db, A) == {}
    async with db.connect() as conn:
        outcome = (await conn.execute(select(t.learning_outcomes))).mappings().one()
        assert outcome["status"] == "revoked" and Decimal(outcome["credits"]) == 0
        assert await verify(conn) == []
    assert (await reconcile(db, A)).reversed == []


async def test_course_is_replaced_by_at_most_one_certificate(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        # Same level: the earlier issue date wins the shared course HG101.
        await add_certificate(conn, A, "BF-HGJL1", "HGJL", 1, issued_on=date(2025, 6, 1))
        await add_certificate(
            conn, A, "BF-HAZOP", "HAZOP", 1, issued_on=date(2025, 1, 10), plan_code="P-HAZOP"
        )
    first = await reconcile(db, A)
    assert [(e.source_ref, e.course_code) for e in first.converted] == [("BF-HAZOP", "HG101")]
    async with db.begin() as conn:  # a higher level of another certificate takes the course
        await add_certificate(conn, A, "BF-HGJL3", "HGJL", 3, issued_on=date(2026, 1, 5))
    second = await reconcile(db, A)
    assert [(e.source_ref, e.course_code) for e in second.reversed] == [("BF-HAZOP", "HG101")]
    assert second.reversed[0].reason == "course now replaced by certificate BF-HGJL3"
    assert {(e.source_ref, e.course_code) for e in second.converted} == {
        ("BF-HGJL3", "HG101"),
        ("BF-HGJL3", "HG201"),
        ("BF-HGJL3", "HG202"),
    }
    async with db.connect() as conn:
        rows = await ledger_rows(conn)
        assert await verify(conn) == []
    active = [
        r
        for r in rows
        if r["kind"] == "conversion" and r["seq"] not in {x["reverses_seq"] for x in rows}
    ]
    assert sorted(r["course_code"] for r in active) == ["HG101", "HG201", "HG202"]


async def test_credits_from_one_certificate_are_capped(db) -> None:
    await open_accounts(db, A, B)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-S1", "HGJL", 3)  # 2 + 4 + 3 = 9 > 8
        await add_certificate(conn, B, "BF-I1", "HGJL", 2)  # 4 + 3 = 7 > 5
    await reconcile(db, A)
    assert await active_credit(db, A) == {
        "HG101": Decimal("2.00"),
        "HG201": Decimal("4.00"),
        "HG202": Decimal("2.00"),
    }
    await reconcile(db, B, max_credits_per_certificate=5)
    assert await active_credit(db, B) == {"HG201": Decimal("4.00"), "HG202": Decimal("1.00")}


async def test_new_rule_version_is_recorded_and_reissues(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0004", "HGJL", 1)
    await reconcile(db, A, version="2026.1")
    result = await reconcile(db, A, version="2026.2")
    assert [e.rule_version for e in result.reversed] == ["2026.2"]
    assert result.reversed[0].reason == "changed: rules 2026.1 -> 2026.2"
    assert [e.rule_version for e in result.converted] == ["2026.2"]
    async with db.connect() as conn:
        assert [r["rule_version"] for r in await ledger_rows(conn)] == [
            "2026.1",
            "2026.2",
            "2026.2",
        ]
        assert await verify(conn) == []


async def test_expired_credit_is_reversed(db) -> None:
    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-OLD", "HGJL", 1, issued_on=date(2020, 3, 1))
    await reconcile(db, A, now=NOW - timedelta(days=365))
    later = await reconcile(db, A, now=NOW + timedelta(days=1))  # valid until 2025-03-01
    assert [e.reason for e in later.reversed] == ["validity ended"]


async def test_without_rules_only_outcomes_are_kept(db) -> None:
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0005", "HGJL", 2)
        result = await reconcile_accounts(conn, [A], None, run_id=None, now=NOW)
    assert result.converted == [] and result.reversed == []
    async with db.connect() as conn:
        account = (await conn.execute(select(t.learning_accounts))).mappings().one()
        assert account["id_hash"] == A and account["id_masked"].startswith("?")
        assert (await conn.execute(select(t.learning_outcomes.c.status))).scalar() == "valid"
        assert await ledger_rows(conn) == []


async def test_many_accounts_take_a_few_queries(db) -> None:
    """~1,000 accounts per call (a sync page) must not mean a query per record."""
    people = [person(1000 + i) for i in range(600)]
    await open_accounts(db, *people)
    async with db.begin() as conn:
        await conn.execute(
            t.certificates.insert(),
            [
                dict(
                    organization=ORG,
                    number=f"BF-{i:05d}",
                    certificate_code="HGJL",
                    level=2,
                    id_hash=h,
                    plan_code="P-HGJL",
                    issued_on=date(2025, 12, 20),
                    status="valid",
                    org_updated_at=NOW,
                    updated_at=NOW,
                )
                for i, h in enumerate(people)
            ],
        )
    statements: list[str] = []

    def count(*_: Any) -> None:
        statements.append("x")

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    started = time.perf_counter()
    result = await reconcile(db, *people)
    elapsed = time.perf_counter() - started
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(result.converted) == 1200
    assert len(statements) <= 20, len(statements)
    assert elapsed < 10
    async with db.connect() as conn:
        assert await verify(conn) == []


async def test_concurrent_reconciles_of_one_account_convert_once(db) -> None:
    """Two workers whose pages touched the same person: the account lock serialises them."""
    import asyncio

    await open_accounts(db, A)
    async with db.begin() as conn:
        await add_certificate(conn, A, "BF-0009", "HGJL", 2)

    async def worker(run_id: int) -> Any:
        async with db.begin() as conn:
            result = await reconcile_accounts(conn, [A], rules(), run_id=run_id, now=NOW)
            await asyncio.sleep(0)  # let the other worker try to get in before committing
            return result

    first, second = await asyncio.gather(worker(1), worker(2))
    assert sorted([len(first.converted), len(second.converted)]) == [0, 2]
    async with db.connect() as conn:
        assert len(await ledger_rows(conn)) == 2
        assert await verify(conn) == []


async def test_reconcile_all_walks_every_account_and_broadcasts_after_commit(db) -> None:
    from gateway.credit import reconcile_all
    from gateway.credit.events import emit_credit
    from gateway.hookspecs import hookimpl
    from gateway.plugins import load_plugins

    class Observer:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, list[int]]] = []

        @hookimpl
        def xgate_credit_converted(self, account: str, entries: list[Any]) -> None:
            self.calls.append(("converted", account, [e.seq for e in entries]))

        @hookimpl
        def xgate_credit_reversed(self, account: str, entries: list[Any]) -> None:
            self.calls.append(("reversed", account, [e.seq for e in entries]))

    observer = Observer()
    host = load_plugins(lambda: [], extra=[("observer", observer)])
    people = [person(300 + i) for i in range(5)]
    async with db.begin() as conn:  # no accounts yet: reconcile_all opens them
        for i, h in enumerate(people):
            await add_certificate(conn, h, f"BF-A{i}", "HGJL", 1)
    batches: list[int] = []

    def on_commit(done: Any) -> None:
        batches.append(len(done.converted))
        emit_credit(host, done.converted + done.reversed)

    totals = await reconcile_all(db, rules(), now=NOW, batch=2, on_commit=on_commit)
    assert (totals.accounts, totals.converted, totals.reversed) == (5, 5, 0)
    assert batches == [2, 2, 1]
    assert sorted(observer.calls) == sorted(("converted", h, [1]) for h in people)
    async with db.begin() as conn:
        await set_certificate_status(conn, "BF-A0", "revoked")
    totals = await reconcile_all(db, rules(), now=NOW, on_commit=on_commit)
    assert (totals.accounts, totals.converted, totals.reversed) == (5, 0, 1)
    assert observer.calls[-1] == ("reversed", people[0], [2])
