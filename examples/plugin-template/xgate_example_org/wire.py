"""Example Org's JSON shapes to and from xgate's canonical records.

Pure functions, no I/O: the easiest part of a plugin to get wrong and to test. A record that
cannot be mapped becomes ``Invalid`` (xgate quarantines it with its raw payload) with a reason
naming fields and problems, never values: values may be ID numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from gateway import (
    CertificateRecord,
    CertificateStatus,
    IdType,
    Invalid,
    IssueRequest,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    ScoreRecord,
    mask_text,
)

ID_TYPES = {
    IdType.RESIDENT: "ID_CARD",
    IdType.HK_MACAO: "HK_MACAO",
    IdType.TAIWAN: "TAIWAN",
    IdType.PASSPORT: "PASSPORT",
    IdType.FOREIGN_PERMANENT: "FOREIGN_PR",
}
#: Example Org's result codes as (passed, absent).
RESULTS = {"PASS": (True, False), "FAIL": (False, False), "ABSENT": (False, True)}
STATES = {"VALID": CertificateStatus.VALID, "REVOKED": CertificateStatus.REVOKED}


def batch_key(requests: Sequence[RegistrationRequest | IssueRequest]) -> str:
    """The ``Idempotency-Key`` of a request: the item's own key for one item, else a digest of
    the items' keys, so a retried batch is recognised and a different batch is not."""
    keys = sorted(r.idempotency_key for r in requests)
    if len(keys) == 1:
        return keys[0]
    return "batch-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]


def person_ref(id_number: str) -> str:
    """How Example Org names a person in a URL: SHA-256 of the ID number (never the number)."""
    return hashlib.sha256(id_number.encode()).hexdigest()


def candidate(request: RegistrationRequest) -> dict[str, Any]:
    c = request.candidate
    return {
        "ref": request.idempotency_key,
        "name": c.name,
        "id_type": ID_TYPES[c.id_type],
        "id_number": c.id_number,  # to the organization itself: unhashed
        "mobile": c.mobile,
    }


def registration_outcome(key: str, item: Mapping[str, Any]) -> RegistrationOutcome:
    if item.get("status") == "ok":
        return RegistrationOutcome(
            idempotency_key=key,
            status=RegistrationStatus.ACCEPTED,
            org_registration_id=str(item["registration_no"]),
        )
    return RegistrationOutcome(
        idempotency_key=key,
        status=RegistrationStatus.REJECTED,
        reason_code=str(item.get("code") or "REFUSED"),
        reason=mask_text(str(item.get("message") or "")) or None,
    )


def position(item: Mapping[str, Any]) -> str:
    """The cursor after ``item``: its high-water mark (last change, sequence number).

    A correction moves a record to a later ``changed_at``, so it comes again after any cursor
    handed out before; a page number would instead shift and skip records.
    """
    return f"{item['changed_at']}|{int(item['seq'])}"


def _reasons(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def score(organization: str, item: Any) -> ScoreRecord | Invalid:
    try:
        passed, absent = RESULTS[item["result"]]
        return ScoreRecord(
            organization=organization,
            plan_code=item["plan"],
            id_number=item["id_number"],
            name=item.get("name"),
            certificate_code=item.get("cert_code"),
            level=item.get("level"),
            theory=item.get("theory"),
            practical=item.get("practical"),
            total=item.get("total"),
            passed=passed,
            absent=absent,
            revised_at=item["changed_at"],  # Beijing time without offset: xgate reads it so
            org_record_id=str(item["seq"]),
        )
    except (KeyError, TypeError) as exc:
        return Invalid(item, f"score: missing or malformed field {exc}")
    except ValidationError as exc:
        return Invalid(item, f"score: {_reasons(exc)}")


def certificate(organization: str, item: Any) -> CertificateRecord | Invalid:
    try:
        return CertificateRecord(
            organization=organization,
            number=item["cert_no"],
            certificate_code=item["cert_code"],
            certificate_name=item.get("cert_name"),
            level=item["level"],
            id_number=item["id_number"],
            holder_name=item.get("holder"),
            plan_code=item.get("plan"),
            issued_on=item["issued"],
            status=STATES[item["state"]],
            revoked_reason=item.get("revoke_reason"),
            updated_at=item["changed_at"],
        )
    except (KeyError, TypeError) as exc:
        return Invalid(item, f"certificate: missing or malformed field {exc}")
    except ValidationError as exc:
        return Invalid(item, f"certificate: {_reasons(exc)}")
