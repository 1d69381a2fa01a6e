"""Console users: who may sign in, with which role; API tokens; login throttling.

Invariants: a password is stored only as an argon2id hash (argon2-cffi) and an API token only
as its SHA-256 (it is shown once, when made); a user is never deleted, only disabled, so the
audit trail keeps naming them; a disabled user, or a name or address locked by throttling,
cannot sign in whatever the password. Throttling counts failures per user name and per client
address: ``MAX_FAILURES`` within ``LOCK_FOR`` locks that key for ``LOCK_FOR`` (a success clears
the user's count). Every function takes ``now`` so tests move a clock instead of sleeping.

Roles live in ``ROLES`` (name -> Chinese and English label), in order of power; a later issue
adds one by appending to it (see docs/console.md).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import InputError
from gateway.store import Database
from gateway.store import tables as t

ROLES: dict[str, tuple[str, str]] = {
    "admin": ("管理员", "administrator"),
    "staff": ("教务人员", "staff"),
    "finance": ("财务人员", "finance"),
    "viewer": ("只读", "viewer"),
    "learner": (
        "学员",
        "learner",
    ),  # issue 16: sees only their own record (gateway.web.selfservice)
}
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10
TOKEN_PREFIX = "xg_"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return value


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def new_password() -> str:
    """A random password that a person can type (used by ``xgate demo`` and ``users add``)."""
    return secrets.token_urlsafe(12)


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        m["id"],
        m["username"],
        m["role"],
        bool(m["disabled"]),
        _aware(m["created_at"]) or _now(),
        _aware(m["last_login_at"]),
    )


_COLUMNS = (
    t.console_users.c.id,
    t.console_users.c.username,
    t.console_users.c.role,
    t.console_users.c.disabled,
    t.console_users.c.created_at,
    t.console_users.c.last_login_at,
)


async def get_user(conn: AsyncConnection, username: str) -> User | None:
    row = (
        await conn.execute(select(*_COLUMNS).where(t.console_users.c.username == username))
    ).first()
    return _user(row) if row else None


async def user_by_id(conn: AsyncConnection, user_id: int) -> User | None:
    row = (await conn.execute(select(*_COLUMNS).where(t.console_users.c.id == user_id))).first()
    return _user(row) if row else None


async def list_users(db: Database) -> list[User]:
    async with db.connect() as conn:
        rows = await conn.execute(select(*_COLUMNS).order_by(t.console_users.c.username))
        return [_user(r) for r in rows]


async def add_user(db: Database, username: str, role: str, password: str) -> User:
    async with db.begin() as conn:
        return await create_user(conn, username, role, password)


async def create_user(conn: AsyncConnection, username: str, role: str, password: str) -> User:
    """``add_user`` inside the caller's transaction (a learner's activation links the new
    user to their learning account in the same commit)."""
    if not _NAME.match(username):
        raise InputError("a user name is 2-64 letters, digits or _.@-")
    check_role(role)
    check_password(password)
    now = _now()
    if await get_user(conn, username) is not None:
        raise InputError(f"user {username!r} exists already")
    await conn.execute(
        t.console_users.insert().values(
            username=username,
            password_hash=_hasher.hash(password),
            role=role,
            disabled=False,
            created_at=now,
            password_changed_at=now,
        )
    )
    user = await get_user(conn, username)
    assert user is not None
    return user


async def _require(conn: AsyncConnection, username: str) -> User:
    user = await get_user(conn, username)
    if user is None:
        raise InputError(f"no user {username!r}")
    return user


async def set_password(db: Database, username: str, password: str) -> None:
    check_password(password)
    async with db.begin() as conn:
        await _require(conn, username)
        await conn.execute(
            update(t.console_users)
            .where(t.console_users.c.username == username)
            .values(password_hash=_hasher.hash(password), password_changed_at=_now())
        )


async def set_disabled(db: Database, username: str, disabled: bool = True) -> None:
    """Disable (or enable) a user; disabling also revokes their API tokens."""
    async with db.begin() as conn:
        user = await _require(conn, username)
        await conn.execute(
            update(t.console_users).where(t.console_users.c.id == user.id).values(disabled=disabled)
        )
        if disabled:
            await conn.execute(
                update(t.console_tokens)
                .where(
                    t.console_tokens.c.user_id == user.id,
                    t.console_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=_now())
            )


async def set_role(db: Database, username: str, role: str) -> None:
    check_role(role)
    async with db.begin() as conn:
        await _require(conn, username)
        await conn.execute(
            update(t.console_users).where(t.console_users.c.username == username).values(role=role)
        )


# --- API tokens -------------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_token(db: Database, username: str) -> str:
    """Make an API token for the user; returns it (the database keeps only its SHA-256)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.begin() as conn:
        user = await _require(conn, username)
        if user.disabled:
            raise InputError(f"user {username!r} is disabled")
        await conn.execute(
            t.console_tokens.insert().values(
                user_id=user.id,
                token_sha256=_token_digest(token),
                prefix=token[:10],
                created_at=_now(),
            )
        )
    return token


