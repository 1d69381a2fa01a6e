"""Shared fixtures: a database per test on every backend, and gateway assembly helpers.

``db_url`` is parametrised over SQLite and PostgreSQL, so any test that uses it (directly or
through ``db`` / ``gateway``) runs on both; the test ids show ``[sqlite]`` and ``[postgresql]``.
PostgreSQL tests each get a schema of their own. When PostgreSQL is unreachable they are
skipped, except under ``CI=true`` where that fails the run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

PG_HOST = os.environ.get("XGATE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("XGATE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("XGATE_TEST_PG_USER", "postgres")
PG_DB = os.environ.get("XGATE_TEST_PG_DB", "postgres")
PG_URL = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"


def _pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


PG_UP = _pg_reachable()


class DbTarget:
    """Where one test's database lives: a URL plus, for PostgreSQL, a private schema."""

    def __init__(self, backend: str, url: str, schema: str | None) -> None:
        self.backend = backend
        self.url = url
        self.schema = schema

    def env(self) -> dict[str, str]:
        """Environment for a subprocess ``xgate`` that must use this database."""
        env = {"XGATE_DATABASE_URL": self.url, "XGATE_KEYS": os.environ.get("XGATE_KEYS", "")}
        if self.schema:
            env["XGATE_DATABASE_SCHEMA"] = self.schema
        return env


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_DB)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def _session_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every ``xgate`` subprocess) uses one key file in a temporary folder."""
    from tests.keys_support import install

    old = os.environ.get("XGATE_KEYS")
    path = install(tmp_path_factory.mktemp("keys"))
    yield path
    if old is None:
        os.environ.pop("XGATE_KEYS", None)
    else:
        os.environ["XGATE_KEYS"] = old


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """In-process tests hash passwords with argon2-cffi's cheapest profile.

    The production parameters (64 MiB, 3 passes) cost ~50 ms a hash; the console tests sign in
    hundreds of times. Only this process is changed: commands the tests run as subprocesses,
    and every deployment, keep the production profile, and the hashes stay argon2id either way.
    """
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from gateway import users

    production = users._hasher
    users._hasher = PasswordHasher.from_parameters(CHEAPEST)
    try:
        yield
    finally:
        users._hasher = production


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbTarget]:
    if request.param == "sqlite":
        yield DbTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'xgate.db'}", None)
        return
    if not PG_UP:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable (CI=true)")
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable")
    schema = f"xt_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE SCHEMA "{schema}"'))
    try:
        yield DbTarget("postgresql", PG_URL, schema)
    finally:
        asyncio.run(drop_schema(schema))


async def drop_schema(schema: str) -> None:
    """Drop a test's schema without ever waiting forever.

    A session the test left behind (a killed worker's, a subprocess still running) may hold a
    lock in the schema; ``DROP SCHEMA`` would then wait for it for as long as it lives, and the
    whole run with it (a CI run once hung here until its limit). So the drop waits at most a few
    seconds, then ends the sessions that hold locks on the schema's objects and drops again.
    """
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_DB)
    try:
        await conn.execute("SET lock_timeout = '5s'")
        for _ in range(3):
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                return
            except asyncpg.exceptions.LockNotAvailableError:
                await conn.execute(
                    """SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                       JOIN pg_class c ON c.oid = l.relation
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()""",
                    schema,
                )
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def db(db_target: DbTarget) -> AsyncIterator[Any]:
    from gateway.store import open_database

    database = await open_database(db_target.url, schema=db_target.schema)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def no_sleep() -> Any:
    """An injectable sleep that records the waits instead of waiting."""
    from gateway.testing.sleep import RecordingSleep

    return RecordingSleep()


@pytest.fixture
def make_gateway(db_target: DbTarget, tmp_path: Path) -> Any:
    """Build a ``Gateway`` on this test's database with the fake organization plugin.

    Usage: ``async with make_gateway(orgs={"a": {"plugin": "fake", "name": "a"}}) as gw``.
    """
    from contextlib import asynccontextmanager

    from gateway.plugins import load_plugins
    from gateway.runtime import open_gateway
    from gateway.settings import Settings
    from tests.plugins_fixtures import fakeorg

    @asynccontextmanager
    async def factory(
        orgs: dict[str, dict[str, Any]] | None = None,
        extra: list[tuple[str, object]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[Any]:
        host = load_plugins(extra=[("fake", fakeorg), *(extra or [])])
        conf = Settings(
            database_url=db_target.url,
            database_schema=db_target.schema,
            organizations=orgs or {},
            **settings,
        )
        async with open_gateway(settings=conf, host=host) as gw:
            yield gw

    fakeorg.ORGS.clear()
    return factory


# --- personal data never reaches a log line -------------------------------------------------

_UNMASKED_ID = __import__("re").compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


class _ScanHandler(__import__("logging").Handler):
    """Collects every log line of a test, as a deployment's handler would see it."""

    def __init__(self) -> None:
        super().__init__(level=0)
        self.lines: list[str] = []

    def emit(self, record: Any) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_text:
            text += "\n" + record.exc_text
        self.lines.append(f"{record.name}: {text}")


@pytest.fixture(autouse=True)
def _no_unmasked_ids_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test whose log output holds an unmasked 18-character ID number.

    Masking is installed as in production (``gateway.masking.install_masking``); the scanner
    handler has no filter of its own, so it sees exactly what a deployment's handler would.
    """
    import logging

    from gateway.masking import install_masking

    install_masking()
    handler = _ScanHandler()
    root = logging.getLogger()
    old_level = root.level
    old_handlers = list(root.handlers)
    # A command run in-process (CliRunner) configures logging globally: its stderr handler and
    # the levels it gives noisy libraries would otherwise outlive the test, hiding later tests'
    # lines from this scan (and from caplog) and writing to a closed stream.
    old_levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root.addHandler(handler)
    root.setLevel(min(old_level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        root.handlers[:] = old_handlers
        root.setLevel(old_level)
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger):
                logger.setLevel(old_levels.get(name, logging.NOTSET))
    leaks = [line for line in handler.lines if _UNMASKED_ID.search(line)]
    if leaks and "allow_unmasked_logs" not in request.keywords:
        pytest.fail("unmasked ID number in log output:\n" + "\n".join(leaks[:5]), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many database tests ran on each backend, so the output shows both did."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome != "skipped":
                continue
            nodeid = getattr(report, "nodeid", "")
            for backend in ("sqlite", "postgresql"):
                if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
                    counts.setdefault(backend, {}).setdefault(outcome, 0)
                    counts[backend][outcome] += 1
    if counts:
        parts = [
            f"{backend}: " + ", ".join(f"{n} {o}" for o, n in sorted(c.items()))
            for backend, c in sorted(counts.items())
        ]
        terminalreporter.write_line("database tests by backend: " + "; ".join(parts))
