"""Mounting the console on the gateway's aiohttp application.

``setup_console`` adds the encrypted-cookie sessions, the templates, the static files, the
security headers (a Content-Security-Policy without inline script, no framing, no referrer, no
sniffing) and every route of ``PAGE_MODULES`` behind ``auth.guard``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from gateway.runtime import Gateway
from gateway.web import state
from gateway.web.auth import guard
from gateway.web.jobs import Jobs
from gateway.web.keysource import session_key
from gateway.web.routes import ROUTES
from gateway.web.uploads import UploadStore

HERE = Path(__file__).parent
PAGE_MODULES = [
    "gateway.web.signin",
    "gateway.web.dashboard",
    "gateway.web.lists",
    "gateway.web.registrations",
    "gateway.web.learners",
    "gateway.web.reports",
    "gateway.web.admin",
    "gateway.web.selfservice",
    "gateway.web.sso",
]
COOKIE = "xgate_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _load_routes() -> None:
    for name in PAGE_MODULES:
        importlib.import_module(name)


def upload_limit(gw: Gateway) -> int:
    """The request body limit the console needs (an upload plus its form)."""
    return int(gw.settings.console.upload_max_mb * 1024 * 1024) + 64 * 1024


def setup_console(
    app: web.Application, gw: Gateway, *, clock: Callable[[], datetime] | None = None
) -> None:
    conf = gw.settings.console
    app[state.GATEWAY] = gw
    app[state.CLOCK] = clock or (lambda: datetime.now(UTC))
    app[state.JOBS] = Jobs()
    uploads = UploadStore(conf.upload_dir, timedelta(hours=conf.upload_keep_hours))
    app[state.UPLOADS] = uploads
    uploads.purge(app[state.CLOCK]())
    storage = EncryptedCookieStorage(
        session_key(gw),
        cookie_name=COOKIE,
        httponly=True,
        samesite="Lax",
        secure=conf.secure_cookies,
        max_age=None,
    )
    setup_sessions(app, storage)
    app.middlewares.append(security_headers)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    app.router.add_static("/static", HERE / "static", name="static")
    _load_routes()
    for r in ROUTES:
        app.router.add_route(r.method, r.path, guard(r), name=r.name)

    async def close_jobs(_app: web.Application) -> None:
        await app[state.JOBS].aclose()

    app.on_shutdown.append(close_jobs)
