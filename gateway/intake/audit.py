"""The audit trail of submissions: who sent which file (by its SHA-256), when, to whom.

One ``submissions`` row per organization and plan of a submitted file; each registration the
submission created points at it (``registrations.submission_id``), so "who registered this
candidate, from which file" always has an answer.
"""

from __future__ import annotations

import getpass
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import tables as t


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def default_operator() -> str:
    """The OS user running the command (``--operator`` overrides it)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        return "unknown"


@dataclass(frozen=True)
class SubmissionRecord:
    operator: str
    file_name: str
    file_sha256: str
    organization: str
    plan_code: str
    rows_total: int
    rows_valid: int
    fee_charged: Decimal
    fee_waived: Decimal


async def record_submission(conn: AsyncConnection, record: SubmissionRecord) -> int:
    result = await conn.execute(
        t.submissions.insert()
        .values(
            operator=record.operator[:128],
            file_name=record.file_name[:512],
            file_sha256=record.file_sha256,
            organization=record.organization,
            plan_code=record.plan_code,
            rows_total=record.rows_total,
            rows_valid=record.rows_valid,
            rows_accepted=0,
            rows_rejected=0,
            fee_charged=record.fee_charged,
            fee_waived=record.fee_waived,
            created_at=datetime.now(UTC),
        )
        .returning(t.submissions.c.id)
    )
    return int(result.scalar_one())


async def finish_submission(
    conn: AsyncConnection, submission_id: int, *, accepted: int, rejected: int
) -> None:
    await conn.execute(
        t.submissions.update()
        .where(t.submissions.c.id == submission_id)
        .values(rows_accepted=accepted, rows_rejected=rejected, finished_at=datetime.now(UTC))
    )
