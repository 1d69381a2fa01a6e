"""Checking the ledger: every chain intact, every head where the account says it is.

Run by ``xgate credits verify``. Each problem names the account by its masked ID and the entry
by its ``seq``, so staff can find the row; nothing here ever prints an ID number in full.

What it notices: an altered entry (its hash no longer matches its content); a removed entry (a
gap in ``seq``, or a head that points past the last entry); an inserted or reordered entry (a
``prev_hash`` that is not the previous entry's hash, rows stored out of order); reversals that
do not cancel what they claim to. What no hash chain can notice by itself is someone who
rewrites an account's entire chain and head consistently: publish ``root`` (a digest of every
head) somewhere outside the database to catch that too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.ledger import GENESIS, accounts, credits_text, entry_hash, ledger
from gateway.models import CreditEntryKind

ACCOUNTS_PER_BATCH = 500


@dataclass(frozen=True)
class LedgerProblem:
    account: str  # masked ID number
    seq: int | None
    message: str
    account_id: int = 0

    def __str__(self) -> str:
        where = f"account {self.account}" + (f", entry {self.seq}" if self.seq else "")
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    accounts: int = 0
    entries: int = 0
    problems: list[LedgerProblem] = field(default_factory=list)
    root: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def check_account(
    account: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> list[LedgerProblem]:
    """The problems of one account's chain (``rows`` ordered by seq), one per entry at most."""
    masked, aid = account["id_masked"], account["id"]
    found: dict[int | None, list[str]] = {}

    def problem(seq: int | None, message: str) -> None:
        found.setdefault(seq, []).append(message)

    expected_seq, prev_hash, prev_id = 1, GENESIS, None
    by_seq: dict[int, Mapping[str, Any]] = {}
    for row in rows:
        seq = row["seq"]
        if seq > expected_seq:
            gap = (
                f"entry {expected_seq}"
                if seq - expected_seq == 1
                else (f"entries {expected_seq}..{seq - 1}")
            )
            problem(seq, f"{gap} before it missing (seq jumps from {expected_seq - 1} to {seq})")
        elif seq < expected_seq:  # the unique constraint forbids it; be sure anyway
            problem(seq, "appears twice")
        if prev_id is not None and row["id"] < prev_id:
            problem(seq, "out of order: stored before the entry ahead of it")
        if row["prev_hash"] != prev_hash:
            problem(
                seq,
                "breaks the chain: it does not follow the entry before it "
                "(an entry was removed, inserted or reordered)",
            )
        values = {**row, "account": account["id_hash"]}
        if entry_hash(row["prev_hash"], values) != row["hash"]:
            problem(seq, "altered: its content no longer matches its hash")
        by_seq[seq] = row
        expected_seq, prev_hash, prev_id = seq + 1, row["hash"], row["id"]
    head_seq = account["head_seq"] or 0
    head_hash = account["head_hash"] or GENESIS
    last = rows[-1]["seq"] if rows else 0
    if head_seq > last:
        problem(
            last + 1, f"removed: the account's head records {head_seq} entries, {last} are left"
        )
    elif head_seq < last:
        problem(
            head_seq + 1,
            f"added outside the ledger: the account's head records "
            f"{head_seq} entries, {last} are present",
        )
    elif head_hash != prev_hash:
        problem(last or None, "not the last entry the account's head recorded")
    for seq, message in _reversal_problems(by_seq):
        problem(seq, message)
    return [
        LedgerProblem(masked, seq, "; ".join(messages), aid)
        for seq, messages in sorted(found.items(), key=lambda kv: kv[0] or 0)
    ]


def _reversal_problems(by_seq: Mapping[int, Mapping[str, Any]]) -> list[tuple[int, str]]:
    problems = []
    cancelled: dict[int, int] = {}
    for seq, row in sorted(by_seq.items()):
        if row["kind"] != CreditEntryKind.REVERSAL:
            continue
        target_seq = row["reverses_seq"]
        target = by_seq.get(target_seq) if target_seq is not None else None
        if target is None or target_seq >= seq:
            msg = f"reverses entry {target_seq}, which is not an earlier entry"
        elif target["kind"] == CreditEntryKind.REVERSAL:
            msg = f"reverses entry {target_seq}, which is itself a reversal"
        elif target_seq in cancelled:
            msg = f"reverses entry {target_seq} again (entry {cancelled[target_seq]} did)"
        elif Decimal(credits_text(row["credits"])) != -Decimal(credits_text(target["credits"])):
            msg = f"does not cancel the credits of entry {target_seq}"
        else:
            cancelled[target_seq] = seq
            continue
        problems.append((seq, msg))
    return problems


async def verify_report(conn: AsyncConnection) -> VerifyReport:
    """Walk every account's chain, a batch of accounts at a time (memory stays bounded)."""
    report = VerifyReport()
    root = hashlib.sha256()
    after = 0
    while True:
        page = (
            select(
                accounts.c.id,
                accounts.c.id_hash,
                accounts.c.id_masked,
                accounts.c.head_seq,
                accounts.c.head_hash,
            )
            .where(accounts.c.id > after)
            .order_by(accounts.c.id)
            .limit(ACCOUNTS_PER_BATCH)
        )
        batch = [dict(a) for a in (await conn.execute(page)).mappings()]
        if not batch:
            break
        after = batch[-1]["id"]
        rows: dict[int, list[Mapping[str, Any]]] = {a["id"]: [] for a in batch}
        result = await conn.execute(
            select(ledger)
            .where(ledger.c.account_id.in_(list(rows)))
            .order_by(ledger.c.account_id, ledger.c.seq)
        )
        for row in result.mappings():
            rows[row["account_id"]].append(dict(row))
        for account in batch:
            entries = rows[account["id"]]
            report.accounts += 1
            report.entries += len(entries)
            report.problems.extend(check_account(account, entries))
            line = f"{account['id_hash']}:{account['head_seq']}:{account['head_hash']}\n"
            root.update(line.encode())
    report.root = root.hexdigest()
    return report


async def verify(conn: AsyncConnection) -> list[LedgerProblem]:
    """Every problem in the ledger; empty when all chains are intact."""
    return (await verify_report(conn)).problems
