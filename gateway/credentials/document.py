"""The shapes of the credentials: Open Badges 3.0 AchievementCredential, CLR 2.0 ClrCredential.

Invariant: pure functions of what is on record (no database, no key), so the same inputs give
the same document; the holder is named by a salted SHA-256 of the ID number (OB 3.0
IdentityObject, ``nationalIdentityNumber``; a fresh salt per credential so two credentials
cannot be linked by it) and by name, never by the number itself.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gateway.models import Level

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
SUBJECT_NAMESPACE = uuid.UUID("6f1c5d0e-1f0b-4c36-9b8e-7c1f3d3a9e21")


@dataclass(frozen=True)
class Issuer:
    did: str
    name: str
    url: str

    def profile(self) -> dict[str, Any]:
        return {"id": self.did, "type": ["Profile"], "name": self.name, "url": self.url}


@dataclass(frozen=True)
class Holder:
    account_hash: str  # the account's id_hash: only a stable pseudonymous subject id is derived
    name: str | None
    id_number: str | None

    def subject_id(self) -> str:
        return f"urn:uuid:{uuid.uuid5(SUBJECT_NAMESPACE, self.account_hash)}"

    def identifiers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if self.id_number:
            salt = secrets.token_hex(16)
            digest = hashlib.sha256((self.id_number + salt).encode()).hexdigest()
            found.append(
                {
                    "type": "IdentityObject",
                    "hashed": True,
                    "identityHash": f"sha256${digest}",
                    "identityType": "nationalIdentityNumber",
                    "salt": salt,
                }
            )
        if self.name:
            found.append(
                {
                    "type": "IdentityObject",
                    "hashed": False,
                    "identityHash": self.name,
                    "identityType": "ext:name",
                }
            )
        return found


@dataclass(frozen=True)
class HeldCertificate:
    organization: str
    organization_title: str
    number: str
    code: str
    name: str
    level: int
    issued_on: date
    credits: Decimal | None


def stamp(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _level_label(level: int) -> str:
    try:
        return Level(level).label
    except ValueError:
        return str(level)


def achievement(cert: HeldCertificate) -> dict[str, Any]:
    title = f"{cert.name}（{_level_label(cert.level)}）"
    return {
        "id": f"urn:xgate:achievement:{cert.organization}:{cert.code}:{cert.level}",
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": title,
        "description": f"1+X 职业技能等级证书 {title}，由{cert.organization_title}颁发。",
        "criteria": {
            "narrative": f"通过{cert.organization_title}组织的{title}考核（理论与实操）。"
        },
        "creator": {
            "id": f"urn:xgate:organization:{cert.organization}",
            "type": ["Profile"],
            "name": cert.organization_title,
        },
    }


def badge(
    cert: HeldCertificate,
    holder: Holder,
    issuer: Issuer,
    *,
    credential_id: str,
    status: dict[str, Any],
    valid_from: datetime,
    valid_until: datetime | None,
) -> dict[str, Any]:
    """One certificate as an OpenBadgeCredential (OB 3.0 AchievementCredential)."""
    subject: dict[str, Any] = {
        "id": holder.subject_id(),
        "type": ["AchievementSubject"],
        "identifier": holder.identifiers(),
        "achievement": achievement(cert),
        "licenseNumber": cert.number,
        "activityEndDate": f"{cert.issued_on.isoformat()}T00:00:00+08:00",
    }
    if cert.credits is not None:
        subject["creditsEarned"] = float(cert.credits)
    doc: dict[str, Any] = {
        "@context": [VC_V2, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": achievement(cert)["name"],
        "issuer": issuer.profile(),
        "validFrom": stamp(valid_from),
        "credentialSubject": subject,
        "credentialStatus": status,
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    if valid_until is not None:
        doc["validUntil"] = stamp(valid_until)
    return doc


def clr(
    holder: Holder,
    issuer: Issuer,
    badges: list[dict[str, Any]],
    *,
    credential_id: str,
    status: dict[str, Any],
    valid_from: datetime,
    name: str,
) -> dict[str, Any]:
    """The whole record as a ClrCredential; each certificate is a signed Open Badge inside."""
    return {
        "@context": [VC_V2, CLR_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": name,
        "issuer": issuer.profile(),
        "validFrom": stamp(valid_from),
        "credentialSubject": {
            "id": holder.subject_id(),
            "type": ["ClrSubject"],
            "identifier": holder.identifiers(),
            "verifiableCredential": badges,
        },
        "credentialStatus": status,
    }
