"""Administration: console users (add, disable, change role) and the audit trail."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiohttp import web

from gateway import audit
from gateway.errors import InputError
from gateway.models import BEIJING
from gateway.users import ROLES, add_user, list_users, new_password, set_disabled, set_role
from gateway.web import render, state, trail
from gateway.web.routes import ADMIN, route


async def _users_page(request: web.Request, status: int = 200, **extra: object) -> web.Response:
    users = await list_users(state.gateway(request).db)
    return await render.page(
        request, "users.html", status=status, users=users, roles=ROLES, **extra
    )


@route("GET", "/users", ADMIN, name="users", nav="nav.users", order=90)
async def users(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@route("POST", "/users", ADMIN, name="users_add")
async def users_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    role = str(form.get("role", ""))
    password = new_password()
    try:
        await add_user(state.gateway(request).db, username, role, password)
    except InputError as exc:
        await trail.record(request, "user.add", username, "refused", detail=str(exc))
        return await _users_page(request, 400, error=str(exc))
    await trail.record(request, "user.add", username, detail=role)
    return await _users_page(request, created=(username, password))


@route("POST", "/users/{username}/role", ADMIN, name="users_role")
async def users_role(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, role = request.match_info["username"], str(form.get("role", ""))
    try:
        await set_role(state.gateway(request).db, username, role)
    except InputError as exc:
        await trail.record(request, "user.role", username, "refused", detail=str(exc))
        return await _users_page(request, 400, error=str(exc))
    await trail.record(request, "user.role", username, detail=role)
    return render.redirect("/users")


@route("POST", "/users/{username}/disable", ADMIN, name="users_disable")
async def users_disable(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = request.match_info["username"]
    enable = form.get("enable") == "1"
    me = state.user(request)
    if me is not None and me.username == username and not enable:
        return await _users_page(request, 400, error="you cannot disable yourself")
    try:
        await set_disabled(state.gateway(request).db, username, not enable)
    except InputError as exc:
        return await _users_page(request, 404, error=str(exc))
    await trail.record(request, "user.enable" if enable else "user.disable", username)
    return render.redirect("/users")


def _when(value: str) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(day, time(0), tzinfo=BEIJING)


@route("GET", "/audit", ADMIN, name="audit", nav="nav.audit", order=95)
async def audit_page(request: web.Request) -> web.StreamResponse:
    """The audit trail, filtered by user, action (``console.*`` prefixes work) and dates."""
    q = request.query
    since = _when(q.get("since", ""))
    until = _when(q.get("until", ""))
    async with state.gateway(request).db.connect() as conn:
        rows = await audit.query(
            conn,
            actor=q.get("actor") or None,
            action=q.get("action") or None,
            since=since,
            until=until + timedelta(days=1) if until else None,
            limit=500,
        )
    return await render.page(request, "audit.html", rows=rows, filters=dict(q))
