"""Revocation by Bitstring Status List (W3C, 2025): one bit per issued credential.

Invariant: the bits are computed from the database whenever the list is asked for, never
stored: a credential's bit is set when staff revoked it, or (an Open Badge of a certificate)
when that certificate is no longer valid or no longer on record. So an organization's
revocation, recorded by the next sync, reaches every verifier without anyone touching the list.

Encoding (spec §2.1/§3.1): the list is at least 16 KiB (131,072 entries, for herd privacy),
index 0 is the most significant bit of the first byte, GZIP-compressed, then multibase
base64url without padding (prefix ``u``). Each list is ``/credentials/status/{n}`` on the
issuer's ``xgate serve``; entries are spread at random over a list for the same reason.
"""

from __future__ import annotations

import base64
import gzip
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from joserfc.jwk import OKPKey
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.settings import CredentialSettings
from gateway.store import tables as t

LIST_SIZE = 131_072
PURPOSE = "revocation"


def encode(indices: Iterable[int], size: int = LIST_SIZE) -> str:
    bits = bytearray(size // 8)
    for i in indices:
        if not 0 <= i < size:
            raise ValueError(f"status index {i} outside a list of {size}")
        bits[i // 8] |= 0x80 >> (i % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def bit(encoded: str, index: int) -> bool:
    if not encoded.startswith("u"):
        raise ValueError("encodedList is not multibase base64url (prefix 'u')")
    raw = encoded[1:]
    data = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    if not 0 <= index < len(data) * 8:
        raise ValueError(f"status index {index} outside a list of {len(data) * 8}")
    return bool(data[index // 8] & (0x80 >> (index % 8)))


def list_url(base: str, number: int) -> str:
    return f"{base}/credentials/status/{number}"


def entry(base: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of a credential at ``index``."""
    url = list_url(base, index // LIST_SIZE + 1)
    return {
        "id": f"{url}#{index % LIST_SIZE}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index % LIST_SIZE),
        "statusListCredential": url,
    }


async def allocate(conn: AsyncConnection) -> int:
    """A free index, at random within the first list not yet half full (so a random draw is
    free at least half the time; each try is one indexed look-up). Two workers drawing the
    same index at once are stopped by the unique constraint: one issuance fails, and is retried
    by whoever asked."""
    ic = t.issued_credentials
    used = int((await conn.execute(select(func.count()).select_from(ic))).scalar_one())
    number = used // (LIST_SIZE // 2)
    while True:
        candidate = number * LIST_SIZE + secrets.randbelow(LIST_SIZE)
        taken = await conn.execute(select(ic.c.id).where(ic.c.status_index == candidate))
        if taken.first() is None:
            return candidate


async def revoked_indices(conn: AsyncConnection, number: int) -> list[int]:
    """Indices (within list ``number``) whose credential no longer holds."""
    ic, c = t.issued_credentials, t.certificates
    low, high = (number - 1) * LIST_SIZE, number * LIST_SIZE
    query = (
        select(ic.c.status_index)
        .select_from(
            ic.outerjoin(
                c,
                and_(c.c.organization == ic.c.organization, c.c.number == ic.c.certificate_number),
            )
        )
        .where(
            ic.c.status_index >= low,
            ic.c.status_index < high,
            or_(
                ic.c.revoked_at.is_not(None),
                and_(
                    ic.c.certificate_number.is_not(None),
                    or_(c.c.id.is_(None), c.c.status != "valid"),
                ),
            ),
        )
    )
    return [int(i) - low for i in (await conn.execute(query)).scalars()]


def status_list_credential(
    conf_base: str, did: str, number: int, revoked: Iterable[int], now: datetime | None = None
) -> dict[str, Any]:
    url = list_url(conf_base, number)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did,
        "validFrom": now.isoformat().replace("+00:00", "Z"),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE,
            "encodedList": encode(revoked),
        },
    }


async def signed_list(
    conn: AsyncConnection, conf: CredentialSettings, key: OKPKey, number: int
) -> str:
    """The status list ``number`` as a compact JWS signed with the college's key."""
    from gateway.credentials.signing import base_url, issuer_did, sign

    revoked = await revoked_indices(conn, number)
    return sign(
        status_list_credential(base_url(conf), issuer_did(conf), number, revoked), conf, key
    )
