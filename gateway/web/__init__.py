"""The staff web console: server-rendered pages and a JSON API on the gateway's aiohttp app.

Invariants: every page and endpoint is declared in ``gateway.web.routes`` with the roles that
may use it and is reached only through the guard there (401/redirect when anonymous, 403 and
an audit record when the role is not allowed, 403 without the CSRF token); pages call the same
core functions as the command line (``gateway.intake.flow``, ``gateway.learners``,
``gateway.overview``), never copies; no page writes a clear ID number, and no URL carries
personal data.
"""

from __future__ import annotations

from gateway.web.app import PAGE_MODULES, setup_console

__all__ = ["PAGE_MODULES", "setup_console"]
