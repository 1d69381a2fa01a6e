"""CSRF tokens: one random token per session, compared in constant time.

A form carries it as ``csrf_token``; a script using the session cookie sends ``X-CSRF-Token``.
Requests authenticated by an API token carry no cookie and need none.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp_session import Session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token(session: Session) -> str:
    value = session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    return value


async def valid(request: web.Request, session: Session) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str):
        return False
    sent = request.headers.get(HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)
