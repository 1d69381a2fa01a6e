"""Single sign-on links: which local console user a campus account signs in as.

Invariants: a campus account (the value of the configured identity claim, e.g. a 工号 or 学号)
signs in only as the one local user linked to it (``console_sso_links``), or, for a learner,
as the ``learner`` user whose learning account's 学号 equals it; the role is always the local
user's, never the identity provider's. A disabled user is never returned. One account links to
at most one user and one user to at most one account.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import InputError
from gateway.store import Database
from gateway.store import tables as t
from gateway.users import User, get_user, user_by_id

MAX_SUBJECT = 128


def check_subject(subject: str) -> str:
    text = subject.strip()
    if not text or len(text) > MAX_SUBJECT:
        raise InputError(f"a campus account needs 1 to {MAX_SUBJECT} characters")
    return text


async def link_subject(conn: AsyncConnection, username: str, subject: str) -> None:
    """Link ``username`` to the campus account ``subject`` (replacing the user's old link)."""
    account = check_subject(subject)
    user = await get_user(conn, username)
    if user is None:
        raise InputError(f"no console user named {username!r}")
    links = t.console_sso_links
    owner = (await conn.execute(select(links.c.user_id).where(links.c.subject == account))).first()
    if owner is not None and owner[0] != user.id:
        raise InputError(f"campus account {account!r} is already linked to another user")
    await conn.execute(delete(links).where(links.c.user_id == user.id))
    await conn.execute(
        insert(links).values(user_id=user.id, subject=account, created_at=datetime.now(UTC))
    )


async def link(db: Database, username: str, subject: str) -> None:
    async with db.begin() as conn:
        await link_subject(conn, username, subject)


async def linked_subject(conn: AsyncConnection, user_id: int) -> str | None:
    links = t.console_sso_links
    row = (await conn.execute(select(links.c.subject).where(links.c.user_id == user_id))).first()
    return str(row[0]) if row else None


async def _learner_by_student_number(conn: AsyncConnection, number: str) -> int | None:
    """The learner user whose learning account's 学号 is ``number`` (roster or candidate)."""
    hashes = union(
        select(t.roster_students.c.id_hash).where(t.roster_students.c.student_number == number),
        select(t.candidates.c.id_hash).where(t.candidates.c.student_number == number),
    )
    rows = (
        await conn.execute(
            select(t.learner_logins.c.user_id).where(t.learner_logins.c.id_hash.in_(hashes))
        )
    ).all()
    return int(rows[0][0]) if len(rows) == 1 else None  # ambiguous -> nobody


async def user_for_subject(conn: AsyncConnection, subject: str) -> User | None:
    """The enabled local user a campus account signs in as, or None."""
    links = t.console_sso_links
    row = (await conn.execute(select(links.c.user_id).where(links.c.subject == subject))).first()
    uid = int(row[0]) if row else await _learner_by_student_number(conn, subject)
    user = await user_by_id(conn, uid) if uid is not None else None
    if user is None or user.disabled:
        return None
    if row is None and user.role != "learner":
        return None  # the 学号 route is for learners only; staff must be linked explicitly
    return user


async def sign_in_subject(db: Database, subject: str, now: datetime) -> User | None:
    """The user a verified campus account signs in as (its last sign-in stamped), or None."""
    async with db.begin() as conn:
        user = await user_for_subject(conn, subject)
        if user is not None:
            await conn.execute(
                update(t.console_users)
                .where(t.console_users.c.id == user.id)
                .values(last_login_at=now)
            )
    return user
