"""Canonical records: the one vocabulary between organization plugins, storage and reports.

Adapters translate an organization's wire format into these models and back; the core never
sees wire formats. Every model forbids unknown fields so a plugin that misspells a field fails
loudly in the conformance kit rather than silently dropping data.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from gateway.clock import BEIJING as BEIJING  # re-exported: where models read dates
from gateway.idnumber import IdNumberError, normalise, parse_resident_id, resident_number
from gateway.masking import mask_id


def _to_utc(value: Any) -> Any:
    """Organizations send Beijing time, often without an offset: assume UTC+8, store UTC."""
    if isinstance(value, str):
        text = value.strip().replace("/", "-")
        if len(text) == 10:
            text += "T00:00:00"
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=BEIJING)
        return value.astimezone(UTC)
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_to_utc)]
"""A timezone-aware UTC datetime; naive input is read as Beijing time."""


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        if value.isascii():  # NFKC leaves ASCII as it is
            return value.strip()
        return unicodedata.normalize("NFKC", value).strip()
    return value


CleanStr = Annotated[str, BeforeValidator(_strip)]
Score = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    schema_name: ClassVar[str] = ""


class Level(IntEnum):
    """Skill level of an X certificate: 初级 (1), 中级 (2), 高级 (3)."""

    JUNIOR = 1
    INTERMEDIATE = 2
    SENIOR = 3

    @property
    def label(self) -> str:
        return {1: "初级", 2: "中级", 3: "高级"}[int(self)]

    @classmethod
    def parse(cls, value: object) -> Level:
        """Accept 1/2/3, '初级'/'中级'/'高级', 'junior'/'intermediate'/'senior'."""
        text = _strip(str(value)).lower() if not isinstance(value, int) else str(value)
        level = _LEVELS.get(text)
        if level is None:
            raise ValueError(f"unknown level {value!r}; use 初级/中级/高级 or 1/2/3")
        return level


_LEVEL_ALIASES = {
    "1": 1,
    "初级": 1,
    "初": 1,
    "junior": 1,
    "primary": 1,
    "2": 2,
    "中级": 2,
    "中": 2,
    "intermediate": 2,
    "3": 3,
    "高级": 3,
    "高": 3,
    "senior": 3,
    "advanced": 3,
}


_LEVELS = {text: Level(number) for text, number in _LEVEL_ALIASES.items()}
#: Levels by a plain int's value (never a bool's: ``True == 1``, but ``str(True)`` is no alias).
_LEVELS_BY_INT = {int(level): level for level in Level}


def _level(value: Any) -> Any:
    if value.__class__ is int:  # the usual form, without Level.parse's text
        level = _LEVELS_BY_INT.get(value)
        if level is not None:
            return level
    return value if isinstance(value, Level) else Level.parse(value)


LevelField = Annotated[Level, BeforeValidator(_level)]


class IdType(StrEnum):
    """ID document types; only the resident ID card carries a GB 11643 checksum."""

    RESIDENT = "resident"  # 居民身份证
    HK_MACAO = "hk_macao_permit"  # 港澳居民来往内地通行证 / 居住证
    TAIWAN = "taiwan_permit"  # 台湾居民来往大陆通行证
    PASSPORT = "passport"  # 护照
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


class Candidate(Record):
    """A person put forward for an assessment; also the holder of a learning account."""

    schema_name: ClassVar[str] = "candidate"
    name: Annotated[CleanStr, Field(min_length=1, max_length=64)]
    id_type: IdType = IdType.RESIDENT
    id_number: Annotated[CleanStr, Field(max_length=32)]
    sex: Sex | None = None
    birth_date: date | None = None
    mobile: str | None = Field(default=None, pattern=r"^1[3-9]\d{9}$")
    # Bounded like the ``candidates`` columns (gateway/store/tables.py), so an overlong cell
    # is a row problem at check time, never a database error at submit time.
    student_number: Annotated[CleanStr, Field(max_length=64)] | None = None
    department: Annotated[CleanStr, Field(max_length=128)] | None = None
    major: Annotated[CleanStr, Field(max_length=128)] | None = None
    class_name: Annotated[CleanStr, Field(max_length=128)] | None = None
    ethnicity: Annotated[CleanStr, Field(max_length=32)] | None = None
    fee_waiver: bool = False
    resit: bool = False

    @model_validator(mode="before")
    @classmethod
    def _normalise_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id_type", IdType.RESIDENT) in (
            IdType.RESIDENT,
            "resident",
        ):
            data = dict(data)
            try:
                rid = parse_resident_id(data.get("id_number", ""))
            except IdNumberError as exc:
                raise ValueError(exc.message) from None
            data["id_number"] = rid.number
            if data.get("birth_date") in (None, ""):
                data["birth_date"] = rid.birth_date
            if data.get("sex") in (None, ""):
                data["sex"] = rid.sex
        elif isinstance(data, dict) and data.get("id_number") is not None:
            data = dict(data)
            data["id_number"] = normalise(str(data["id_number"]))
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Candidate:
        if self.id_type is IdType.RESIDENT:
            rid = parse_resident_id(self.id_number)
            if self.birth_date is not None and self.birth_date != rid.birth_date:
                raise ValueError("birth date does not match the ID number / 出生日期与证件号码不符")
            if self.sex is not None and self.sex.value != rid.sex:
                raise ValueError("sex does not match the ID number / 性别与证件号码不符")
        return self

    @property
    def masked_id(self) -> str:
        return mask_id(self.id_number)

    def __repr_args__(self) -> Any:  # never print the raw ID number or mobile in a repr
        for key, value in super().__repr_args__():
            if key == "id_number":
                yield key, self.masked_id
            elif key == "mobile" and value:
                yield key, "***"
            else:
                yield key, value


class Organization(Record):
    schema_name: ClassVar[str] = "organization"
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
    title: str


class Certificate(Record):
    """An X certificate at one level, as listed in the catalogue."""

    schema_name: ClassVar[str] = "certificate"
    code: Annotated[CleanStr, Field(min_length=1, max_length=64)]
    name: CleanStr
    level: LevelField
    organization: str | None = None

    @property
    def level_label(self) -> str:
        return self.level.label


class ExamPlan(Record):
    """One assessment batch (考核批次) of one certificate and level at one test centre."""

    schema_name: ClassVar[str] = "exam_plan"
    code: Annotated[CleanStr, Field(min_length=1, max_length=64)]
    organization: str
    certificate_code: CleanStr
    level: LevelField
    exam_date: date | None = None
    registration_deadline: date | None = None
    test_centre: CleanStr | None = None


class RegistrationStatus(StrEnum):
    """Outbox and registration states.

    pending: intent committed, nothing sent yet; sent: request in flight; unknown: the request
    may have reached the organization but we did not see the answer (reconcile by look-up,
    never by resending); accepted / rejected: the organization's answer; cancelled: withdrawn.
    """

    PENDING = "pending"
    SENT = "sent"
    UNKNOWN = "unknown"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


REGISTRATION_TRANSITIONS: dict[RegistrationStatus, frozenset[RegistrationStatus]] = {
    RegistrationStatus.PENDING: frozenset(
        {RegistrationStatus.SENT, RegistrationStatus.CANCELLED, RegistrationStatus.REJECTED}
    ),
    RegistrationStatus.SENT: frozenset(
        {
            RegistrationStatus.ACCEPTED,
            RegistrationStatus.REJECTED,
            RegistrationStatus.UNKNOWN,
            RegistrationStatus.PENDING,
        }
    ),
    RegistrationStatus.UNKNOWN: frozenset(
        {RegistrationStatus.ACCEPTED, RegistrationStatus.REJECTED, RegistrationStatus.PENDING}
    ),
    RegistrationStatus.ACCEPTED: frozenset({RegistrationStatus.CANCELLED}),
    RegistrationStatus.REJECTED: frozenset({RegistrationStatus.PENDING}),
    RegistrationStatus.CANCELLED: frozenset(),
}


def can_transition(old: RegistrationStatus, new: RegistrationStatus) -> bool:
    return old == new or new in REGISTRATION_TRANSITIONS[old]


def transition_sources(new: RegistrationStatus) -> frozenset[RegistrationStatus]:
    """Every status a registration may move to ``new`` from (itself included). The outbox
    moves rows only from these (``gateway.outbox._transition``), in the UPDATE itself."""
    return frozenset(old for old in RegistrationStatus if can_transition(old, new))


class IllegalTransition(RuntimeError):
    """A registration asked to move along a transition REGISTRATION_TRANSITIONS does not
    allow: a bug in the core, never a user's or an organization's fault; nothing is changed."""


class Registration(Record):
    schema_name: ClassVar[str] = "registration"
    organization: str
    plan_code: str
    idempotency_key: str
    status: RegistrationStatus
    org_registration_id: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    updated_at: UtcDatetime | None = None


class RegistrationRequest(Record):
    """What the core asks an adapter to register: a candidate, for a plan, under a stable key."""

    schema_name: ClassVar[str] = "registration_request"
    idempotency_key: str
    plan: ExamPlan
    candidate: Candidate


class RegistrationOutcome(Record):
    """An adapter's answer for one candidate. ``rejected`` is a business refusal, never retried."""

    schema_name: ClassVar[str] = "registration_outcome"
    idempotency_key: str
    status: RegistrationStatus
    org_registration_id: str | None = None
    reason_code: str | None = None
    reason: str | None = None

    @field_validator("status")
    @classmethod
    def _final(cls, value: RegistrationStatus) -> RegistrationStatus:
        if value not in (RegistrationStatus.ACCEPTED, RegistrationStatus.REJECTED):
            raise ValueError("an outcome is either accepted or rejected")
        return value


