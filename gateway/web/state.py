"""What the console keeps on the aiohttp application and on each request (typed keys)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from gateway.runtime import Gateway
from gateway.users import User
from gateway.web.jobs import Jobs
from gateway.web.uploads import UploadStore

GATEWAY = web.AppKey("console_gateway", Gateway)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("console_clock")
JOBS = web.AppKey("console_jobs", Jobs)
UPLOADS = web.AppKey("console_uploads", UploadStore)
USER: web.RequestKey[User | None] = web.RequestKey("console_user")  # signed-in user
VIA_TOKEN = web.RequestKey("console_via_token", bool)  # an API token authenticated
EXPIRED = web.RequestKey("console_expired", bool)  # the session just timed out


def gateway(request: web.Request) -> Gateway:
    return request.app[GATEWAY]


def now(request: web.Request) -> datetime:
    return request.app[CLOCK]()


def user(request: web.Request) -> User | None:
    found: User | None = request.get(USER)
    return found


def address(request: web.Request) -> str:
    """The client address (``X-Forwarded-For`` is honoured only behind a configured proxy)."""
    return request.remote or "unknown"
