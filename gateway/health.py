"""Liveness, readiness and ``/metrics`` routes, shared by ``xgate serve`` and ``xgate worker``.

Invariant: liveness says only "this process answers" (a failing database must not get every
replica restarted at once); readiness says "this process can do its work now": the database
answers and is at the migration head, plus whatever the process adds (a worker: its job loop
is running). Neither ever shows a connection string or a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import text

from gateway.metrics import CONTENT_TYPE, render
from gateway.runtime import Gateway
from gateway.store.db import head_revision

HEALTH_GATEWAY = web.AppKey("health_gateway", Gateway)
HEALTH_CHECKS = web.AppKey("health_checks", list)


async def readiness(gw: Gateway, checks: list[Callable[[], str | None]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    problems: list[str] = []
    try:
        async with gw.db.connect() as conn:
            await conn.execute(text("SELECT 1"))
        if await gw.db.revision() != head_revision():
            problems.append("database is not at the migration head (run `xgate db upgrade`)")
    except Exception as exc:
        problems.append(f"database unreachable ({type(exc).__name__})")
    for check in checks:
        problem = check()
        if problem:
            problems.append(problem)
    return {"ready": not problems, "problems": problems}


async def livez(request: web.Request) -> web.Response:
    return web.json_response({"alive": True})


async def readyz(request: web.Request) -> web.Response:
    gw = request.app[HEALTH_GATEWAY]
    body = await readiness(gw, request.app[HEALTH_CHECKS])
    return web.json_response(body, status=200 if body["ready"] else 503)


async def metrics(request: web.Request) -> web.Response:
    body = await render(request.app[HEALTH_GATEWAY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_health_routes(
    app: web.Application, gw: Gateway, checks: list[Callable[[], str | None]] | None = None
) -> None:
    """``GET /livez``, ``GET /readyz`` and ``GET /metrics`` on ``app``."""
    app[HEALTH_GATEWAY] = gw
    app[HEALTH_CHECKS] = list(checks or [])
    app.add_routes(
        [web.get("/livez", livez), web.get("/readyz", readyz), web.get("/metrics", metrics)]
    )
