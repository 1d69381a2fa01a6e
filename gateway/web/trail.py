"""The console's one door to the audit trail.

Every state-changing or refused action and every look-up of a person goes through ``record``:
who (the signed-in user), when, from where (client address), the action, its target and the
outcome. The trail itself is ``gateway.audit`` (issue 18), one table for the whole product; this
function only gathers the console's side of it, so switching its store is one edit here.
"""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.masking import mask_text
from gateway.web import state

log = logging.getLogger("xgate.console.audit")


async def record(
    request: web.Request,
    action: str,
    target: str = "",
    outcome: str = "ok",
    *,
    actor: str | None = None,
    detail: str | None = None,
) -> None:
    user = state.user(request)
    who = actor or (user.username if user else "-")
    log.info(
        "audit actor=%s address=%s action=%s target=%s outcome=%s detail=%s",
        who,
        state.address(request),
        action,
        mask_text(target),
        outcome,
        mask_text(detail or ""),
    )
