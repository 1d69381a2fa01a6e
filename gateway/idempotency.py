"""Idempotency keys: one derivation for every request the gateway may send more than once.

Invariant: the same purpose, organization, exam plan and person give the same key on every
machine and in every run, forever: keys are stored (``registrations``, ``issue_requests``) and
sent to organizations, which de-duplicate by them. Changing a derivation would make every
stored intent look new, so the formula is pinned by known values in ``tests/test_failures.py``.
"""

from __future__ import annotations

import hashlib


def derive_key(prefix: str, *parts: str) -> str:
    """``<prefix>-<40 hex>``: SHA-256 of the parts joined by the unit separator (U+001F)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest[:40]}"


def registration_key(organization: str, plan_code: str, id_hash: str) -> str:
    """The outbox's key for registering one person for one exam plan."""
    return derive_key("xg1", organization, plan_code, id_hash)


def issue_key(organization: str, plan_code: str, id_hash: str) -> str:
    """The key for asking an organization to issue one person's certificate for one plan."""
    return derive_key("xgi1", "issue", organization, plan_code, id_hash)
