"""The console's one door to the audit trail (``gateway.audit``, one table for the product).

Every state-changing or refused action and every look-up of a person goes through ``record``:
who (the signed-in user, or the name tried at sign-in), when, from where (``web@<address>``),
the action (``console.<what>``), its target (a pseudonymous reference: a learner's ``c12``, a
user name, a file name; anything that looks like personal data goes into the masked details
instead) and the outcome.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import audit
from gateway.masking import mask_text
from gateway.web import state

_OUTCOMES = {"ok": "ok", "refused": "refused", "not_found": "not_found"}


async def record(
    request: web.Request,
    action: str,
    target: str = "",
    outcome: str = "ok",
    *,
    actor: str | None = None,
    detail: str | None = None,
    query: str | None = None,
) -> None:
    user = state.user(request)
    who = (actor or (user.username if user else "") or "anonymous")[:128]
    details: dict[str, Any] = {}
    if outcome not in _OUTCOMES:  # sign-in reasons: bad_credentials, locked, disabled
        details["reason"] = outcome
        outcome = "refused"
    if detail:
        details["detail"] = detail
    if query is not None:
        details["query"] = mask_text(query)  # what was looked for, ID numbers masked
    if target and mask_text(target) != target:
        details["query"] = mask_text(target)  # an ID number or mobile never becomes a target
        target = ""
    if mask_text(who) != who:
        who = mask_text(who)[:128]
    async with state.gateway(request).db.begin() as conn:
        await audit.record(
            conn,
            actor=who if mask_text(who) == who else "masked",
            action=f"console.{action}",
            target=target[:128] or None,
            outcome=outcome,
            origin=f"web@{state.address(request)}"[:128],
            details=details or None,
            at=state.now(request),
        )
