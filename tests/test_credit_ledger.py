"""The ledger's hash chain: round-trips on both databases, and tampering is caught and located."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from gateway.credit import EntryDraft, append, ensure_accounts, verify, verify_report
from gateway.credit.ledger import GENESIS, canonical_entry, credits_text, entry_hash
from gateway.models import CreditEntryKind as K
from gateway.store import tables as t
from tests.credit_support import NOW, ledger_rows, person

pytestmark = pytest.mark.storage
A, B = person(11), person(12)
MASK_A, MASK_B = "110105********002X", "210802********0011"
L = t.credit_ledger


async def build(db: Any) -> dict[str, int]:
    """Two accounts; A gets a conversion, a course, a reversal and a new conversion."""
    async with db.begin() as conn:
        ids = await ensure_accounts(
            conn, [(A, MASK_A, "甲", "student"), (B, MASK_B, "乙", "public")], now=NOW
        )
        a, b = ids[A], ids[B]
        await append(
            conn,
            [
                EntryDraft(
                    a,
                    K.CONVERSION,
                    Decimal("4"),
                    "HG201",
                    "化工精馏技术",
                    "beifang",
                    "BF-1",
                    run_id=3,
                    rule_version="2026.1",
                    grade="良好",
                    score_revision=1,
                ),
                EntryDraft(
                    a, K.COURSE, Decimal("2.5"), "GE100", "大学英语", "college", "GE100@2025"
                ),
                EntryDraft(
                    b, K.TRAINING, Decimal("1.25"), "TR01", "安全培训", "college", "TR01@2025"
                ),
            ],
            now=NOW,
        )
    async with db.begin() as conn:
        await append(
            conn,
            [
                EntryDraft(
                    a,
                    K.REVERSAL,
                    Decimal("-4"),
                    "HG201",
                    "化工精馏技术",
                    "beifang",
                    "BF-1",
                    reverses_seq=1,
                    reason="certificate revoked",
                ),
                EntryDraft(
                    a,
                    K.CONVERSION,
                    Decimal("3"),
                    "HG201",
                    "化工精馏技术",
                    "beifang",
                    "BF-1",
                    rule_version="2026.2",
                ),
            ],
            now=NOW + timedelta(hours=1),
        )
    return ids


def test_canonical_form_normalises_what_databases_return() -> None:
    assert credits_text(Decimal("4")) == "4.00"
    assert credits_text(4.0) == "4.00" and credits_text(Decimal("-0.00")) == "0.00"
    naive = datetime(2026, 3, 1, 8, 30, 15, 123456)  # how SQLite gives it back
    values = {
        "account": "h",
        "seq": 1,
        "kind": "course",
        "credits": Decimal("2.50"),
        "recorded_at": naive,
    }
    aware = {**values, "credits": Decimal("2.5"), "recorded_at": naive.replace(tzinfo=UTC)}
    assert canonical_entry(values) == canonical_entry(aware)
    assert '"credits":"2.50"' in canonical_entry(values)
    assert '"recorded_at":"2026-03-01T08:30:15.123456+00:00"' in canonical_entry(values)
    assert entry_hash(GENESIS, values) != entry_hash(GENESIS, {**values, "seq": 2})


async def test_chain_round_trips_and_verifies(db) -> None:
    ids = await build(db)
    async with db.connect() as conn:
        rows = await ledger_rows(conn)
        report = await verify_report(conn)
        heads = {
            r.id: (r.head_seq, r.head_hash) for r in await conn.execute(select(t.learning_accounts))
        }
    a_rows = [r for r in rows if r["id_hash"] == A]
    assert [r["seq"] for r in a_rows] == [1, 2, 3, 4]
    assert a_rows[0]["prev_hash"] == GENESIS
    assert all(a_rows[i]["prev_hash"] == a_rows[i - 1]["hash"] for i in range(1, 4))
    assert heads[ids[A]] == (4, a_rows[-1]["hash"])
    assert report.ok and (report.accounts, report.entries) == (2, 5) and len(report.root) == 64


async def test_altered_entry_is_named(db) -> None:
    ids = await build(db)
    async with db.begin() as conn:
        await conn.execute(
            update(L).where(L.c.account_id == ids[A], L.c.seq == 2).values(credits=Decimal(25))
        )
        problems = await verify(conn)
    assert [(p.account, p.seq) for p in problems] == [(MASK_A, 2)]
    assert "altered" in problems[0].message
    assert str(problems[0]).startswith(f"account {MASK_A}, entry 2:")


async def test_deleted_entry_is_named(db) -> None:
    ids = await build(db)
    async with db.begin() as conn:
        await conn.execute(delete(L).where(L.c.account_id == ids[A], L.c.seq == 2))
        problems = await verify(conn)
    assert [(p.account, p.seq) for p in problems] == [(MASK_A, 3)]
    assert "entry 2 before it missing" in problems[0].message
    assert "breaks the chain" in problems[0].message


async def test_deleted_last_entry_is_caught_by_the_head(db) -> None:
    ids = await build(db)
    async with db.begin() as conn:
        await conn.execute(delete(L).where(L.c.account_id == ids[A], L.c.seq == 4))
        problems = await verify(conn)
    assert [(p.account, p.seq) for p in problems] == [(MASK_A, 4)]
    assert "removed" in problems[0].message


async def test_reordered_entries_are_named(db) -> None:
    ids = await build(db)
    async with db.begin() as conn:
        where = L.c.account_id == ids[A]
        await conn.execute(update(L).where(where, L.c.seq == 2).values(seq=-2))
        await conn.execute(update(L).where(where, L.c.seq == 3).values(seq=2))
        await conn.execute(update(L).where(where, L.c.seq == -2).values(seq=3))
        problems = await verify(conn)
    assert [(p.account, p.seq) for p in problems] == [(MASK_A, 2), (MASK_A, 3), (MASK_A, 4)]
    assert "altered" in problems[0].message and "out of order" in problems[1].message
    assert "breaks the chain" in problems[2].message


async def test_forged_entry_appended_outside_the_ledger_is_caught(db) -> None:
    await build(db)
    async with db.begin() as conn:
        last = (await ledger_rows(conn))[3]
        values = {
            **last,
            "seq": 5,
            "credits": Decimal(10),
            "kind": "course",
            "reverses_seq": None,
            "prev_hash": last["hash"],
            "account": A,
        }
        forged = {k: v for k, v in values.items() if k in L.c and k != "id"}
        forged["hash"] = entry_hash(last["hash"], values)  # a well-formed chain link
        await conn.execute(L.insert().values(**forged))
        problems = await verify(conn)
    assert [(p.account, p.seq) for p in problems] == [(MASK_A, 5)]
    assert "outside the ledger" in problems[0].message


async def test_reversal_must_cancel_an_earlier_entry(db) -> None:
    ids = await build(db)
    async with db.begin() as conn:
        await append(
            conn, [EntryDraft(ids[A], K.REVERSAL, Decimal("-1"), "HG201", reverses_seq=4)], now=NOW
        )
        problems = await verify(conn)
    assert [(p.account, p.seq) for p in problems] == [(MASK_A, 5)]
    assert "does not cancel" in problems[0].message
