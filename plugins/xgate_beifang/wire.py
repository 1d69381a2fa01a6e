"""Beifang's JSON shapes to and from xgate's canonical records.

Every function here is pure: no I/O, no clock. A record that cannot be mapped becomes
``Invalid`` with a reason that names fields and problems but never the values (they may hold
ID numbers), so the core can quarantine it without leaking personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from gateway import (
    CertificateRecord,
    IdType,
    Invalid,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    ScoreRecord,
    mask_text,
)

ID_TYPES: dict[IdType, str] = {
    IdType.RESIDENT: "RESIDENT_ID",
    IdType.HK_MACAO: "HK_MACAO_PERMIT",
    IdType.TAIWAN: "TAIWAN_PERMIT",
    IdType.PASSPORT: "PASSPORT",
    IdType.FOREIGN_PERMANENT: "FOREIGN_PERMANENT",
}
RESULTS = {"pass": (True, False), "fail": (False, False), "absent": (False, True)}
CERTIFICATE_STATUSES = ("valid", "revoked")


class WireError(ValueError):
    """A field of the organization's answer that does not fit the documented shape."""


def candidate(request: RegistrationRequest) -> dict[str, Any]:
    """One registration item (the ID number goes to the organization itself, unhashed)."""
    c = request.candidate
    item: dict[str, Any] = {
        "idempotency_key": request.idempotency_key,
        "name": c.name,
        "id_type": ID_TYPES[c.id_type],
        "id_number": c.id_number,
        "sex": {"M": "male", "F": "female"}.get(c.sex.value) if c.sex else None,
        "birth_date": c.birth_date.isoformat() if c.birth_date else None,
        "mobile": c.mobile,
        "student_number": c.student_number,
        "department": c.department,
        "major": c.major,
        "class_name": c.class_name,
        "ethnicity": c.ethnicity,
        "fee_exempt": c.fee_waiver,
        "sitting": "resit" if c.resit else "first",
    }
    return {k: v for k, v in item.items() if v is not None}


def registration_outcome(key: str, item: Mapping[str, Any]) -> RegistrationOutcome:
    """An ``accepted``/``rejected`` result item; anything else is a contract breach."""
    status = item.get("status")
    if status == "accepted":
        reg_id = item.get("registration_id")
        if not isinstance(reg_id, str) or not reg_id:
            raise WireError("an accepted item has no registration_id")
        return RegistrationOutcome(
            idempotency_key=key, status=RegistrationStatus.ACCEPTED, org_registration_id=reg_id
        )
    if status == "rejected":
        code, message = _error(item)
        return RegistrationOutcome(
            idempotency_key=key,
            status=RegistrationStatus.REJECTED,
            reason_code=code or "REJECTED",
            reason=message or None,
        )
    raise WireError(f"unknown registration status {status!r}")


def score(organization: str, item: Any) -> ScoreRecord | Invalid:
    try:
        if not (item.__class__ is dict or isinstance(item, Mapping)):
            raise WireError("a score must be an object")
        result = item.get("result")
        if result not in RESULTS:
            raise WireError(f"unknown result {result!r}")
        passed, absent = RESULTS[result]
        cert = _obj(item, "certificate")
        person = _obj(item, "candidate")
        record_id = item.get("id")
        return ScoreRecord(
            organization=organization,
            plan_code=_text(item, "plan"),
            id_number=_text(person, "id_number"),
            name=person.get("name"),
            certificate_code=cert.get("code"),
            level=cert.get("level"),
            theory=_decimal(item, "theory"),
            practical=_decimal(item, "practical"),
            total=_decimal(item, "total"),
            passed=passed,
            absent=absent,
            revised_at=_moment(item.get("updated_at")),
            org_record_id=str(record_id) if record_id is not None else None,
        )
    except (ValidationError, WireError, InvalidOperation, TypeError) as exc:
        return Invalid(item, "score: " + describe(exc))


def certificate(organization: str, item: Any) -> CertificateRecord | Invalid:
    try:
        if not isinstance(item, Mapping):
            raise WireError("a certificate must be an object")
        cert = _obj(item, "certificate")
        holder = _obj(item, "holder")
        status = item.get("status")
        if status not in CERTIFICATE_STATUSES:
            raise WireError(f"unknown certificate status {status!r}")
        return CertificateRecord(
            organization=organization,
            number=_text(item, "number"),
            certificate_code=_text(cert, "code"),
            certificate_name=cert.get("name"),
            level=cert.get("level"),
            id_number=_text(holder, "id_number"),
            holder_name=holder.get("name"),
            plan_code=item.get("plan"),
            issued_on=item.get("issued_on"),
            status=status,
            revoked_reason=item.get("revoked_reason"),
            updated_at=_moment(item.get("updated_at")),
        )
    except (ValidationError, WireError, TypeError) as exc:
        return Invalid(item, "certificate: " + describe(exc))


def order_key(record: ScoreRecord | CertificateRecord) -> tuple[datetime, str]:
    """Stream order (the organization's high-water mark), whatever order a page came in."""
    if isinstance(record, ScoreRecord):
        return record.revised_at, record.org_record_id or ""
    return record.updated_at, record.number


def describe(exc: Exception) -> str:
    """A reason naming fields and problems, never input values."""
    if isinstance(exc, ValidationError):
        parts = [".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in exc.errors()]
        return mask_text("; ".join(parts))
    return mask_text(str(exc) or type(exc).__name__)


def _error(item: Mapping[str, Any]) -> tuple[str, str]:
    error = item.get("error")
    if not isinstance(error, Mapping):
        return "", ""
    return str(error.get("code") or ""), mask_text(str(error.get("message") or ""))


def _obj(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = item.get(key)
    if not (value.__class__ is dict or isinstance(value, Mapping)):  # dict: no ABC check
        raise WireError(f"{key}: must be an object")
    return value


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WireError(f"{key}: missing")
    return value


def _decimal(item: Mapping[str, Any], key: str) -> Decimal | None:
    """A score field: a JSON number (or a numeric string), or null. The reason for anything
    else names the field, never the value."""
    value = item.get(key)
    if value is None:
        return None
    if value.__class__ is float:
        known = _FLOATS.get(value)
        if known is not None:
            return known
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WireError(f"{key}: not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise WireError(f"{key}: not a number") from None
    if not number.is_finite():
        raise WireError(f"{key}: not a number")
    if value.__class__ is float and value:  # 0.0 == -0.0, but Decimal("-0.0") is its own
        if len(_FLOATS) >= _FLOATS_KEPT:
            _FLOATS.clear()
        _FLOATS[value] = number
    return number


#: Decimals of the floats seen lately: a page repeats its scores (64.5, 80.0, ...), and a
#: Decimal is immutable, so one instance serves every equal float (equal non-zero floats have
#: one ``str``). Bounded; a memo of what ``_decimal`` computes, so the mapping stays pure.
_FLOATS: dict[float, Decimal] = {}
_FLOATS_KEPT = 4096


def _moment(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise WireError("updated_at: missing")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WireError("updated_at: not an ISO 8601 time") from None
