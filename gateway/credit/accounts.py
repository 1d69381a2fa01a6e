"""Learning accounts (个人学习账号): one per person, students and non-students alike.

An account is keyed by ``id_hash`` (the salted hash of the validated ID number) and shows a
masked ID for staff; the ID number itself stays in ``candidates``. Accounts are created on
demand by the sync (certificate holders) and by imports (course and training credits), possibly
by two workers at once, so creation is insert-if-absent and never fails on a race.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.ledger import chunks
from gateway.store import tables as t
from gateway.store.among import among
from gateway.store.bulk import insert_new_returning

KINDS = ("student", "staff", "public")
accounts = t.learning_accounts


@dataclass(frozen=True)
class Account:
    id: int
    id_hash: str
    id_masked: str
    name: str | None
    kind: str
    created_at: datetime
    head_seq: int


async def ensure_accounts(
    conn: AsyncConnection,
    people: Iterable[tuple[str, str, str | None, str]],
    *,
    now: datetime | None = None,
    created: set[str] | None = None,
) -> dict[str, int]:
    """Create the missing accounts of ``(id_hash, id_masked, name, kind)``; id_hash -> account id.

    An existing account keeps its masked ID and kind; a missing name is filled in. ``created``,
    when given, receives the id hashes whose accounts this call opened (an empty ledger, so
    whoever reconciles them in the same transaction need not read them back).
    """
    now = now or datetime.now(UTC)
    wanted: dict[str, tuple[str, str | None, str]] = {}
    for id_hash, id_masked, name, kind in people:
        if kind not in KINDS:
            raise ValueError(f"account kind must be one of {', '.join(KINDS)}, not {kind!r}")
        wanted.setdefault(id_hash, (id_masked, name or None, kind))
    ids: dict[str, int] = {}
    for part in chunks(sorted(wanted)):
        # Insert first (skipping ids taken, perhaps by a concurrent worker): a new person's
        # account costs this one statement; only the others are read.
        returned = await insert_new_returning(
            conn,
            accounts,
            ("id_hash", "id_masked", "name", "kind", "created_at", "head_seq"),
            [(h, *wanted[h], now, 0) for h in part],
            key=("id_hash",),
            returning=("id", "id_hash"),
        )
        inserted = {id_hash: account_id for account_id, id_hash in returned}
        ids.update(inserted)
        if created is not None:
            created.update(inserted)
        others = [h for h in part if h not in inserted]
        if not others:
            continue
        existing = {
            r.id_hash: (r.id, r.name)
            for r in await conn.execute(
                select(accounts.c.id, accounts.c.id_hash, accounts.c.name).where(
                    among(conn.dialect, accounts.c.id_hash, others)
                )
            )
        }
        unnamed = [
            {"b_id": existing[h][0], "b_name": wanted[h][1]}
            for h in others
            if wanted[h][1] and not existing[h][1]
        ]
        if unnamed:
            await conn.execute(
                accounts.update()
                .where(accounts.c.id == bindparam("b_id"), accounts.c.name.is_(None))
                .values(name=bindparam("b_name")),
                unnamed,
            )
        ids.update({h: existing[h][0] for h in others})
    return ids


async def accounts_by_hash(conn: AsyncConnection, id_hashes: Iterable[str]) -> dict[str, Account]:
    found: dict[str, Account] = {}
    for part in chunks(sorted(set(id_hashes))):
        query = select(accounts).where(among(conn.dialect, accounts.c.id_hash, part))
        for r in await conn.execute(query):
            found[r.id_hash] = Account(
                r.id, r.id_hash, r.id_masked, r.name, r.kind, r.created_at, r.head_seq or 0
            )
    return found


async def get_account(conn: AsyncConnection, id_hash: str) -> Account | None:
    return (await accounts_by_hash(conn, [id_hash])).get(id_hash)


async def holders(
    conn: AsyncConnection, id_hashes: Iterable[str]
) -> dict[str, tuple[str, str, str]]:
    """id_hash -> (masked ID, name, kind) for people in ``candidates``, to open their accounts.

    Someone with a student number is a student; anyone else the college assesses is treated as
    a member of the public until staff say otherwise.
    """
    found: dict[str, tuple[str, str, str]] = {}
    c = t.candidates
    for part in chunks(sorted(set(id_hashes))):
        for r in await conn.execute(
            select(c.c.id_hash, c.c.id_masked, c.c.name, c.c.student_number).where(
                c.c.id_hash.in_(part)
            )
        ):
            kind = "student" if r.student_number else "public"
            found[r.id_hash] = (r.id_masked or "", r.name, kind)
    return found
