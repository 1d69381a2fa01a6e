"""The database handle: one async engine, migrations on first use.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so a
nightly sync and a staff submission can overlap. PostgreSQL is reached through asyncpg; an
optional ``schema`` confines everything (tables and Alembic's version table) to one schema,
which is how the tests give each test a database of its own.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.errors import ConfigurationError

MIGRATIONS = Path(__file__).with_name("migrations")
#: advisory lock key held while migrating a PostgreSQL database ("xgatemig")
MIGRATION_LOCK = 0x78676174_656D6967
WRITER_WAIT = 30.0  # seconds, as SQLite's busy_timeout


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, emit BEGIN (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    # A sync inserts keys that are random hashes, so each page's commit dirties index pages all
    # over the file. A 32 MiB page cache (default 2 MiB) and a checkpoint every ~40 MiB of WAL
    # (default ~4 MiB, which copied those pages back after almost every page's commit) cut
    # SQLite's CPU per inserted score by about a quarter (issue 14). Both are bounded: memory
    # stays flat however many records a sync brings.
    cur.execute("PRAGMA cache_size=-32768")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
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


def postgresql_settings(schema: str | None) -> dict[str, str]:
    """Session settings for every PostgreSQL connection.

    ``plan_cache_mode = force_custom_plan``: asyncpg prepares each statement once per
    connection and reuses it, and after five executions PostgreSQL may switch a prepared
    statement to a *generic* plan, one made without looking at the parameters. For the look-ups
    a page makes (``id_hash IN ($1, ..., $500)``) the generic plan is a sequential scan that
    tests every row against 500 parameters: each page then costs time in proportion to the
    table, and a sync of N records costs N squared (one such scan took 492 ms at 30,000 rows).
    A custom plan per execution uses the index; planning a page's statement costs well under a
    millisecond. ``benchmarks.sync_throughput --db postgresql --explain`` shows both plans.
    """
    settings = {"plan_cache_mode": "force_custom_plan"}
    if schema:
        settings["search_path"] = schema
    return settings


def _private_sqlite(path: Path) -> None:
    """The database file holds personal data: owner only (0600), created so when new; SQLite
    gives its -wal and -shm files the database file's permissions."""
    from gateway.private_files import prepare

    try:
        if path.parent.is_dir():
            prepare(path)
    except PermissionError:  # someone else's file we may only read: leave its mode alone
        pass


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
    #: the SQLite file's identity when opened (device, inode); see ``check_intact``
    _file_id: tuple[int, int] | None = field(default=None, repr=False)
    #: this process's SQLite writers queue here, one lock per event loop; see ``_sqlite_writer``
    _writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )

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

    def _current_file_id(self) -> tuple[int, int] | None:
        path = self.path
        if path is None or path == ":memory:":
            return None
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino)

    def remember_file(self) -> None:
        self._file_id = self._current_file_id()

    def exists(self) -> bool:
        """Whether an SQLite database file is there (a server database: always true here;
        an empty one is told by its revision)."""
        path = self.path
        return path is None or path == ":memory:" or Path(path).exists()

    def check_intact(self) -> None:
        """Raise if the SQLite file was deleted or replaced since it was opened: whatever was
        written since went to a file nobody will read again."""
        if self._file_id is not None and self._current_file_id() != self._file_id:
            raise ConfigurationError(
                f"the database file {self.path} was deleted or replaced while xgate was using "
                "it; this run's results are lost. Restore the file (or run `xgate db upgrade` "
                "for a new one) and run again."
            )

    @asynccontextmanager
    async def begin(self, *, replayable: bool = False) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any exception.

        ``replayable``: losing this transaction in a crash of the database server is harmless
        because what it writes is read again (a pulled page, stored with the cursor that
        fetched it: a lost commit takes the cursor back with the records). PostgreSQL then
        does not wait for the commit's WAL flush (``synchronous_commit = off`` for this
        transaction only: the database stays consistent, the last commits may be lost), as
        SQLite's ``synchronous=NORMAL`` already does for every commit. A later synchronous
        commit flushes the WAL up to itself, so nothing durable can depend on a lost one.
        """
        if not self.is_sqlite:
            async with self.engine.connect() as conn, conn.begin():
                if replayable:
                    await conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield conn
            return
        async with self._sqlite_write_connection() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def _sqlite_write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose transactions begin ``IMMEDIATE``, this process's writer lock held."""
        async with self._sqlite_writer(), self.engine.connect() as conn:
            yield await conn.execution_options(xgate_write=True)

    @asynccontextmanager
    async def _sqlite_writer(self) -> AsyncIterator[None]:
        """SQLite has one writer at a time. Writers of this process queue here, on an asyncio
        lock that hands over the moment it is released, rather than inside SQLite, whose busy
        handler polls with sleeps of up to 100 ms (ten organizations syncing at once spent most
        of their time asleep). Other processes still meet ``busy_timeout``. A transaction
        opened while this process already holds one (no such nesting is known) waits at most
        ``WRITER_WAIT`` here and then goes on to SQLite as before, so nothing can hang."""
        writer = self._writers.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            await asyncio.wait_for(writer.acquire(), WRITER_WAIT)
        except TimeoutError:
            yield
            return
        try:
            yield
        finally:
            writer.release()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def upgrade(self) -> str | None:
        """Apply every pending migration; returns the new head revision.

        On SQLite a migration may rebuild a table other tables reference (SQLite cannot change
        a table's constraints in place): its foreign keys are off for the migration's
        connection, as SQLite's documented procedure asks (the pragma works only outside a
        transaction), every reference is checked before the commit, and they are on again
        before the connection goes back to the pool.
        """
        if not self.is_sqlite:
            async with self.begin() as conn:
                return await conn.run_sync(_upgrade, self.schema)
        async with self._sqlite_write_connection() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute("PRAGMA foreign_keys=OFF")
            try:
                async with conn.begin():
                    head = await conn.run_sync(_upgrade, self.schema)
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise ConfigurationError(
                            f"migration left {len(broken)} broken reference(s), first in "
                            f"table {broken[0][0]}; nothing was changed"
                        )
                return head
            finally:
                await driver.execute("PRAGMA foreign_keys=ON")

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


