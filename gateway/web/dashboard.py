"""The dashboard, sync runs and the quarantine (pages and their JSON twins)."""

from __future__ import annotations

from aiohttp import web

from gateway import overview
from gateway.web import render, state, trail
from gateway.web.routes import EVERYONE, STAFF, route


async def _dashboard(request: web.Request) -> overview.Dashboard:
    gw = state.gateway(request)
    async with gw.db.connect() as conn:
        return await overview.dashboard(
            conn, gw.organization_names(), gw.catalogue, state.now(request)
        )


@route("GET", "/", EVERYONE, name="dashboard", nav="nav.dashboard", order=10)
async def dashboard(request: web.Request) -> web.StreamResponse:
    return await render.page(request, "dashboard.html", board=await _dashboard(request))


@route("GET", "/api/dashboard", EVERYONE, name="api_dashboard")
async def api_dashboard(request: web.Request) -> web.StreamResponse:
    return render.api_json((await _dashboard(request)).as_dict())


@route("GET", "/runs", EVERYONE, name="runs", nav="nav.runs", order=60)
async def runs(request: web.Request) -> web.StreamResponse:
    async with state.gateway(request).db.connect() as conn:
        found = await overview.sync_runs(conn)
    return await render.page(request, "runs.html", runs=found)


@route("GET", "/api/runs", EVERYONE, name="api_runs")
async def api_runs(request: web.Request) -> web.StreamResponse:
    async with state.gateway(request).db.connect() as conn:
        return render.api_json({"runs": await overview.sync_runs(conn)})


@route("GET", "/quarantine", STAFF, name="quarantine", nav="nav.quarantine", order=50)
async def quarantine(request: web.Request) -> web.StreamResponse:
    async with state.gateway(request).db.connect() as conn:
        items = await overview.quarantine_list(conn)
    return await render.page(request, "quarantine.html", items=items)


@route("GET", "/quarantine/{item}", STAFF, name="quarantine_item")
async def quarantine_item(request: web.Request) -> web.StreamResponse:
    key = request.match_info["item"]
    item = None
    if key.isdigit():
        gw = state.gateway(request)
        async with gw.db.connect() as conn:
            item = await overview.quarantine_item(conn, int(key), gw.keys)
    if item is None:
        return await render.not_found(request)
    await trail.record(request, "quarantine.view", f"quarantine {key}")
    return await render.page(request, "quarantine_item.html", item=item)


@route("GET", "/api/quarantine", STAFF, name="api_quarantine")
async def api_quarantine(request: web.Request) -> web.StreamResponse:
    async with state.gateway(request).db.connect() as conn:
        return render.api_json({"quarantine": await overview.quarantine_list(conn)})
