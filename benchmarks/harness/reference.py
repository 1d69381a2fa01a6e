"""The unavoidable parts of a sync, each done the barest way, to measure the gateway against.

* ``fetch``: the same pages at the same concurrency (one stream is one request at a time: a
  page's cursor comes from the page before) with a plain ``httpx.AsyncClient``;
* ``validate``: one pass of pydantic ``validate_json`` from the page bytes straight to typed
  records (no dicts in between);
* ``upsert``: stdlib ``sqlite3`` ``executemany`` of the same rows, ``INSERT ... ON CONFLICT DO
  UPDATE`` on the natural key, one transaction per page, with the gateway's pragmas.

Nothing here retries, logs, keeps history or converts credit; that difference is what the
ratio measures.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, TypeAdapter
from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


class WireCertificate(BaseModel):
    code: str
    level: int


class WireCandidate(BaseModel):
    name: str
    id_type: str
    id_number: str


class WireScore(BaseModel):
    id: int
    registration_id: str
    plan: str
    certificate: WireCertificate
    candidate: WireCandidate
    theory: Decimal | None
    practical: Decimal | None
    total: Decimal | None
    result: Literal["pass", "fail", "absent"]
    revision: int
    updated_at: datetime


class WirePage(BaseModel):
    data: list[WireScore]
    next_cursor: str | None
    has_more: bool


PAGE = TypeAdapter(WirePage)


async def fetch(base_url: str, page_size: int, path: str = "/v1/scores") -> list[bytes]:
    """Every page of one stream, in order, as the bytes the organization sent."""
    pages: list[bytes] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        token = (
            await client.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        params = {"limit": str(page_size)}
        while True:
            response = await client.get(path, params=params, headers=headers)
            response.raise_for_status()
            pages.append(response.content)
            body = _tail(response.content)
            if not body["has_more"]:
                return pages
            params = {"limit": str(page_size), "cursor": body["next_cursor"]}


def _tail(content: bytes) -> dict[str, Any]:
    """``next_cursor`` and ``has_more`` without parsing the records (they come last): the
    fetch must not pay for a parse that ``validate`` pays for again."""
    at = content.rfind(b'"next_cursor"')
    tail: dict[str, Any] = json.loads(b"{" + content[at:])
    return tail


def validate(pages: list[bytes]) -> list[WirePage]:
    return [PAGE.validate_json(p) for p in pages]


def rows_of(
    pages: list[WirePage], organization: str, hash_id: Callable[[str], str]
) -> list[list[tuple[Any, ...]]]:
    """The rows the gateway's ``scores`` table gets, per page (built outside the timing)."""
    out = []
    for page in pages:
        rows = []
        for s in page.data:
            id_hash = hash_id(s.candidate.id_number)
            rows.append(
                (
                    organization,
                    s.plan,
                    id_hash,
                    s.certificate.code,
                    s.certificate.level,
                    s.theory,
                    s.practical,
                    s.total,
                    s.result == "pass",
                    s.result == "absent",
                    s.revision,
                    s.updated_at,
                    str(s.id),
                )
            )
        out.append(rows)
    return out


def for_sqlite(pages: list[list[tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
    """Decimals and datetimes as the text SQLite stores (outside the timing)."""
    return [
        [tuple(str(v) if isinstance(v, Decimal | datetime) else v for v in row) for row in rows]
        for rows in pages
    ]


SCHEMA = """
CREATE TABLE scores (
    id INTEGER PRIMARY KEY, organization TEXT NOT NULL, plan_code TEXT NOT NULL,
    id_hash TEXT NOT NULL, certificate_code TEXT, level INTEGER, theory NUMERIC,
    practical NUMERIC, total NUMERIC, org_passed BOOLEAN, absent BOOLEAN NOT NULL,
    revision INTEGER NOT NULL, revised_at TEXT NOT NULL, org_record_id TEXT,
    UNIQUE (organization, plan_code, id_hash)
);
CREATE INDEX ix_scores_id_hash ON scores (id_hash);
"""
UPSERT = """
INSERT INTO scores (organization, plan_code, id_hash, certificate_code, level, theory,
    practical, total, org_passed, absent, revision, revised_at, org_record_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (organization, plan_code, id_hash) DO UPDATE SET
    theory = excluded.theory, practical = excluded.practical, total = excluded.total,
    org_passed = excluded.org_passed, absent = excluded.absent, revision = excluded.revision,
    revised_at = excluded.revised_at
WHERE excluded.revised_at > scores.revised_at
"""


def upsert(path: Path, pages: list[list[tuple[Any, ...]]]) -> None:
    """One transaction per page into a fresh SQLite file, WAL and ``synchronous=NORMAL``."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        for rows in pages:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(UPSERT, rows)
            conn.execute("COMMIT")
    finally:
        conn.close()


PG_SCHEMA = """
CREATE TABLE scores (
    id SERIAL PRIMARY KEY, organization VARCHAR(40) NOT NULL, plan_code VARCHAR(64) NOT NULL,
    id_hash VARCHAR(64) NOT NULL, certificate_code VARCHAR(64), level INTEGER,
    theory NUMERIC(5, 2), practical NUMERIC(5, 2), total NUMERIC(5, 2), org_passed BOOLEAN,
    absent BOOLEAN NOT NULL, revision INTEGER NOT NULL, revised_at TIMESTAMPTZ NOT NULL,
    org_record_id VARCHAR(128), UNIQUE (organization, plan_code, id_hash)
);
CREATE INDEX ix_scores_id_hash ON scores (id_hash);
"""
PG_UPSERT = """
INSERT INTO scores (organization, plan_code, id_hash, certificate_code, level, theory,
    practical, total, org_passed, absent, revision, revised_at, org_record_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (organization, plan_code, id_hash) DO UPDATE SET
    theory = excluded.theory, practical = excluded.practical, total = excluded.total,
    org_passed = excluded.org_passed, absent = excluded.absent, revision = excluded.revision,
    revised_at = excluded.revised_at
WHERE excluded.revised_at > scores.revised_at
"""


async def upsert_postgresql(schema: str, pages: list[list[tuple[Any, ...]]]) -> None:
    """The same on PostgreSQL with asyncpg ``executemany``, in a schema of its own (the
    caller creates and drops it), one transaction per page."""
    import asyncpg

    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=5432,
        user="postgres",
        database="postgres",
        server_settings={"search_path": schema},
    )
    try:
        await conn.execute(PG_SCHEMA)
        for rows in pages:
            async with conn.transaction():
                await conn.executemany(PG_UPSERT, rows)
    finally:
        await conn.close()
