"""The credit ledger: append-only and hash-chained per learning account.

Each entry's ``hash`` is ``sha256(prev_hash + canonical_json(entry))`` and ``prev_hash`` is the
hash of the account's previous entry (64 zeros before the first), so changing, removing,
inserting or reordering any entry breaks the chain at that entry. Corrections never update a
row: they append a compensating ``reversal`` (negative credits, ``reverses_seq`` pointing at the
cancelled entry).

The account row keeps the chain's head (``head_seq``, ``head_hash``). Appends lock that row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), which serialises concurrent writers per account, and it lets ``verify`` notice
entries cut from the tail, which leave no gap.

The canonical form normalises what the two databases return differently: ``Numeric`` credits
become a two-decimal string, and SQLite's naive datetimes are read as the UTC they were written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.amounts import two_places
from gateway.models import CreditEntry, CreditEntryKind
from gateway.store import tables as t

GENESIS = "0" * 64
CENT = Decimal("0.01")
CHUNK = 500
ledger = t.credit_ledger
accounts = t.learning_accounts

# Every meaningful column, under the name the canonical form uses.
HASHED = (
    "account",
    "seq",
    "kind",
    "course_code",
    "course_name",
    "credits",
    "grade",
    "score_revision",
    "source_org",
    "source_ref",
    "run_id",
    "rule_version",
    "reverses_seq",
    "valid_until",
    "reason",
    "recorded_at",
)


def credits_text(value: Decimal | float | int | str) -> str:
    """``4`` -> ``"4.00"``; ``-0`` -> ``"0.00"`` (``gateway.amounts``: one spelling)."""
    return two_places(value)


def utc(value: datetime) -> datetime:
    """Aware UTC; a naive value (SQLite) is the UTC it was written as."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def canonical_entry(values: Mapping[str, Any]) -> str:
    """The bytes the hash covers: sorted keys, no whitespace, normalised numbers and times."""
    data: dict[str, Any] = {}
    for key in HASHED:
        value = values.get(key)
        if key == "credits":
            value = credits_text(value)  # type: ignore[arg-type]
        elif isinstance(value, datetime):
            value = utc(value).isoformat(timespec="microseconds")
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, CreditEntryKind):
            value = value.value
        data[key] = value
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_entry(values)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EntryDraft:
    """An entry before it has a place in the chain (seq, hashes and time come from ``append``)."""

    account_id: int
    kind: CreditEntryKind
    credits: Decimal
    course_code: str | None = None
    course_name: str | None = None
    source_org: str | None = None
    source_ref: str | None = None
    run_id: int | None = None
    rule_version: str | None = None
    grade: str | None = None
    score_revision: int | None = None
    reverses_seq: int | None = None
    valid_until: date | None = None
    reason: str | None = None


@dataclass
class Head:
    account_id: int
    id_hash: str
    id_masked: str
    seq: int
    hash: str


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def lock_heads(conn: AsyncConnection, account_ids: Iterable[int]) -> dict[int, Head]:
    """Lock the accounts (in id order, so two writers cannot deadlock) and read their heads."""
    ids = sorted(set(account_ids))
    heads: dict[int, Head] = {}
    for part in chunks(ids):
        query = (
            select(
                accounts.c.id,
                accounts.c.id_hash,
                accounts.c.id_masked,
                accounts.c.head_seq,
                accounts.c.head_hash,
            )
            .where(accounts.c.id.in_(part))
            .order_by(accounts.c.id)
            .with_for_update()
        )
        for row in await conn.execute(query):
            heads[row.id] = Head(
                row.id, row.id_hash, row.id_masked, row.head_seq or 0, row.head_hash or GENESIS
            )
    return heads


