"""Helpers for the console tests: a gateway with the demo rules, a movable clock, users per role,
and an aiohttp test client on a loopback port."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gateway.server import build_app
from gateway.users import ROLES, add_user

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
ORGS = {"beifang": {"plugin": "fake", "name": "beifang"}}
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def settings(tmp_path: Path) -> dict[str, Any]:
    return {
        "catalogue_file": DATA / "catalogue.toml",
        "fees_file": DATA / "fees.toml",
        "eligibility_file": DATA / "eligibility.toml",
        "rules_file": DATA / "credit-rules.toml",
        "console": {"upload_dir": tmp_path / "uploads", "upload_max_mb": 1},
    }


@asynccontextmanager
async def console(make_gateway: Any, tmp_path: Path, clock: Clock) -> AsyncIterator[Any]:
    """A gateway with one user per role (named after the role) and a server on loopback."""
    async with make_gateway(orgs=ORGS, **settings(tmp_path)) as gw:
        for role in ROLES:
            await add_user(gw.db, role, role, PASSWORD)
        server = TestServer(build_app(gw, clock=clock), host="127.0.0.1")
        async with TestClient(server) as client:
            client.gw = gw
            yield client


async def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the CSRF token of the new session."""
    r = await client.post("/api/session", json={"username": username, "password": password})
    assert r.status == 200, await r.text()
    return str((await r.json())["csrf_token"])


async def csrf_of(client: TestClient, path: str = "/") -> str:
    r = await client.get(path)
    found = CSRF.search(await r.text())
    assert found, f"no csrf token on {path}"
    return found.group(1)
