"""The database handle: one async engine, migrations on first use, the per-database salt.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so a
nightly sync and a staff submission can overlap. PostgreSQL is reached through asyncpg; an
optional ``schema`` confines everything (tables and Alembic's version table) to one schema,
which is how the tests give each test a database of its own.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.errors import ConfigurationError
from gateway.store import tables as t

MIGRATIONS = Path(__file__).with_name("migrations")
#: advisory lock key held while migrating a PostgreSQL database ("xgatemig")
MIGRATION_LOCK = 0x78676174_656D6967


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, emit BEGIN (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """Write transactions take SQLite's write lock up front (``BEGIN IMMEDIATE``).

    A deferred transaction that reads and then writes cannot wait for a concurrent writer:
    SQLite fails it at once with "database is locked" instead of honouring busy_timeout.
    Taking the lock at BEGIN makes concurrent writers (sync streams, a staff submission)
    queue politely behind each other.
    """
    immediate = conn.get_execution_options().get("xgate_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs; use the async drivers."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


@dataclass
class Database:
    engine: AsyncEngine
    url: str
    schema: str | None = None
    _salt: str | None = field(default=None, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def path(self) -> str | None:
        """The SQLite file, for reports; None for a server database."""
        if not self.is_sqlite:
            return None
        db = make_url(self.url).database
        return str(Path(db).resolve()) if db and db != ":memory:" else db

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any exception."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(xgate_write=True)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def salt(self, configured: str | None = None) -> str:
        """The salt for hashed ID numbers: configured, or random and kept in the database.

        Every stored hash depends on it, so the database remembers a fingerprint of the salt it
        was first used with and refuses another one (a changed ``XGATE_ID_SALT`` would make
        every registered candidate look new and every learner get a second account).
        """
        if self._salt:
            return self._salt
        async with self.begin() as conn:
            rows = await conn.execute(
                select(t.meta.c.key, t.meta.c.value).where(
                    t.meta.c.key.in_(("id_salt", "id_salt_sha256"))
                )
            )
            stored: dict[str, str] = {row.key: row.value for row in rows}
            salt = configured or stored.get("id_salt")
            if salt is None:
                salt = secrets.token_hex(16)
                await conn.execute(t.meta.insert().values(key="id_salt", value=salt))
            fingerprint = hashlib.sha256(f"xgate-salt:{salt}".encode()).hexdigest()
            known = stored.get("id_salt_sha256")
            if known is None:
                await conn.execute(t.meta.insert().values(key="id_salt_sha256", value=fingerprint))
            elif known != fingerprint:
                raise ConfigurationError(
                    "this database was created with a different id_salt: hashed ID numbers "
                    "would no longer match (candidates would look new, learners would get "
                    "second accounts). Use the original XGATE_ID_SALT, or a new database."
                )
        self._salt = salt
        return salt

    async def upgrade(self) -> str | None:
        """Apply every pending migration; returns the new head revision."""
        async with self.begin() as conn:
            return await conn.run_sync(_upgrade, self.schema)

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _alembic_config(connection: Connection, schema: str | None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    return cfg


def _upgrade(connection: Connection, schema: str | None) -> str | None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        # several workers starting on an empty database: one migrates, the others wait for
        # its commit and then find the head already there
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    command.upgrade(_alembic_config(connection, schema), "head")
    return _current(connection)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def open_database(
    url: str, *, schema: str | None = None, migrate: bool = True, echo: bool = False
) -> Database:
    """Open (and on first use, create) the database at ``url``.

    An empty database is migrated to the head automatically; one at an older revision is
    migrated too when ``migrate`` is true (the default), so a fresh ``pip install -U`` followed
    by ``xgate sync`` just works. ``xgate db upgrade`` does the same explicitly.
    """
    url = normalise_url(url)
    # statement parameters (ID numbers, mobiles) never appear in a database error's text
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("postgresql+asyncpg") and schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    try:
        engine = create_async_engine(url, **kwargs)
    except Exception as exc:  # bad URL or missing driver
        raise ConfigurationError(f"cannot use database URL: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    db = Database(engine=engine, url=url, schema=schema)
    if migrate:
        try:
            current = await db.revision()
            if current != head_revision():
                await db.upgrade()
        except ConfigurationError:
            raise
        except Exception as exc:  # unreachable server, bad credentials, unwritable file
            await engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise ConfigurationError(
                f"cannot open database {make_url(url).render_as_string(hide_password=True)}: "
                f"{type(reason).__name__}: {reason}"
            ) from None
    return db
