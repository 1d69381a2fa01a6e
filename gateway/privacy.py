"""Personal data at rest: sealing what is still in clear, re-sealing after a key rotation,
and removing what is no longer needed (``purge``).

Invariant: every batch is one committed transaction that moves rows from "plaintext" (or
"sealed under an older key") to "sealed under the active key", picking its rows by that
condition alone; a run killed at any point leaves every row readable, and the next run
continues where it stopped. Nothing here decides what is personal data: the columns are
listed in ``SEALED_COLUMNS`` and ``gateway.fieldcrypt`` seals them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from gateway.fieldcrypt import PREFIX, open_quarantine, open_value, seal, seal_quarantine
from gateway.keys import Keys
from gateway.store import Database
from gateway.store import tables as t

BATCH = 500
SEALED_COLUMNS = ("candidates.id_number", "candidates.mobile", "quarantine.payload")


@dataclass
class SealReport:
    candidates: int = 0
    quarantine: int = 0

    @property
    def total(self) -> int:
        return self.candidates + self.quarantine


def _stale(column: ColumnElement[str], keys: Keys, rotate: bool) -> ColumnElement[bool]:
    """Values not sealed (or, when rotating, not sealed under the active key)."""
    wanted = f"{PREFIX}{keys.active_key_id}:%" if rotate else f"{PREFIX}%"
    return and_(column.is_not(None), column != "", not_(column.like(wanted)))


async def _candidates_batch(
    conn: AsyncConnection, keys: Keys, after: int, rotate: bool
) -> tuple[int, int]:
    c = t.candidates.c
    rows = (
        await conn.execute(
            select(c.id, c.id_hash, c.id_number, c.mobile)
            .where(c.id > after)
            .where(or_(_stale(c.id_number, keys, rotate), _stale(c.mobile, keys, rotate)))
            .order_by(c.id)
            .limit(BATCH)
        )
    ).all()
    for r in rows:
        values = {}
        for column in ("id_number", "mobile"):
            plain = open_value(
                keys, getattr(r, column), table="candidates", column=column, row_key=r.id_hash
            )
            if plain:
                values[column] = seal(
                    keys, plain, table="candidates", column=column, row_key=r.id_hash
                )
        await conn.execute(t.candidates.update().where(c.id == r.id).values(**values))
    return (rows[-1].id if rows else -1), len(rows)


async def _quarantine_batch(
    conn: AsyncConnection, keys: Keys, after: int, rotate: bool
) -> tuple[int, int]:
    q = t.quarantine.c
    rows = (
        await conn.execute(
            select(q.id, q.organization, q.stream, q.payload)
            .where(q.id > after)
            .where(_stale(q.payload, keys, rotate))
            .order_by(q.id)
            .limit(BATCH)
        )
    ).all()
    for r in rows:
        plain = open_quarantine(keys, dict(r._mapping))
        sealed = seal_quarantine(keys, plain, r.organization, r.stream)
        await conn.execute(t.quarantine.update().where(q.id == r.id).values(payload=sealed))
    return (rows[-1].id if rows else -1), len(rows)


async def seal_pending(db: Database, keys: Keys, *, rotate: bool = False) -> SealReport:
    """Seal every value still in clear (``rotate``: every value not under the active key)."""
    report = SealReport()
    for name, batch in (("candidates", _candidates_batch), ("quarantine", _quarantine_batch)):
        after = 0
        while True:
            async with db.begin() as conn:
                last, count = await batch(conn, keys, after, rotate)
            if last < 0:
                break
            setattr(report, name, getattr(report, name) + count)
            after = last
    return report


# --- retention ------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    before: datetime
    candidates: int = 0  # never registered, not touched since ``before``: deleted
    quarantine_payloads: int = 0  # payload emptied; the row (error, run, time) stays
    uploads: int = 0  # console uploads and their results deleted
    dry_run: bool = False


def _unregistered(before: datetime) -> Any:
    c, r = t.candidates.c, t.registrations.c
    return (
        select(c.id)
        .where(c.created_at < before, c.updated_at < before)
        .where(~exists().where(r.candidate_id == c.id))
    )


async def purge(db: Database, before: datetime, *, dry_run: bool = False) -> PurgeReport:
    """Remove personal data no longer needed, as of ``before``: candidates never registered
    (the pseudonymous ledger, accounts and scores stay: they hold no ID number or mobile) and
    the raw payloads of quarantined records. Batches of committed transactions."""
    report = PurgeReport(before=before, dry_run=dry_run)
    q = t.quarantine.c
    stale_payloads = and_(q.created_at < before, q.payload != "")
    async with db.connect() as conn:
        report.candidates = int(
            (
                await conn.execute(
                    select(func.count()).select_from(_unregistered(before).subquery())
                )
            ).scalar_one()
        )
        report.quarantine_payloads = int(
            (await conn.execute(select(func.count()).where(stale_payloads))).scalar_one()
        )
    if dry_run:
        return report
    while True:
        async with db.begin() as conn:
            ids = list((await conn.execute(_unregistered(before).limit(BATCH))).scalars())
            if not ids:
                break
            await conn.execute(t.candidates.delete().where(t.candidates.c.id.in_(ids)))
    async with db.begin() as conn:
        await conn.execute(t.quarantine.update().where(stale_payloads).values(payload=""))
    return report
