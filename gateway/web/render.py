"""Answers: HTML pages through aiohttp-jinja2 with the common context, JSON for the API.

Every page gets the user, the language, the translator ``_``, the CSRF token and the menu the
user's role may open. Errors use the same shapes as ``gateway.server`` (JSON) or a page.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from gateway.masking import mask_text
from gateway.models import BEIJING
from gateway.web import csrf, i18n, state
from gateway.web.routes import menu

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(write: Callable[[Path], Any], name: str, content_type: str = XLSX) -> web.Response:
    """A file made by ``write(path)`` in a private temporary folder, as an attachment that no
    cache keeps (the console's one way to hand out a generated workbook or CSV)."""
    with tempfile.TemporaryDirectory(prefix="xgate-") as tmp:
        path = Path(tmp) / name
        write(path)
        body = path.read_bytes()
    return web.Response(
        body=body,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def language(request: web.Request) -> str:
    session = await get_session(request)
    lang = session.get("lang")
    if lang in i18n.LANGUAGES:
        return str(lang)
    return state.gateway(request).settings.console.language


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def local_time(value: Any) -> str:
    """Times shown to staff are Beijing time."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite: naive UTC
        return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


async def page(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    lang = await language(request)
    session = await get_session(request)
    user = state.user(request)

    def _(key: str, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    ctx = {
        "_": _,
        "lang": lang,
        "user": user,
        "csrf_token": csrf.token(session),
        "menu": menu(user.role) if user else [],
        "path": request.path,
        "when": local_time,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def api_json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, default=_default, ensure_ascii=False)
    return web.Response(
        text=body,
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def api_error(request: web.Request, status: int, code: str, message: str = "") -> web.Response:
    text = mask_text(message or i18n.translate("en", f"error.{code}"))
    return api_json({"error": {"code": code, "message": text}}, status)


async def refuse(request: web.Request, api: bool, code: str) -> web.Response:
    if api:
        return api_error(request, 403, code)
    return await page(request, "error.html", status=403, code=code)


async def not_found(request: web.Request, api: bool = False) -> web.Response:
    if api:
        return api_error(request, 404, "not_found")
    return await page(request, "error.html", status=404, code="not_found")
