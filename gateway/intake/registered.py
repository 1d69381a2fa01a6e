"""Who is already registered: the one database read a file check makes.

People are stored under the keyed hash of their ID number, so the lookup hashes the file's ID
numbers with the key file's look-up key and joins ``registrations`` with ``candidates`` on it.
``xgate check`` may read an existing database but must never create one (nor bind keys to it),
so it opens the database through ``open_existing`` which gives up quietly when there is nothing
(no database, no key file, or a key file that does not belong to the database).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.intake.check import CheckedFile
from gateway.intake.problems import skip_note
from gateway.keys import Keys, load, mismatches, resolve_path, stored_fingerprints
from gateway.models import RegistrationStatus
from gateway.settings import Settings
from gateway.store import Database, open_database
from gateway.store import tables as t
from gateway.store.db import normalise_url

log = logging.getLogger("xgate.intake")
_CHUNK = 500
_UNSETTLED = (RegistrationStatus.PENDING, RegistrationStatus.SENT, RegistrationStatus.UNKNOWN)


@dataclass(frozen=True)
class ExistingRegistration:
    registration_id: int
    plan_code: str
    status: RegistrationStatus
    reason: str | None


async def already_registered(
    conn: AsyncConnection,
    plan_code: str,
    id_hashes: Collection[str],
    organization: str | None = None,
) -> dict[str, ExistingRegistration]:
    """Of these hashed ID numbers, those with a registration (any status) for the plan."""
    reg, cand = t.registrations, t.candidates
    found: dict[str, ExistingRegistration] = {}
    hashes = list(id_hashes)
    for i in range(0, len(hashes), _CHUNK):
        q = (
            select(cand.c.id_hash, reg.c.id, reg.c.plan_code, reg.c.status, reg.c.reason)
            .join(cand, cand.c.id == reg.c.candidate_id)
            .where(reg.c.plan_code == plan_code, cand.c.id_hash.in_(hashes[i : i + _CHUNK]))
        )
        if organization:
            q = q.where(reg.c.organization == organization)
        for r in await conn.execute(q):
            found[r.id_hash] = ExistingRegistration(
                r.id, r.plan_code, RegistrationStatus(r.status), r.reason
            )
    return found


async def mark_registered(
    conn: AsyncConnection,
    checked: CheckedFile,
    hasher: Callable[[str], str],
    organization: str | None = None,
) -> dict[int, ExistingRegistration]:
    """Mark valid rows whose candidate is already registered for the row's plan (and settled)
    as skipped; returns row number -> the existing registration, unsettled ones included."""
    by_plan: dict[str, dict[str, int]] = {}
    for r in checked.rows:
        if r.status != "valid" or r.entry is None or r.entry.plan is None:
            continue
        h = hasher(r.entry.id_number)
        by_plan.setdefault(r.entry.plan.code, {})[h] = r.row
    existing: dict[int, ExistingRegistration] = {}
    for plan_code, rows in by_plan.items():
        for h, reg in (await already_registered(conn, plan_code, rows, organization)).items():
            existing[rows[h]] = reg
    for r in checked.rows:
        earlier = existing.get(r.row)
        # A registration an earlier run left unsettled (pending, sent, unknown: a killed or
        # deferred submit) is not done: the row stays to be sent, so submitting the file again
        # delivers or reconciles it instead of skipping it for good.
        if earlier is not None and earlier.status not in _UNSETTLED:
            r.skip = skip_note(
                "already_registered", plan=earlier.plan_code, status=earlier.status.value
            )
    return existing


async def open_existing(settings: Settings) -> tuple[Database, Keys] | None:
    """The configured database and its keys, only if both already exist; never creates."""
    url = normalise_url(settings.database_url)
    if url.startswith("sqlite"):
        name = make_url(url).database
        if not name or name == ":memory:" or not Path(name).is_file():
            return None
    try:
        db = await open_database(url, schema=settings.database_schema, migrate=False)
    except Exception as exc:  # no driver, bad URL: a check still works without it
        log.info("not reading registrations: %s", type(exc).__name__)  # the URL may hold a password
        return None
    try:
        keys = load(resolve_path(settings.keys_file))
        async with db.connect() as conn:
            stored = await stored_fingerprints(conn)
        if stored and not mismatches(keys, stored):
            return db, keys
    except Exception as exc:  # unreachable server, no tables yet: nothing is registered
        log.info("not reading registrations: %s", type(exc).__name__)
    await db.dispose()
    return None


async def mark_registered_if_possible(
    checked: CheckedFile, settings: Settings
) -> dict[int, ExistingRegistration] | None:
    """For ``check`` and dry runs: mark already-registered rows when a database exists.
    Returns None when there was no database to read."""
    opened = await open_existing(settings)
    if opened is None:
        return None
    db, keys = opened
    try:
        async with db.connect() as conn:
            return await mark_registered(conn, checked, keys.hash_id)
    except Exception as exc:
        log.info("not reading registrations: %s", type(exc).__name__)
        return None
    finally:
        await db.dispose()
