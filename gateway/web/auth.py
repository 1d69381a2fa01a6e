"""Who is asking: sessions (idle timeout and absolute lifetime), API tokens, and the guard.

Invariants: a session lives in aiohttp-session's encrypted cookie and holds only the user id,
the sign-in and last-seen times, the CSRF token and the language; the user is re-read on every
request, so disabling a user or changing a role takes effect at once. A session idle for longer
than ``console.idle_minutes`` or older than ``console.lifetime_hours`` is ended (times come
from the application's clock, so tests move it instead of sleeping). Signing in replaces the
session (no fixation).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from gateway.users import User, user_by_id, user_for_token
from gateway.web import csrf, render, state, trail
from gateway.web.routes import SAFE_METHODS, Route


def _limits(request: web.Request) -> tuple[timedelta, timedelta]:
    conf = state.gateway(request).settings.console
    return timedelta(minutes=conf.idle_minutes), timedelta(hours=conf.lifetime_hours)


async def _session_user(request: web.Request, session: Session) -> User | None:
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    now = state.now(request).timestamp()
    idle, lifetime = _limits(request)
    login, seen = float(session.get("login", 0)), float(session.get("seen", 0))
    if now - login > lifetime.total_seconds() or now - seen > idle.total_seconds():
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        request[state.EXPIRED] = True
        return None
    async with state.gateway(request).db.connect() as conn:
        user = await user_by_id(conn, uid)
    if user is None or user.disabled:
        session.clear()
        return None
    session["seen"] = now
    return user


async def identify(request: web.Request) -> User | None:
    """The user behind the request: an ``Authorization: Bearer`` API token or the session."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        request[state.VIA_TOKEN] = True
        db = state.gateway(request).db
        return await user_for_token(db, header[7:].strip(), state.now(request))
    return await _session_user(request, await get_session(request))


async def start_session(request: web.Request, user: User) -> Session:
    old = await get_session(request)
    lang = old.get("lang")
    session = await new_session(request)
    now = state.now(request).timestamp()
    session["uid"] = user.id
    session["login"] = now
    session["seen"] = now
    if lang:
        session["lang"] = lang
    csrf.token(session)
    return session


def guard(route: Route) -> Any:
    """Wrap a route's handler with authentication, the role check and the CSRF check."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        user = await identify(request)
        request[state.USER] = user
        if route.roles is not None:
            if user is None:
                if route.api:
                    return render.api_error(request, 401, "unauthenticated")
                return render.redirect(f"/login?next={request.path}")
            if user.role not in route.roles:
                await trail.record(request, "access", route.name, "refused", detail=request.path)
                return await render.refuse(request, route.api, "forbidden")
        if (
            route.csrf
            and request.method not in SAFE_METHODS
            and not request.get(state.VIA_TOKEN)
            and not await csrf.valid(request, await get_session(request))
        ):
            await trail.record(request, "csrf", route.name, "refused", detail=request.path)
            return await render.refuse(request, route.api, "csrf")
        return await route.handler(request)

    guarded.__name__ = route.name
    return guarded


def signed_in_at(session: Session) -> datetime | None:
    value = session.get("login")
    return datetime.fromtimestamp(float(value)) if value else None