#: The newest revision in ``migrations/versions``. Every command that opens the database
#: compares the database's revision with it; reading it from Alembic's script directory cost
#: each start about 0.1 s (Alembic, Mako, pygments). ``tests/test_storage.py`` checks it equals
#: Alembic's head, so a new revision that does not update it fails the suite.
HEAD_REVISION = "0013"


def _current(connection: Connection) -> str | None:
    """The database's revision, read as Alembic stores it (``alembic_version``), or None for
    a database never migrated. Several rows would be several heads, which this chain never
    has: that is refused rather than guessed."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    if len(versions) > 1:
        raise ConfigurationError(
            f"the database records several migration heads ({', '.join(v[0] for v in versions)})"
        )
    return str(versions[0][0]) if versions else None


def head_revision() -> str | None:
    return HEAD_REVISION


def alembic_head() -> str | None:
    """The head as Alembic computes it from the scripts (tests compare it with the constant)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def open_database(
    url: str,
    *,
    schema: str | None = None,
    migrate: bool = True,
    echo: bool = False,
    create: bool = True,
) -> Database:
    """Open (and with ``create``, on first use, create) the database at ``url``.

    An empty database is migrated to the head automatically when ``create`` is true; one at an
    older revision is migrated when ``migrate`` is true (the default), so a fresh
    ``pip install -U`` followed by ``xgate sync`` just works. Without ``create`` (every command
    but ``xgate db upgrade`` and ``xgate demo``) a missing SQLite file or an empty database is a
    ``ConfigurationError``: a mistyped path never silently becomes a new, empty database.
    """
    url = normalise_url(url)
    # statement parameters (ID numbers, mobiles) never appear in a database error's text
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("postgresql+asyncpg"):
        kwargs["connect_args"] = {"server_settings": postgresql_settings(schema)}
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
    if not create and not db.exists():
        await engine.dispose()
        raise ConfigurationError(_missing(url))
    if db.path and db.path != ":memory:" and (create or db.exists()):
        _private_sqlite(Path(db.path))
    if migrate:
        try:
            current = await db.revision()
            if current is None and not create:
                raise ConfigurationError(_missing(url))
            if current != head_revision():
                await db.upgrade()
        except ConfigurationError:
            await engine.dispose()
            raise
        except Exception as exc:  # unreachable server, bad credentials, unwritable file
            await engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise ConfigurationError(
                f"cannot open database {make_url(url).render_as_string(hide_password=True)}: "
                f"{type(reason).__name__}: {reason}"
            ) from None
    db.remember_file()
    return db


def _missing(url: str) -> str:
    shown = make_url(url).render_as_string(hide_password=True)
    return (
        f"no xgate database at {shown}: run `xgate db upgrade` to create it "
        "(or check database_url / XGATE_DATABASE_URL)"
    )
