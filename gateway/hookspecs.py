"""Hook specifications: the whole plugin surface of xgate, one docstring per hook.

Plugins implement hooks with ``@gateway.hookimpl``. There are two kinds:

* ``xgate_register_organizations`` contributes organization adapters (the product's heart);
* broadcast event hooks, called by the core *after* the change they describe is committed,
  as ``pm.hook.<name>(...)``: ``tryfirst``/``trylast`` order them and ``wrapper=True`` wraps
  them as in any pluggy project. Each implementation is isolated: one that raises is logged
  (masked) and neither the others nor the operation that fired the event notice.

An implementation may accept any subset of a hook's arguments (pluggy passes what it names).
``docs/plugins.md`` ("Event hooks") documents each with an example.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

from gateway.contract import OrganizationSpec
from gateway.models import CertificateRecord, CreditEntry, Registration, ScoreRecord

PROJECT = "xgate"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def xgate_register_organizations(register: Callable[[OrganizationSpec], None]) -> None:
    """Contribute organization adapters: call ``register(OrganizationSpec(...))`` once for
    each organization type this plugin provides. Called once, when plugins are loaded."""


@hookspec
def xgate_candidate_registered(
    organization: str, plan_code: str, registration: Registration
) -> None:
    """A candidate's registration was accepted (``registration`` is a
    ``gateway.models.Registration``; it holds no personal data)."""


@hookspec
def xgate_score_recorded(
    organization: str, score: ScoreRecord, revision: int, corrected: bool
) -> None:
    """A score was stored: ``revision`` 1 when new; ``corrected`` is true when it replaced an
    earlier revision (also one under the same organization stamp, since API 1.1)."""


@hookspec
def xgate_certificate_recorded(organization: str, certificate: CertificateRecord) -> None:
    """A certificate was stored for the first time, or changed back to valid (a revocation
    undone, a withdrawn certificate listed again)."""


@hookspec
def xgate_certificate_revoked(organization: str, certificate: CertificateRecord) -> None:
    """A certificate changed to revoked."""


@hookspec
def xgate_certificate_withdrawn(organization: str, number: str, reason: str) -> None:
    """A certificate the organization no longer lists was marked withdrawn after a complete
    read (API 1.1); ``reason`` says so, with the run. Its credit reversal follows as
    ``xgate_credit_reversed``."""


@hookspec
def xgate_credit_converted(account: str, entries: list[CreditEntry]) -> None:
    """Credit was added to a learning account (``account`` is the hashed ID)."""


@hookspec
def xgate_credit_reversed(account: str, entries: list[CreditEntry]) -> None:
    """Compensating ledger entries were added (revocation, correction)."""


@hookspec
def xgate_credit_export(
    export_id: int, outcomes: list[dict[str, Any]], entries: list[dict[str, Any]], directory: Path
) -> None:
    """An export to the credit bank was written and recorded (``xgate credits export``).

    ``outcomes`` and ``entries`` are the rows the export carried (columns as in
    ``gateway.credit.export.OUTCOME_COLUMNS`` / ``ENTRY_COLUMNS``; ``action`` is ``new`` or
    ``correction``; ``account`` is the hashed ID, never the number). ``directory`` (a
    ``pathlib.Path``) is where the export's own files went: a provincial bridge writes its own
    format there, or sends the rows on. Called once per export, after its commit; an export
    with nothing new still calls it, with empty lists."""
