"""Submitting a checked file: valid rows go through the registration outbox, nothing else.

Order matters for the audit trail and for safety: the organization's adapter is resolved
first (a configuration problem then leaves nothing behind); the ``submissions`` row is
committed before the registrations that point at it; the outbox commits each intent before
anything is sent, so a crash at any point leaves a state ``xgate outbox reconcile`` settles.
Submitting the same file again is a no-op for rows already registered: they are reported as
skipped and the organization is not asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.contract import Capability
from gateway.errors import ConfigurationError
from gateway.intake.audit import SubmissionRecord, finish_submission, record_submission
from gateway.intake.check import CheckedFile
from gateway.intake.registered import mark_registered
from gateway.intake.results import RowOutcome, outcome_from_check
from gateway.intake.validate import ValidRow
from gateway.masking import mask_text
from gateway.models import Candidate, ExamPlan, RegistrationStatus
from gateway.outbox import (
    DeliveryReport,
    OutboxItem,
    RegistrationRow,
    deliver,
    enqueue,
    idempotency_key,
    statuses,
)
from gateway.runtime import Gateway

S = RegistrationStatus
_UNSETTLED = (S.PENDING, S.SENT, S.UNKNOWN)


@dataclass
class SubmissionReport:
    organization: str
    submissions: dict[str, int] = field(default_factory=dict)  # plan code -> submission id
    outcomes: dict[int, RowOutcome] = field(default_factory=dict)  # row number -> outcome
    deliveries: list[DeliveryReport] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o.status] = out.get(o.status, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """True when every row is accepted or was already registered."""
        return all(o.status in ("accepted", "skipped") for o in self.outcomes.values())


def _candidate(entry: ValidRow) -> Candidate:
    if entry.candidate is None:
        raise ValueError("the file was checked with keep_candidates=False; check it again")
    return entry.candidate


def organization_names(gw: Gateway, organization: str) -> frozenset[str]:
    """Names a catalogue plan may use for this organization: its own and its plugin's."""
    conf = gw.settings.organizations.get(organization)
    return frozenset({organization, *([conf.plugin] if conf else [])})


def _outcome(row: RegistrationRow | None, report: DeliveryReport | None) -> RowOutcome:
    if row is None:
        return RowOutcome("unknown", "no registration recorded", "没有报名记录")
    if row.status is S.ACCEPTED:
        ref = row.org_registration_id or ""
        return RowOutcome("accepted", f"registration {ref}".strip(), f"已受理 {ref}".strip())
    if row.status is S.REJECTED:
        reason = mask_text(row.reason or row.reason_code or "no reason given")
        return RowOutcome("rejected", reason, f"被拒绝：{reason}", row.reason_code)
    if row.status is S.PENDING:
        why = mask_text("; ".join(report.errors)) if report and report.errors else "not sent"
        return RowOutcome(
            "pending",
            f"not sent yet ({why}); it stays in the outbox and goes with the next delivery",
            f"尚未发送（{why}），已留在发送队列中，下次发送时提交",
        )
    if row.status is S.CANCELLED:
        return RowOutcome("cancelled", "the registration was cancelled", "报名已取消")
    return RowOutcome(
        "unknown",
        "the organization's answer was lost; it is settled by look-up (xgate outbox "
        "reconcile), never sent twice",
        "未收到组织的答复，将通过查询确认（xgate outbox reconcile），不会重复报名",
    )


async def submit_checked(
    gw: Gateway,
    checked: CheckedFile,
    *,
    organization: str,
    operator: str,
    file_sha256: str,
    plan_code: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> SubmissionReport:
    """Register the file's valid rows with ``organization``; every row gets an outcome."""
    org = gw.organization(organization)  # plugin and settings problems surface before writing
    if not org.can(Capability.REGISTER):
        raise ConfigurationError(
            f"organization {organization!r} (plugin {org.spec.name!r}) cannot register candidates"
        )
    report = SubmissionReport(organization)
    async with gw.db.connect() as conn:
        existing = await mark_registered(conn, checked, gw.hash_id, organization)
    for result in checked.rows:
        reg = existing.get(result.row)
        if reg is not None and reg.status in _UNSETTLED:
            result.skip = None  # unsettled from an earlier run: goes along and is reported
    groups: dict[str, list[ValidRow]] = {}
    plans: dict[str, ExamPlan] = {}
    for entry in checked.valid():
        assert entry.plan is not None  # submissions require a plan for every valid row
        groups.setdefault(entry.plan.code, []).append(entry)
        plans[entry.plan.code] = entry.plan
    if plan_code and checked.options.plan is not None and plan_code not in groups:
        groups[plan_code] = []
    for result in checked.rows:
        early = outcome_from_check(result)
        if early is not None:
            report.outcomes[result.row] = early
    for code, entries in groups.items():
        await _submit_plan(
            gw,
            checked,
            report,
            organization,
            code,
            plans.get(code),
            entries,
            operator=operator,
            file_sha256=file_sha256,
            progress=progress,
        )
    return report


async def _submit_plan(
    gw: Gateway,
    checked: CheckedFile,
    report: SubmissionReport,
    organization: str,
    code: str,
    plan: ExamPlan | None,
    entries: list[ValidRow],
    *,
    operator: str,
    file_sha256: str,
    progress: Callable[[int], None] | None,
) -> None:
    charged = sum((e.fee for e in entries if e.fee is not None and not e.fee_waived), Decimal(0))
    waived = sum((e.fee for e in entries if e.fee is not None and e.fee_waived), Decimal(0))
    async with gw.db.begin() as conn:
        sid = await record_submission(
            conn,
            SubmissionRecord(
                operator=operator,
                file_name=checked.path.name,
                file_sha256=file_sha256,
                organization=organization,
                plan_code=code,
                rows_total=len(checked.rows),
                rows_valid=len(entries),
                fee_charged=charged,
                fee_waived=waived,
            ),
        )
    report.submissions[code] = sid
    if not entries or plan is None:
        async with gw.db.begin() as conn:
            await finish_submission(conn, sid, accepted=0, rejected=0)
        return
    # The outbox keys and loads plans by the configured organization's name.
    plan = plan.model_copy(update={"organization": organization})
    items = [OutboxItem(_candidate(e), e.fee, e.fee_waived, e.resit) for e in entries]
    enqueued = {
        e.idempotency_key: e
        for e in await enqueue(gw, organization, plan, items, submission_id=sid)
    }
    row_reg: dict[int, int] = {}
    created: set[int] = set()
    for e in entries:
        key = idempotency_key(organization, code, gw.hash_id(e.id_number))
        row_reg[e.row] = enqueued[key].registration_id
        if enqueued[key].created:
            created.add(e.row)
    delivery = await deliver(gw, organization, plan_code=code, progress=progress)
    report.deliveries.append(delivery)
    found = await statuses(gw, list(row_reg.values()))
    accepted = rejected = 0
    for row, reg_id in row_reg.items():
        outcome = _outcome(found.get(reg_id), delivery)
        report.outcomes[row] = outcome
        if row in created:
            accepted += outcome.status == "accepted"
            rejected += outcome.status == "rejected"
    async with gw.db.begin() as conn:
        await finish_submission(conn, sid, accepted=accepted, rejected=rejected)
