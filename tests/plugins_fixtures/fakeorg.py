"""An in-memory organization adapter for core tests (no HTTP), with scriptable failures.

``FakeOrg`` is the organization's side (its ground truth); the adapter talks to it directly.
Failure modes mirror the real ones: commit-then-lose-the-answer (``drop_after_commit``),
refusal before anything is processed (``fail_before``), business refusals (``refuse``).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import BaseModel

from gateway import (
    Capability,
    OrganizationSpec,
    OutcomeUnknown,
    Page,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    TransientError,
    hookimpl,
)
from gateway.models import CertificateRecord, ExamPlan, IssueOutcome, IssueRequest, ScoreRecord


@dataclass
class FakeOrg:
    registrations: dict[tuple[str, str], str] = field(default_factory=dict)  # (plan, id) -> reg id
    register_calls: int = 0
    lookup_calls: int = 0
    drop_after_commit: float = 0.0
    fail_before: int = 0  # the next N calls fail before processing
    refuse: dict[str, str] = field(default_factory=dict)  # id_number -> reason code
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    issued: dict[str, CertificateRecord] = field(default_factory=dict)  # by idempotency key
    issue_calls: int = 0
    lose_issue_answer: int = 0  # the next N issue calls commit, then lose the answer
    scores: list[ScoreRecord] = field(default_factory=list)
    certificates: list[CertificateRecord] = field(default_factory=list)
    #: list certificates as a snapshot (API 1.1): every read from the start lists only the
    #: current ones and says so on its last page; a finished read's cursor is "done"
    snapshot: bool = False


ORGS: dict[str, FakeOrg] = {}


def org(name: str) -> FakeOrg:
    return ORGS.setdefault(name, FakeOrg())


class FakeSettings(BaseModel):
    name: str = "fake"
    page_size: int = 10


class FakeAdapter:
    def __init__(self, settings: FakeSettings, context: object) -> None:
        self.org = org(settings.name)
        self.page_size = settings.page_size

    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationOutcome]:
        o = self.org
        o.register_calls += 1
        if o.fail_before > 0:
            o.fail_before -= 1
            raise TransientError("connection refused", sent=False)
        outcomes = []
        for r in requests:
            key = (plan.code, r.candidate.id_number)
            if r.candidate.id_number in o.refuse:
                outcomes.append(
                    RegistrationOutcome(
                        idempotency_key=r.idempotency_key,
                        status=RegistrationStatus.REJECTED,
                        reason_code=o.refuse[r.candidate.id_number],
                        reason="refused by the organization",
                    )
                )
                continue
            o.registrations.setdefault(key, f"R{len(o.registrations) + 1:06d}")
            outcomes.append(
                RegistrationOutcome(
                    idempotency_key=r.idempotency_key,
                    status=RegistrationStatus.ACCEPTED,
                    org_registration_id=o.registrations[key],
                )
            )
        if o.drop_after_commit and o.rng.random() < o.drop_after_commit:
            raise OutcomeUnknown("connection reset after the request was sent")
        return outcomes

    async def lookup_registration(
        self, plan: ExamPlan, request: RegistrationRequest
    ) -> RegistrationOutcome | None:
        self.org.lookup_calls += 1
        reg_id = self.org.registrations.get((plan.code, request.candidate.id_number))
        if reg_id is None:
            return None
        return RegistrationOutcome(
            idempotency_key=request.idempotency_key,
            status=RegistrationStatus.ACCEPTED,
            org_registration_id=reg_id,
        )

    async def issue(self, requests: Sequence[IssueRequest]) -> list[IssueOutcome]:
        """Idempotent per key, as the ``issue`` capability requires."""
        o = self.org
        o.issue_calls += 1
        out = []
        for r in requests:
            if r.idempotency_key not in o.issued:
                o.issued[r.idempotency_key] = CertificateRecord(
                    organization="fake",
                    number=f"FK{len(o.issued) + 1:06d}",
                    certificate_code=r.plan.certificate_code,
                    level=r.plan.level,
                    id_number=r.candidate.id_number,
                    holder_name=r.candidate.name,
                    plan_code=r.plan.code,
                    issued_on=date(2026, 12, 30),
                    updated_at=datetime(2026, 12, 30, tzinfo=UTC),
                )
                o.certificates.append(o.issued[r.idempotency_key])
            out.append(
                IssueOutcome(
                    idempotency_key=r.idempotency_key,
                    issued=True,
                    certificate=o.issued[r.idempotency_key],
                )
            )
        if o.lose_issue_answer > 0:
            o.lose_issue_answer -= 1
            raise OutcomeUnknown("answer lost")
        return out

    def cursor_since(self, stream: str, since: datetime) -> str:
        items = self.org.scores if stream == "scores" else self.org.certificates
        stamps = [getattr(r, "revised_at", None) or r.updated_at for r in items]
        return str(next((i for i, s in enumerate(stamps) if s >= since), len(items)))

    async def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]:
        start = int(cursor or 0)
        items = self.org.scores
        while start < len(items):
            chunk = items[start : start + self.page_size]
            start += len(chunk)
            yield Page(records=chunk, next_cursor=str(start))

    async def certificates(self, cursor: str | None) -> AsyncIterator[Page[CertificateRecord]]:
        if self.org.snapshot:
            async for page in self._snapshot(cursor):
                yield page
            return
        start = int(cursor or 0)
        items = self.org.certificates
        while start < len(items):
            chunk = items[start : start + self.page_size]
            start += len(chunk)
            yield Page(records=chunk, next_cursor=str(start))

    async def _snapshot(self, cursor: str | None) -> AsyncIterator[Page[CertificateRecord]]:
        fresh = cursor in (None, "done")
        start = 0 if fresh else int(cursor or 0)
        items = self.org.certificates
        while True:
            chunk = items[start : start + self.page_size]
            start += len(chunk)
            last = start >= len(items)
            yield Page(
                records=chunk,
                next_cursor="done" if last else str(start),
                complete=last and fresh,
            )
            if last:
                return


@hookimpl
def xgate_register_organizations(register: object) -> None:
    register(  # type: ignore[operator]
        OrganizationSpec(
            name="fake",
            title="Fake Org",
            version="0.0.1",
            capabilities=frozenset(
                {Capability.REGISTER, Capability.SCORES, Capability.CERTIFICATES, Capability.ISSUE}
            ),
            settings_model=FakeSettings,
            factory=FakeAdapter,
            batch_size=25,
        )
    )
