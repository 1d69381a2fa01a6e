"""Signing in and out (page and API), and switching the page language."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from gateway.users import User, authenticate
from gateway.web import csrf, i18n, render, state, trail
from gateway.web.auth import start_session
from gateway.web.routes import SIGNED_IN, route


def safe_next(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith("//") else "/"


def landing(user: User, target: str) -> str:
    """Where a user goes after signing in (a learner's home is their own record)."""
    return "/me" if user.role == "learner" and target == "/" else target


def _sso_label(request: web.Request) -> str | None:
    conf = state.gateway(request).settings.sso
    return conf.button_label if conf.enabled else None


@route("GET", "/login", None, name="login_form")
async def login_form(request: web.Request) -> web.StreamResponse:
    if state.user(request) is not None:
        return render.redirect("/")
    return await render.page(
        request,
        "login.html",
        next=safe_next(request.query.get("next")),
        expired=request.get(state.EXPIRED, False),
        sso_label=_sso_label(request),
    )


async def _attempt(request: web.Request, username: str, password: str) -> Any:
    result = await authenticate(
        state.gateway(request).db, username, password, state.address(request), state.now(request)
    )
    outcome = "ok" if result.ok else result.reason
    await trail.record(request, "login", username, outcome, actor=username)
    return result


@route("POST", "/login", None, name="login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    result = await _attempt(request, username, str(form.get("password", "")))
    if not result.ok:
        return await render.page(
            request,
            "login.html",
            status=429 if result.reason == "locked" else 401,
            next=safe_next(form.get("next")),
            error=f"login.{result.reason}",
            username=username,
            sso_label=_sso_label(request),
        )
    await start_session(request, result.user)
    return render.redirect(landing(result.user, safe_next(form.get("next"))))


@route("POST", "/logout", SIGNED_IN, name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    lang = session.get("lang")
    await trail.record(request, "logout")
    session.invalidate()
    response = render.redirect("/login")
    if lang:  # keep the chosen language on the sign-in page
        fresh = await get_session(request)
        fresh["lang"] = lang
    return response


@route("POST", "/language", None, name="language")
async def language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    lang = str(form.get("lang", ""))
    if lang in i18n.LANGUAGES:
        (await get_session(request))["lang"] = lang
    return render.redirect(safe_next(form.get("next")))


@route("POST", "/api/session", None, name="api_login", csrf=False)
async def api_login(request: web.Request) -> web.StreamResponse:
    """JSON user name and password -> a session cookie (and the CSRF token to use with it)."""
    if request.content_type != "application/json":
        return render.api_error(request, 415, "json_required")
    try:
        body = await request.json()
        username, password = str(body["username"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return render.api_error(request, 400, "bad_request")
    result = await _attempt(request, username.strip(), password)
    if not result.ok:
        status = 429 if result.reason == "locked" else 401
        return render.api_error(request, status, result.reason)
    session = await start_session(request, result.user)
    user = result.user
    return render.api_json(
        {"username": user.username, "role": user.role, "csrf_token": csrf.token(session)}
    )


@route("DELETE", "/api/session", SIGNED_IN, name="api_logout")
async def api_logout(request: web.Request) -> web.StreamResponse:
    await trail.record(request, "logout")
    (await get_session(request)).invalidate()
    return render.api_json({"ok": True})


@route("GET", "/api/me", SIGNED_IN, name="api_me")
async def api_me(request: web.Request) -> web.StreamResponse:
    user = state.user(request)
    assert user is not None
    session = await get_session(request)
    return render.api_json(
        {"username": user.username, "role": user.role, "csrf_token": csrf.token(session)}
    )
