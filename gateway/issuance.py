"""Asking organizations to issue certificates for passed candidates, exactly once each.

A request is committed (``issue_requests``, unique per registration) before it is sent, under a
deterministic idempotency key. The ``issue`` capability requires the organization to treat a
repeated key (or registration) as the same request, so an ``unknown`` outcome is settled by
sending the same request again: it returns the certificate already issued, never a second one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, select

from gateway.contract import Capability
from gateway.failures import Action, Kind, Operation, decide, log_failure
from gateway.idempotency import issue_key as issue_key  # re-exported
from gateway.models import IssueOutcome, IssueRequest
from gateway.outbox import load_plan
from gateway.people import candidate_from_row
from gateway.records import PageResult, apply_certificates
from gateway.runtime import Gateway
from gateway.store import tables as t

log = logging.getLogger("xgate.issue")


@dataclass
class IssueReport:
    organization: str
    requested: int = 0
    issued: int = 0
    refused: int = 0
    unknown: int = 0
    errors: list[str] = field(default_factory=list)
    #: the organization's configuration (or plugin) is broken: nothing was attempted
    misconfigured: bool = False

    @property
    def ok(self) -> bool:
        """Every request settled (issued or refused); nothing unknown, nothing failed."""
        return not self.errors and self.unknown == 0


async def _queue(gw: Gateway, organization: str, plan_code: str | None) -> int:
    """Record an issue request for every passed, accepted registration without a certificate."""
    now = datetime.now(UTC)
    has_cert = exists().where(
        and_(
            t.certificates.c.organization == t.registrations.c.organization,
            t.certificates.c.id_hash == t.candidates.c.id_hash,
            t.certificates.c.certificate_code == t.scores.c.certificate_code,
        )
    )
    q = (
        select(t.registrations.c.id, t.registrations.c.plan_code, t.candidates.c.id_hash)
        .join(t.candidates, t.candidates.c.id == t.registrations.c.candidate_id)
        .join(
            t.scores,
            and_(
                t.scores.c.organization == t.registrations.c.organization,
                t.scores.c.plan_code == t.registrations.c.plan_code,
                t.scores.c.id_hash == t.candidates.c.id_hash,
            ),
        )
        .outerjoin(t.issue_requests, t.issue_requests.c.registration_id == t.registrations.c.id)
        .where(
            t.registrations.c.organization == organization,
            t.registrations.c.status == "accepted",
            t.scores.c.rule_passed.is_(True),
            t.issue_requests.c.id.is_(None),
            ~has_cert,
        )
    )
    if plan_code:
        q = q.where(t.registrations.c.plan_code == plan_code)
    async with gw.db.begin() as conn:
        rows = list(await conn.execute(q))
        if rows:
            await conn.execute(
                t.issue_requests.insert(),
                [
                    {
                        "idempotency_key": issue_key(organization, r.plan_code, r.id_hash),
                        "registration_id": r.id,
                        "status": "pending",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for r in rows
                ],
            )
    return len(rows)


async def _open_requests(gw: Gateway, organization: str, plan_code: str | None) -> list[Any]:
    """Requests not settled: pending, unknown, and ``sent`` ones a killed run left behind.
    Sending those again is safe: the ``issue`` capability treats a repeated key as the same
    request, so it answers with the certificate already issued."""
    q = (
        select(
            t.issue_requests.c.id.label("ir_id"),
            t.issue_requests.c.idempotency_key,
            t.registrations.c.plan_code,
            t.registrations.c.org_registration_id,
            t.candidates,
        )
        .join(t.registrations, t.registrations.c.id == t.issue_requests.c.registration_id)
        .join(t.candidates, t.candidates.c.id == t.registrations.c.candidate_id)
        .where(
            t.registrations.c.organization == organization,
            t.issue_requests.c.status.in_(("pending", "sent", "unknown")),
        )
        .order_by(t.issue_requests.c.id)
    )
    if plan_code:
        q = q.where(t.registrations.c.plan_code == plan_code)
    async with gw.db.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def _set(gw: Gateway, ids: list[int], status: str, **values: Any) -> None:
    async with gw.db.begin() as conn:
        await conn.execute(
            t.issue_requests.update()
            .where(t.issue_requests.c.id.in_(ids))
            .values(status=status, updated_at=datetime.now(UTC), **values)
        )


async def issue_for(
    gw: Gateway, organization: str, *, plan_code: str | None = None, run_id: int | None = None
) -> IssueReport:
    report = IssueReport(organization)
    org = gw.organization(organization)
    if not org.can(Capability.ISSUE):
        return report
    report.requested = await _queue(gw, organization, plan_code)
    rows = await _open_requests(gw, organization, plan_code)
    by_plan: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_plan.setdefault(row["plan_code"], []).append(row)
    for code, items in by_plan.items():
        async with gw.db.connect() as conn:
            plan = await load_plan(conn, organization, code)
        if plan is None:
            report.errors.append(f"{organization}: plan {code} not recorded")
            continue
        for start in range(0, len(items), org.spec.batch_size):
            batch = items[start : start + org.spec.batch_size]
            ids = [r["ir_id"] for r in batch]
            requests = [
                IssueRequest(
                    idempotency_key=r["idempotency_key"],
                    plan=plan,
                    candidate=candidate_from_row(r, gw.keys),
                    org_registration_id=r["org_registration_id"],
                )
                for r in batch
            ]
            await _set(gw, ids, "sent")
            try:
                outcomes = await org.issuer().issue(requests)
            except Exception as exc:  # the failure policy decides; see gateway.failures
                if await _settle_failure(gw, organization, ids, exc, report):
                    return report
                continue
            await _record(gw, organization, batch, outcomes, report, run_id)
    return report


async def _settle_failure(
    gw: Gateway, organization: str, ids: list[int], exc: Exception, report: IssueReport
) -> bool:
    """Record what a failed ``issue`` call means for its requests; True when issuance of this
    organization stops for this run."""
    decision = decide(exc, Operation.WRITE)
    log_failure(log, f"{organization}: issue", exc, decision)
    if decision.action is Action.REJECT:
        await _set(gw, ids, "refused", reason=str(exc))
        report.refused += len(ids)
        return False
    if decision.action is Action.UNKNOWN:
        await _set(gw, ids, "unknown", reason=decision.reason)
        report.unknown += len(ids)
    else:  # deferred or the organization failed: certainly not issued, asked again next run
        await _set(gw, ids, "pending", reason=decision.reason)
    if decision.kind is not Kind.OUTCOME_UNKNOWN:
        report.errors.append(f"{organization}: issuance {decision.action.value}: {decision.reason}")
    return decision.stop


async def _record(
    gw: Gateway,
    organization: str,
    batch: list[dict[str, Any]],
    outcomes: Any,
    report: IssueReport,
    run_id: int | None,
) -> None:
    by_key: dict[str, IssueOutcome] = {o.idempotency_key: o for o in outcomes}
    now = datetime.now(UTC)
    result = PageResult()
    async with gw.db.begin() as conn:
        certificates = []
        for row in batch:
            o = by_key.get(row["idempotency_key"])
            where = t.issue_requests.c.id == row["ir_id"]
            if o is None:
                await conn.execute(
                    t.issue_requests.update().where(where).values(status="unknown", updated_at=now)
                )
                report.unknown += 1
            elif o.issued and o.certificate is not None:
                certificates.append(o.certificate)
                await conn.execute(
                    t.issue_requests.update()
                    .where(where)
                    .values(
                        status="issued", certificate_number=o.certificate.number, updated_at=now
                    )
                )
                report.issued += 1
            else:
                await conn.execute(
                    t.issue_requests.update()
                    .where(where)
                    .values(status="refused", reason=o.reason, updated_at=now)
                )
                report.refused += 1
        if certificates:
            await apply_certificates(
                conn,
                organization,
                certificates,
                hash_id=gw.hash_id,
                run_id=run_id,
                now=now,
                result=result,
            )
    for hook, kwargs in result.events:
        gw.host.emit(hook, **kwargs)


async def issue_all(
    gw: Gateway,
    organizations: list[str] | None = None,
    plan_code: str | None = None,
    run_id: int | None = None,
) -> list[IssueReport]:
    reports = []
    for name in gw.organization_names(organizations):
        try:
            reports.append(await issue_for(gw, name, plan_code=plan_code, run_id=run_id))
        except Exception as exc:  # confined to this organization
            decision = decide(exc, Operation.WRITE)
            log_failure(log, f"{name}: issuance", exc, decision)
            reports.append(
                IssueReport(
                    name,
                    errors=[decision.reason],
                    misconfigured=decision.kind is Kind.CONFIGURATION,
                )
            )
    return reports
