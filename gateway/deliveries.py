"""Webhook deliveries recognised by the digest of their body, so a replay changes nothing.

Invariant: one row per (organization, body digest), claimed before the delivery is applied;
a second delivery of the same body finds the row and gets the first one's result back without
starting a run. A delivery whose application failed releases its claim, so the organization's
retry is applied; one whose process died mid-way keeps it (the nightly sync reads the same
records from the organization, the reference for everything a webhook brings).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.store import Database
from gateway.store import tables as t

_D = t.webhook_deliveries


async def claim(db: Database, organization: str, digest: str) -> dict[str, Any] | None:
    """None: this delivery is new and now ours to apply. Otherwise what the first one did."""
    try:
        async with db.begin() as conn:
            await conn.execute(
                _D.insert().values(
                    organization=organization,
                    digest=digest,
                    status="processing",
                    received_at=datetime.now(UTC),
                )
            )
        return None
    except IntegrityError:
        pass
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(_D.c.status, _D.c.result).where(
                    _D.c.organization == organization, _D.c.digest == digest
                )
            )
        ).first()
    if row is None:  # released between our insert and this read: let the sender retry
        return {"organization": organization, "status": "retry"}
    if row.status != "done" or row.result is None:
        return {"organization": organization, "status": "processing"}
    return dict(row.result)


async def finish(db: Database, organization: str, digest: str, result: dict[str, Any]) -> None:
    async with db.begin() as conn:
        await conn.execute(
            _D.update()
            .where(_D.c.organization == organization, _D.c.digest == digest)
            .values(status="done", result=result)
        )


async def release(db: Database, organization: str, digest: str) -> None:
    async with db.begin() as conn:
        await conn.execute(
            _D.delete().where(_D.c.organization == organization, _D.c.digest == digest)
        )
