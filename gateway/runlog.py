"""Reading what the gateway recorded about its own work: sync runs and quarantined records.

Read-only queries for the command line, the web console and reports; every writer of these
tables lives elsewhere (``gateway.sync`` records runs, ``gateway.records`` quarantines). Times
come back timezone-aware (UTC) whatever the database stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.clock import as_utc
from gateway.fieldcrypt import open_quarantine
from gateway.runtime import Gateway
from gateway.store import tables as t


def _aware_times(row: dict[str, Any]) -> dict[str, Any]:
    return {k: as_utc(v) if k.endswith("_at") else v for k, v in row.items()}


async def recent_runs(gw: Gateway, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ``limit`` sync runs, newest first, each with its streams in order."""
    runs, streams = t.sync_runs, t.sync_run_streams
    async with gw.db.connect() as conn:
        heads = (
            (await conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)))
            .mappings()
            .all()
        )
        ids = [h["id"] for h in heads]
        by_run: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            rows = await conn.execute(
                select(streams).where(streams.c.run_id.in_(ids)).order_by(streams.c.id)
            )
            for s in rows.mappings():
                by_run[s["run_id"]].append(
                    {k: v for k, v in s.items() if k not in ("id", "run_id")}
                )
    return [{**_aware_times(dict(h)), "streams": by_run[h["id"]]} for h in heads]


async def quarantined(gw: Gateway, organization: str | None = None) -> list[dict[str, Any]]:
    """Quarantined records without their payloads: id, organization, stream, run, error, at."""
    q = t.quarantine.c
    query = select(q.id, q.organization, q.stream, q.run_id, q.error, q.created_at)
    if organization:
        query = query.where(q.organization == organization)
    async with gw.db.connect() as conn:
        rows = (await conn.execute(query.order_by(q.id))).mappings()
        return [_aware_times(dict(r)) for r in rows]


async def quarantined_record(gw: Gateway, item: int) -> dict[str, Any] | None:
    """One quarantined record with its raw payload decrypted (mask before showing it)."""
    async with gw.db.connect() as conn:
        row = (
            (await conn.execute(select(t.quarantine).where(t.quarantine.c.id == item)))
            .mappings()
            .first()
        )
    if row is None:
        return None
    return _aware_times({**dict(row), "payload": open_quarantine(gw.keys, dict(row))})
