"""A gateway on a benchmark's database, configured for the simulated organizations.

The gateway runs exactly as ``xgate sync`` runs it (``open_gateway`` + ``run_sync``, the
built-in Beifang plugin from its entry point), with the demo catalogue and credit rules so each
page also creates learning accounts and reconciles credit, as a nightly run does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from gateway.keys import generate, write
from gateway.runtime import Gateway, open_gateway
from gateway.settings import HttpPolicy, Settings

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
KEYS = generate()  # one key set per benchmark process, written to a private temporary folder


@functools.cache
def keys_file() -> Path:
    """The benchmark's key file (0600), for in-process gateways and ``xgate`` subprocesses."""
    return write(KEYS, Path(tempfile.mkdtemp(prefix="xgate-bench-keys-")) / "xgate.keys")


def beifang_orgs(
    urls: list[str], *, page_size: int = 500, policy: HttpPolicy | None = None
) -> dict[str, dict[str, Any]]:
    """``[organizations.bfN]`` sections for Beifang simulators at ``urls``."""
    http = (policy or HttpPolicy()).model_dump()
    return {
        f"bf{i}": {
            "plugin": "beifang",
            "base_url": url,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "page_size": page_size,
            "http": http,
        }
        for i, url in enumerate(urls)
    }


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database(backend: str, folder: Path) -> AsyncIterator[tuple[str, str | None]]:
    """``(url, schema)`` of a fresh database: a SQLite file in ``folder``, or a PostgreSQL
    schema of its own that is dropped afterwards."""
    if backend == "sqlite":
        path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}", None
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown database backend {backend!r}")
    schema = f"xbench_{uuid.uuid4().hex[:10]}"
    await _pg(f'CREATE SCHEMA "{schema}"')
    try:
        yield PG_URL, schema
    finally:
        await _pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.asynccontextmanager
async def gateway(
    url: str,
    schema: str | None,
    orgs: dict[str, dict[str, Any]],
    *,
    credit: bool = True,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **settings: Any,
) -> AsyncIterator[Gateway]:
    conf = Settings(
        database_url=url,
        database_schema=schema,
        keys_file=keys_file(),
        organizations=orgs,
        catalogue_file=DATA / "catalogue.toml",
        rules_file=DATA / "credit-rules.toml" if credit else None,
        **settings,
    )
    async with open_gateway(settings=conf, sleep=sleep) as gw:
        yield gw
