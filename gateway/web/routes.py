"""The console's routes, each with the roles that may use it: the single place access is decided.

Invariant: every console page and API endpoint is registered here with its roles and reaches
its handler only through ``guard``, which (1) finds the user (session cookie or API token),
(2) sends an anonymous visitor to ``/login`` (pages) or answers 401 (API), (3) answers 403 and
records it in the audit trail when the role is not allowed, and (4) refuses a state-changing
request authenticated by cookie that lacks the session's CSRF token. ``roles=None`` marks the
few public routes (sign-in). A later issue adds pages by decorating handlers in a module listed
in ``gateway.web.app.PAGE_MODULES`` and roles by appending to ``gateway.users.ROLES``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ADMIN = frozenset({"admin"})
STAFF = frozenset({"admin", "staff"})
FEES = frozenset({"admin", "staff", "finance"})
PEOPLE = frozenset({"admin", "staff", "viewer"})
EVERYONE = frozenset({"admin", "staff", "finance", "viewer"})
LEARNER = frozenset({"learner"})  # issue 16: a learner's own record only (gateway.web.selfservice)
SIGNED_IN = EVERYONE | LEARNER  # signing out and "who am I"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None  # None: public
    name: str
    api: bool = False
    csrf: bool = True  # state-changing requests need the session's CSRF token
    nav: str | None = None  # catalogue key of the menu entry, for pages in the menu
    order: int = 100  # position in the menu


ROUTES: list[Route] = []


def route(
    method: str,
    path: str,
    roles: frozenset[str] | None,
    *,
    name: str | None = None,
    csrf: bool = True,
    nav: str | None = None,
    order: int = 100,
) -> Callable[[Handler], Handler]:
    """Register a handler; a path under ``/api/`` is an API endpoint (JSON answers)."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(
            Route(
                method,
                path,
                handler,
                roles,
                name or handler.__name__,
                api=path.startswith("/api/"),
                csrf=csrf,
                nav=nav,
                order=order,
            )
        )
        return handler

    return register


def menu(role: str) -> list[Route]:
    """The menu entries a role may open, by ``order``."""
    entries = [
        r for r in ROUTES if r.nav and r.method == "GET" and r.roles is not None and role in r.roles
    ]
    return sorted(entries, key=lambda r: r.order)


def allowed(path_name: str, role: str) -> bool:
    for r in ROUTES:
        if r.name == path_name:
            return r.roles is None or role in r.roles
    return False
