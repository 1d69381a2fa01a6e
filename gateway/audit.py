"""The one audit trail: who did what to whom, when, from where, and with what outcome.

Invariant: a row names its target pseudonymously (an ``id_hash``, an account id, a row id,
a user name), never by an ID number or a mobile: ``record`` refuses a target that masking
would change, and masks the details. Every look-up of a person (``credits show``,
``credits transcript``, the web console's pages) and every state-changing or refused action of
the console writes one row, in the same transaction as the work when there is one, so a
look-up whose audit row cannot be written is not shown.

API (all callers, CLI and web, use these two)::

    await audit.record(conn, actor="wang", action="credits.show", target=id_hash,
                       outcome="ok", origin="cli@host", details={"format": "xlsx"})
    rows = await audit.query(conn, actor="wang", action="credits.show",
                             since=datetime(...), until=datetime(...), target=..., limit=200)

``outcome`` is one of ``ok``, ``refused`` (not allowed), ``not_found``, ``failed``. ``action``
is a dotted name, ``<area>.<verb>`` (``credits.show``, ``privacy.purge``, ``console.login``).
``cli_actor()`` and ``cli_origin()`` give the operating-system user and host for commands.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.masking import mask_text
from gateway.store import tables as t

OUTCOMES = ("ok", "refused", "not_found", "failed")
MAX_QUERY = 10_000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    origin: str
    action: str
    target: str | None
    outcome: str
    details: dict[str, Any] | None


def cli_actor() -> str:
    """The operating-system user running a command (the CLI has no login of its own)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def cli_origin() -> str:
    return f"cli@{socket.gethostname()}"


def _checked(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if mask_text(value) != value:
        raise ValueError(f"audit {what} looks like personal data: use a pseudonymous reference")
    if len(value) > limit:
        raise ValueError(f"audit {what} longer than {limit} characters")
    return value


def _masked_details(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if details is None:
        return None
    result: dict[str, Any] = json.loads(mask_text(json.dumps(dict(details), default=str)))
    return result


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    outcome: str = "ok",
    origin: str = "",
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append one audit row; returns its id. ``conn`` should be the work's own transaction."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    row = {
        "at": at or datetime.now(UTC),
        "actor": _checked(actor, "actor", 128) or "unknown",
        "origin": _checked(origin or cli_origin(), "origin", 128),
        "action": _checked(action, "action", 64),
        "target": _checked(target, "target", 128),
        "outcome": outcome,
        "details": _masked_details(details),
    }
    result = await conn.execute(t.audit_log.insert().returning(t.audit_log.c.id), row)
    return int(result.scalar_one())


async def query(
    conn: AsyncConnection,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    """Audit rows, newest first. ``action`` ending in ``.`` or ``*`` matches a prefix
    (``credits.*``); ``since`` is inclusive, ``until`` exclusive."""
    a = t.audit_log
    stmt = select(a).order_by(a.c.at.desc(), a.c.id.desc()).limit(min(limit, MAX_QUERY))
    if actor:
        stmt = stmt.where(a.c.actor == actor)
    if action:
        if action.endswith(("*", ".")):
            stmt = stmt.where(a.c.action.startswith(action.rstrip("*"), autoescape=True))
        else:
            stmt = stmt.where(a.c.action == action)
    if target:
        stmt = stmt.where(a.c.target == target)
    if outcome:
        stmt = stmt.where(a.c.outcome == outcome)
    if since:
        stmt = stmt.where(a.c.at >= since)
    if until:
        stmt = stmt.where(a.c.at < until)
    rows = await conn.execute(stmt)
    return [
        AuditEntry(
            id=r.id,
            at=r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            actor=r.actor,
            origin=r.origin,
            action=r.action,
            target=r.target,
            outcome=r.outcome,
            details=r.details,
        )
        for r in rows
    ]
