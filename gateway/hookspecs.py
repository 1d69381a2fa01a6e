"""Hook specifications: the whole plugin surface of xgate, one docstring per hook.

Plugins implement hooks with ``@gateway.hookimpl``. There are two kinds:

* ``xgate_register_organizations`` contributes organization adapters (the product's heart);
* broadcast event hooks, called by the core *after* the change they describe is committed.
  An event hook that raises is logged (masked) and never breaks the operation that fired it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "xgate"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def xgate_register_organizations(register: Callable[[Any], None]) -> None:
    """Contribute organization adapters: call ``register(OrganizationSpec(...))`` once for
    each organization type this plugin provides. Called once, when plugins are loaded."""


@hookspec
def xgate_candidate_registered(organization: str, plan_code: str, registration: Any) -> None:
    """A candidate's registration was accepted (``registration`` is a
    ``gateway.models.Registration``; it holds no personal data)."""


@hookspec
def xgate_score_recorded(organization: str, score: Any, revision: int, corrected: bool) -> None:
    """A score was stored. ``corrected`` is true when it replaced an earlier revision."""


@hookspec
def xgate_certificate_recorded(organization: str, certificate: Any) -> None:
    """A certificate was stored for the first time."""


@hookspec
def xgate_certificate_revoked(organization: str, certificate: Any) -> None:
    """A certificate changed to revoked."""


@hookspec
def xgate_certificate_withdrawn(organization: str, number: str, reason: str) -> None:
    """A certificate the organization no longer lists was marked withdrawn (API 1.1)."""


@hookspec
def xgate_credit_converted(account: str, entries: list[Any]) -> None:
    """Credit was added to a learning account (``account`` is the hashed ID)."""


@hookspec
def xgate_credit_reversed(account: str, entries: list[Any]) -> None:
    """Compensating ledger entries were added (revocation, correction)."""


@hookspec
def xgate_credit_export(
    export_id: int, outcomes: list[dict[str, Any]], entries: list[dict[str, Any]], directory: Any
) -> None:
    """An export to the credit bank was written and recorded (``xgate credits export``).

    ``outcomes`` and ``entries`` are the rows the export carried (columns as in
    ``gateway.credit.export.OUTCOME_COLUMNS`` / ``ENTRY_COLUMNS``; ``action`` is ``new`` or
    ``correction``; ``account`` is the hashed ID, never the number). ``directory`` (a
    ``pathlib.Path``) is where the export's own files went: a provincial bridge writes its own
    format there, or sends the rows on. Called once per export, after its commit; an export
    with nothing new still calls it, with empty lists."""
