"""Beifang webhook events: check the signature first, then map the objects.

Beifang signs ``"<timestamp>." + body`` with HMAC-SHA256 under the shared webhook secret and
sends ``Beifang-Signature: t=<unix seconds>,v1=<hex>`` (several ``v1`` during a secret
rotation). The timestamp bounds replays: an old, correctly signed event is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway import AuthError, CertificateRecord, ContractError, Invalid, ScoreRecord
from xgate_beifang import wire

SIGNATURE_HEADER = "beifang-signature"
SCORE_EVENTS = frozenset({"score.updated"})
CERTIFICATE_EVENTS = frozenset({"certificate.issued", "certificate.revoked"})


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None,
    now: datetime,
    tolerance: float,
    organization: str,
) -> None:
    """Raise ``AuthError`` unless the body is signed with ``secret`` within the time window."""
    if not secret:
        raise AuthError(
            f"{organization}: webhook refused: no webhook_secret is configured",
            organization=organization,
        )
    header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), "")
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        name, _, value = piece.strip().partition("=")
        parts.setdefault(name, []).append(value)
    timestamp = (parts.get("t") or [""])[0]
    signatures = parts.get("v1", [])
    if not timestamp.isdigit() or len(timestamp) > 12 or not signatures:  # no int() of 5,000 digits
        raise AuthError(f"{organization}: webhook refused: no signature", organization=organization)
    if abs(now.timestamp() - int(timestamp)) > tolerance:
        raise AuthError(
            f"{organization}: webhook refused: signature timestamp outside the "
            f"{tolerance:.0f} s window",
            organization=organization,
        )
    expected = expected_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise AuthError(
            f"{organization}: webhook refused: signature does not match", organization=organization
        )


def records(organization: str, body: bytes) -> list[ScoreRecord | CertificateRecord]:
    """Canonical records of a verified event; unknown event types carry none."""
    try:
        event: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ContractError(
            f"{organization}: webhook body is not JSON",
            payload=body[:65536].decode("utf-8", "replace"),
            organization=organization,
        ) from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), list):
        raise ContractError(
            f"{organization}: webhook event has no data list",
            payload=event,
            organization=organization,
        )
    kind = event.get("type")
    if kind in SCORE_EVENTS:
        mapped: list[ScoreRecord | CertificateRecord | Invalid] = [
            wire.score(organization, item) for item in event["data"]
        ]
    elif kind in CERTIFICATE_EVENTS:
        mapped = [wire.certificate(organization, item) for item in event["data"]]
    else:
        return []  # an event type this plugin does not know yet: nothing to record
    bad = [m for m in mapped if isinstance(m, Invalid)]
    if bad:
        raise ContractError(
            f"{organization}: webhook {event.get('id')}: {bad[0].reason}",
            payload=event,
            organization=organization,
        )
    return [m for m in mapped if not isinstance(m, Invalid)]
