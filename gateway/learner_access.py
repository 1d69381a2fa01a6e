"""Learner self-service accounts: a console user of role ``learner`` bound to one person.

Accounts come from the student roster (``roster_students``, issue 13), and from candidate lists
for anyone with a 学号 not on it.

Invariants: a learner user is linked (``learner_logins``) to exactly one person's ``id_hash``,
set once at activation and never taken from a request afterwards, so whatever a learner asks
for, the console answers about that person only. Activation needs a one-time code that staff
hand out (``invite``): 12 characters from a 32-letter alphabet (60 bits), valid
``INVITE_DAYS`` days, stored only as its SHA-256, usable once, and only together with the
learner's own 学号 or ID number; a new code for the same person cancels the old ones.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import InputError
from gateway.runtime import Gateway
from gateway.store import Database
from gateway.store import tables as t
from gateway.users import User, create_user

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 12
INVITE_DAYS = 14
LEARNER = "learner"
REFUSED = "this activation code and 学号/ID number do not match an open invitation"


@dataclass(frozen=True)
class Invitation:
    id_hash: str
    name: str | None
    student_number: str | None
    code: str  # shown once, to hand out
    expires_at: datetime


def _digest(code: str) -> str:
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(clean.encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


async def _person(conn: AsyncConnection, id_hash: str) -> tuple[str | None, str | None]:
    """(name, 学号) from the roster, else a candidate list, else the learning account."""
    r = t.roster_students
    listed = (
        await conn.execute(select(r.c.name, r.c.student_number).where(r.c.id_hash == id_hash))
    ).first()
    if listed is not None:
        return listed.name, listed.student_number
    c = t.candidates
    row = (
        await conn.execute(select(c.c.name, c.c.student_number).where(c.c.id_hash == id_hash))
    ).first()
    if row is not None:
        return row.name, row.student_number
    a = t.learning_accounts
    acc = (await conn.execute(select(a.c.name).where(a.c.id_hash == id_hash))).first()
    if acc is None:
        raise InputError("no such learner on record / 未找到该学员")
    return acc.name, None


async def invite(
    db: Database, id_hash: str, *, by: str | None = None, now: datetime | None = None
) -> Invitation:
    """A fresh one-time code for this person (earlier unused codes stop working)."""
    now = now or datetime.now(UTC)
    code = new_code()
    async with db.begin() as conn:
        name, number = await _person(conn, id_hash)
        i = t.learner_invites
        await conn.execute(
            i.update().where(i.c.id_hash == id_hash, i.c.used_at.is_(None)).values(expires_at=now)
        )
        expires = now + timedelta(days=INVITE_DAYS)
        await conn.execute(
            i.insert().values(
                id_hash=id_hash,
                code_hash=_digest(code),
                created_at=now,
                expires_at=expires,
                created_by=by,
            )
        )
    return Invitation(id_hash, name, number, code, expires)


async def invite_students(
    db: Database, *, by: str | None = None, now: datetime | None = None
) -> list[Invitation]:
    """A code for every enrolled (在读) student of the roster, and every candidate with a 学号
    not on it, who has no learner login yet."""
    r, c, links = t.roster_students, t.candidates, t.learner_logins
    linked = select(links.c.id_hash)
    async with db.connect() as conn:
        listed = await conn.execute(
            select(r.c.id_hash)
            .where(r.c.status == "enrolled", r.c.id_hash.not_in(linked))
            .order_by(r.c.student_number)
        )
        hashes = list(listed.scalars())
        others = await conn.execute(
            select(c.c.id_hash)
            .where(c.c.student_number.is_not(None))
            .where(c.c.id_hash.not_in(linked), c.c.id_hash.not_in(select(r.c.id_hash)))
            .order_by(c.c.student_number)
        )
        hashes += list(others.scalars())
    return [await invite(db, h, by=by, now=now) for h in hashes]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def activate(
    gw: Gateway, login: str, code: str, password: str, *, now: datetime | None = None
) -> User:
    """Create the learner's console user (user name: their 学号, else ``learner-N``), link it
    to them and use the code up, in one transaction. Every mismatch gets the same answer."""
    from gateway.credentials.issue import learner_hash

    now = now or datetime.now(UTC)
    try:
        claimed = await learner_hash(gw, login)
    except InputError:
        raise InputError(REFUSED) from None
    i = t.learner_invites
    async with gw.db.begin() as conn:
        row = (await conn.execute(select(i).where(i.c.code_hash == _digest(code)))).first()
        if (
            row is None
            or row.used_at is not None
            or _aware(row.expires_at) <= now
            or row.id_hash != claimed
        ):
            raise InputError(REFUSED)
        linked = await conn.execute(
            select(t.learner_logins.c.user_id).where(t.learner_logins.c.id_hash == claimed)
        )
        if linked.first() is not None:
            raise InputError("this learner is activated already: sign in / 已激活，请直接登录")
        _name, number = await _person(conn, claimed)
        user = await create_user(conn, number or f"learner-{row.id}", LEARNER, password)
        await conn.execute(i.update().where(i.c.id == row.id).values(used_at=now))
        await conn.execute(
            t.learner_logins.insert().values(user_id=user.id, id_hash=claimed, created_at=now)
        )
    return user


async def learner_of(conn: AsyncConnection, user: User) -> str | None:
    """The person a learner user may see; None for anyone else."""
    if user.role != LEARNER:
        return None
    found = await conn.execute(
        select(t.learner_logins.c.id_hash).where(t.learner_logins.c.user_id == user.id)
    )
    value = found.scalar()
    return str(value) if value else None