def entry_model(values: Mapping[str, Any]) -> CreditEntry:
    """A ledger row (or the values about to become one) as the canonical record."""
    return CreditEntry(
        account=values["account"],
        seq=values["seq"],
        kind=CreditEntryKind(values["kind"]),
        course_code=values.get("course_code"),
        course_name=values.get("course_name"),
        credits=Decimal(credits_text(values["credits"])),
        source_org=values.get("source_org"),
        source_ref=values.get("source_ref"),
        sync_run_id=values.get("run_id"),
        rule_version=values.get("rule_version"),
        grade=values.get("grade"),
        score_revision=values.get("score_revision"),
        reverses_seq=values.get("reverses_seq"),
        valid_until=values.get("valid_until"),
        reason=values.get("reason"),
        recorded_at=utc(values["recorded_at"]),
        prev_hash=values["prev_hash"],
        hash=values["hash"],
    )


async def append(
    conn: AsyncConnection,
    drafts: Sequence[EntryDraft],
    *,
    now: datetime,
    heads: dict[int, Head] | None = None,
) -> list[CreditEntry]:
    """Chain the drafts onto their accounts (in the given order) inside the caller's transaction.

    Pass ``heads`` from ``lock_heads`` when the caller already locked the accounts to decide
    what to append (as reconciliation does); otherwise they are locked here.
    """
    if not drafts:
        return []
    recorded_at = utc(now)
    if heads is None:
        heads = await lock_heads(conn, (d.account_id for d in drafts))
    rows: list[dict[str, Any]] = []
    for d in drafts:
        head = heads[d.account_id]
        values: dict[str, Any] = {
            "account": head.id_hash,
            "seq": head.seq + 1,
            "kind": d.kind.value,
            "course_code": d.course_code,
            "course_name": d.course_name,
            "credits": Decimal(credits_text(d.credits)),
            "grade": d.grade,
            "score_revision": d.score_revision,
            "source_org": d.source_org,
            "source_ref": d.source_ref,
            "run_id": d.run_id,
            "rule_version": d.rule_version,
            "reverses_seq": d.reverses_seq,
            "valid_until": d.valid_until,
            "reason": d.reason,
            "recorded_at": recorded_at,
            "prev_hash": head.hash,
        }
        values["hash"] = entry_hash(head.hash, values)
        head.seq, head.hash = values["seq"], values["hash"]
        rows.append(values)
    await conn.execute(
        ledger.insert(),
        [
            {**{k: v for k, v in r.items() if k != "account"}, "account_id": aid}
            for r, aid in zip(rows, (d.account_id for d in drafts), strict=True)
        ],
    )
    moved = {d.account_id for d in drafts}
    await conn.execute(
        accounts.update()
        .where(accounts.c.id == bindparam("b_id"))
        .values(head_seq=bindparam("b_seq"), head_hash=bindparam("b_hash")),
        [{"b_id": a, "b_seq": heads[a].seq, "b_hash": heads[a].hash} for a in sorted(moved)],
    )
    return [entry_model(r) for r in rows]


async def entries_of(
    conn: AsyncConnection, account_ids: Iterable[int], kinds: Iterable[str] | None = None
) -> list[RowMapping]:
    """Ledger rows of these accounts (with the account's ``id_hash`` as ``account``)."""
    ids = sorted(set(account_ids))
    found: list[RowMapping] = []
    for part in chunks(ids):
        query = (
            select(ledger, accounts.c.id_hash.label("account"))
            .join(accounts, accounts.c.id == ledger.c.account_id)
            .where(ledger.c.account_id.in_(part))
            .order_by(ledger.c.account_id, ledger.c.seq)
        )
        if kinds is not None:
            query = query.where(ledger.c.kind.in_(list(kinds)))
        found.extend((await conn.execute(query)).mappings())
    return found


def active_entries(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Entries that add credit and are not cancelled by a reversal (one account's rows)."""
    rows = list(rows)
    reversed_seqs = {r["reverses_seq"] for r in rows if r["kind"] == CreditEntryKind.REVERSAL}
    return [
        r for r in rows if r["kind"] != CreditEntryKind.REVERSAL and r["seq"] not in reversed_seqs
    ]