async def user_for_token(db: Database, token: str, now: datetime | None = None) -> User | None:
    """The enabled user a token belongs to, or None (unknown, revoked, user disabled)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    tok = t.console_tokens.c
    async with db.begin() as conn:
        row = (
            await conn.execute(
                select(tok.id, tok.user_id).where(
                    tok.token_sha256 == _token_digest(token), tok.revoked_at.is_(None)
                )
            )
        ).first()
        if row is None:
            return None
        user = await user_by_id(conn, row.user_id)
        if user is None or user.disabled:
            return None
        await conn.execute(
            update(t.console_tokens).where(tok.id == row.id).values(last_used_at=now or _now())
        )
    return user


# --- signing in and throttling ----------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    reason: str  # ok, bad_credentials, disabled, locked

    @property
    def ok(self) -> bool:
        return self.user is not None


async def _locked(conn: AsyncConnection, keys: list[tuple[str, str]], now: datetime) -> bool:
    lf = t.login_failures.c
    for kind, key in keys:
        row = (
            await conn.execute(select(lf.locked_until).where(lf.kind == kind, lf.key == key))
        ).first()
        until = _aware(row.locked_until) if row else None
        if until is not None and until > now:
            return True
    return False


async def _fail(conn: AsyncConnection, keys: list[tuple[str, str]], now: datetime) -> None:
    lf = t.login_failures.c
    for kind, key in keys:
        row = (
            await conn.execute(
                select(lf.failures, lf.first_at, lf.locked_until).where(
                    lf.kind == kind, lf.key == key
                )
            )
        ).first()
        if row is None:
            await conn.execute(
                t.login_failures.insert().values(kind=kind, key=key, failures=1, first_at=now)
            )
            continue
        first = _aware(row.first_at) or now
        until = _aware(row.locked_until)
        expired = now - first > LOCK_FOR or (until is not None and until <= now)
        failures = 1 if expired else row.failures + 1
        await conn.execute(
            update(t.login_failures)
            .where(lf.kind == kind, lf.key == key)
            .values(
                failures=failures,
                first_at=now if expired else first,
                locked_until=now + LOCK_FOR if failures >= MAX_FAILURES else None,
            )
        )


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def authenticate(
    db: Database, username: str, password: str, address: str, now: datetime | None = None
) -> LoginResult:
    """Check a user name and password from a client address, with throttling."""
    now = now or _now()
    keys = [("user", username[:128]), ("address", address[:128])]
    async with db.begin() as conn:
        if await _locked(conn, keys, now):
            return LoginResult(None, "locked")
        row = (
            await conn.execute(
                select(t.console_users.c.password_hash).where(
                    t.console_users.c.username == username
                )
            )
        ).first()
        if row is None:
            _hasher.hash(password)  # the same cost as for a real user: no timing oracle
            await _fail(conn, keys, now)
            return LoginResult(None, "bad_credentials")
        if not _verify(row.password_hash, password):
            await _fail(conn, keys, now)
            return LoginResult(None, "bad_credentials")
        user = await get_user(conn, username)
        assert user is not None
        if user.disabled:
            return LoginResult(None, "disabled")
        await conn.execute(
            t.login_failures.delete().where(
                t.login_failures.c.kind == "user", t.login_failures.c.key == keys[0][1]
            )
        )
        await conn.execute(
            update(t.console_users).where(t.console_users.c.id == user.id).values(last_login_at=now)
        )
    return LoginResult(user, "ok")