class ScoreRecord(Record):
    """One candidate's result in one plan, at one revision. Natural key: org, plan, ID number."""

    schema_name: ClassVar[str] = "score_record"
    organization: str
    plan_code: CleanStr
    id_number: str  # normalised by ``_id`` (to ASCII without spaces: nothing left to strip)
    name: CleanStr | None = None
    certificate_code: CleanStr | None = None
    level: LevelField | None = None
    theory: Score | None = None
    practical: Score | None = None
    total: Score | None = None
    passed: bool | None = None
    absent: bool = False
    revised_at: UtcDatetime
    org_record_id: str | None = None

    @field_validator("id_number", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return _reported_id(value)


_RESIDENT_LIKE = re.compile(r"\d{14,17}[\dX]")
_DOCUMENT_LIKE = re.compile(r"[0-9A-Z()\-]{5,32}")


def _reported_id(value: Any) -> Any:
    """An ID number as an organization reports it. Records carry no document type, so only
    what looks like a resident ID (15 to 18 digits, maybe ending in X) is checked as one; a
    damaged number is refused (the record is quarantined) rather than opening a learning
    account for a person who does not exist."""
    if value is None:
        return value
    text = normalise(str(value))
    try:
        if resident_number(text) is not None:  # the usual form, checked without a ResidentId
            return text
        if _RESIDENT_LIKE.fullmatch(text):
            return parse_resident_id(text).number
    except IdNumberError as exc:
        raise ValueError(exc.message) from None
    if not _DOCUMENT_LIKE.fullmatch(text):
        raise ValueError("not an ID document number (5 to 32 letters and digits)")
    return text


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class CertificateRecord(Record):
    """An issued certificate as the organization reports it. Natural key: org, number."""

    schema_name: ClassVar[str] = "certificate_record"
    organization: str
    number: Annotated[CleanStr, Field(min_length=4, max_length=64)]
    certificate_code: CleanStr
    certificate_name: CleanStr | None = None
    level: LevelField
    id_number: str  # normalised by ``_id`` (to ASCII without spaces: nothing left to strip)
    holder_name: CleanStr | None = None
    plan_code: CleanStr | None = None
    issued_on: date
    status: CertificateStatus = CertificateStatus.VALID
    revoked_reason: str | None = None
    updated_at: UtcDatetime

    @field_validator("id_number", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return _reported_id(value)


class IssueRequest(Record):
    """Ask an organization to issue the certificate for one passed registration."""

    schema_name: ClassVar[str] = "issue_request"
    idempotency_key: str
    plan: ExamPlan
    candidate: Candidate
    org_registration_id: str | None = None


class IssueOutcome(Record):
    schema_name: ClassVar[str] = "issue_outcome"
    idempotency_key: str
    issued: bool
    certificate: CertificateRecord | None = None
    reason_code: str | None = None
    reason: str | None = None


class Verification(Record):
    schema_name: ClassVar[str] = "verification"
    number: str
    found: bool
    status: CertificateStatus | None = None
    holder_matches: bool | None = None
    certificate: CertificateRecord | None = None


class CreditEntryKind(StrEnum):
    CONVERSION = "conversion"  # certificate -> course credit
    REVERSAL = "reversal"  # compensating entry (revocation, correction, expiry)
    COURSE = "course"  # imported course credit
    TRAINING = "training"  # imported non-degree training


class CreditEntry(Record):
    """One append-only ledger entry of a learning account (hash-chained per account)."""

    schema_name: ClassVar[str] = "credit_entry"
    account: str  # hashed ID number; never the number itself
    seq: int = Field(ge=1)
    kind: CreditEntryKind
    course_code: str | None = None
    course_name: str | None = None
    credits: Decimal
    source_org: str | None = None
    source_ref: str | None = None
    sync_run_id: int | None = None
    rule_version: str | None = None
    grade: str | None = None
    score_revision: int | None = None
    reverses_seq: int | None = None
    valid_until: date | None = None
    reason: str | None = None  # why a reversal was made: revoked, score corrected, expired...
    recorded_at: UtcDatetime
    prev_hash: str
    hash: str


def _nonempty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


NonEmpty = Annotated[str, AfterValidator(_nonempty)]

ALL_RECORDS: tuple[type[Record], ...] = (
    Candidate,
    Organization,
    Certificate,
    ExamPlan,
    Registration,
    RegistrationRequest,
    RegistrationOutcome,
    ScoreRecord,
    CertificateRecord,
    IssueRequest,
    IssueOutcome,
    Verification,
    CreditEntry,
)
