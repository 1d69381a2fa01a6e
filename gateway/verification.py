"""Verification at the issuer: ask the organization that issued a certificate whether it holds.

Invariant: every answer an organization gives (or its failure to answer) is recorded with the
time it was given, before anyone acts on it; the record holds the certificate number, the
organization and the outcome, never the holder's name or ID number (an ID appears only as the
salted hash, when staff said whose certificate it should be).

Outcomes: ``valid``; ``revoked`` (the organization's reason kept); ``not_found``; ``mismatch``
(the holder's name, or the person staff named, is not the certificate's holder); ``error`` (the
organization could not be asked: its typed error's message).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.contract import Capability
from gateway.errors import ConfigurationError, OrganizationError
from gateway.masking import mask_text
from gateway.models import CertificateRecord, CertificateStatus, Verification
from gateway.runtime import Gateway
from gateway.store import tables as t

VALID = "valid"


@dataclass(frozen=True)
class Answer:
    """One organization's answer about one certificate number, as recorded."""

    organization: str
    number: str
    outcome: str
    reason: str | None
    answered_at: datetime
    found: bool | None = None
    status: str | None = None
    holder_matches: bool | None = None
    certificate: CertificateRecord | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome == VALID

    def summary(self) -> dict[str, object]:
        """What a report shows (no personal data: the certificate record is left out)."""
        cert = self.certificate
        return {
            "organization": self.organization,
            "number": self.number,
            "outcome": self.outcome,
            "reason": self.reason,
            "answered_at": self.answered_at,
            "found": self.found,
            "status": self.status,
            "holder_matches": self.holder_matches,
            "certificate_code": cert.certificate_code if cert else None,
            "certificate_name": cert.certificate_name if cert else None,
            "level": int(cert.level) if cert else None,
            "issued_on": cert.issued_on if cert else None,
        }


def verifying_organizations(gw: Gateway, organization: str | None) -> list[str]:
    """The organizations to ask: the one named (it must declare ``verify``), else every one
    configured that does."""
    names = gw.organization_names([organization] if organization else None)
    able = [n for n in names if gw.organization(n).can(Capability.VERIFY)]
    if organization and not able:
        raise ConfigurationError(f"organization {organization!r} does not offer verification")
    if not able:
        raise ConfigurationError("no configured organization offers verification")
    return able


def judge(
    organization: str,
    number: str,
    answer: Verification,
    *,
    holder_checked: bool,
    holder_hash: str | None,
    hash_id: Callable[[str], str],
) -> tuple[str, str | None]:
    """The outcome and its reason, in the organization's own words where it gave any."""
    if not answer.found:
        return "not_found", f"{organization} has no certificate numbered {number}"
    cert = answer.certificate
    if answer.status == CertificateStatus.REVOKED or (
        cert is not None and cert.status == CertificateStatus.REVOKED
    ):
        why = cert.revoked_reason if cert is not None and cert.revoked_reason else None
        return "revoked", f"revoked by {organization}" + (f": {why}" if why else "")
    if holder_checked and answer.holder_matches is False:
        return "mismatch", f"{organization}: the holder's name does not match the certificate"
    if holder_hash is not None and cert is not None and hash_id(cert.id_number) != holder_hash:
        return "mismatch", f"{organization}: the certificate is held by someone else"
    return VALID, None


async def ask(
    gw: Gateway,
    number: str,
    *,
    organization: str | None = None,
    holder_name: str | None = None,
    holder_hash: str | None = None,
    purpose: str = "verify",
    operator: str | None = None,
) -> Answer:
    """Ask the named organization (or each that verifies, until one knows the number) and
    record every answer. The answer returned is the first that found it, else the last."""
    number = number.strip()
    if not number:
        raise ConfigurationError("a certificate number is required")
    answers: list[Answer] = []
    for name in verifying_organizations(gw, organization):
        answers.append(await _ask_one(gw, name, number, holder_name, holder_hash))
        if answers[-1].found:
            break
    await record(
        gw,
        answers,
        purpose=purpose,
        operator=operator,
        holder_hash=holder_hash,
        holder_checked=holder_name is not None,
    )
    return answers[-1]


async def _ask_one(
    gw: Gateway, name: str, number: str, holder_name: str | None, holder_hash: str | None
) -> Answer:
    org = gw.organization(name)
    try:
        answer: Verification = await org.verifier().verify(number, holder_name)
    except OrganizationError as exc:
        return Answer(name, number, "error", mask_text(str(exc)), datetime.now(UTC))
    outcome, reason = judge(
        name,
        number,
        answer,
        holder_checked=holder_name is not None,
        holder_hash=holder_hash,
        hash_id=gw.hash_id,
    )
    return Answer(
        organization=name,
        number=number,
        outcome=outcome,
        reason=reason,
        answered_at=datetime.now(UTC),
        found=answer.found,
        status=str(answer.status.value) if answer.status else None,
        holder_matches=answer.holder_matches,
        certificate=answer.certificate,
    )


async def record(
    gw: Gateway,
    answers: Sequence[Answer],
    *,
    purpose: str,
    operator: str | None,
    holder_hash: str | None,
    holder_checked: bool,
) -> None:
    if not answers:
        return
    async with gw.db.begin() as conn:
        await conn.execute(
            t.certificate_verifications.insert(),
            [
                {
                    "organization": a.organization,
                    "number": a.number,
                    "purpose": purpose,
                    "found": a.found,
                    "status": a.status,
                    "holder_checked": holder_checked,
                    "holder_matches": a.holder_matches,
                    "outcome": a.outcome,
                    "reason": a.reason,
                    "id_hash": holder_hash,
                    "operator": operator,
                    "answered_at": a.answered_at,
                }
                for a in answers
            ],
        )
