"""The registration outbox: no candidate is ever registered twice, whatever fails when.

1. ``enqueue`` commits the intent (``pending``) under a deterministic idempotency key
   (organization + plan + hashed ID) before anything is sent; enqueuing again is a no-op.
2. ``deliver`` claims a batch (``sent``, with a lease naming this process) and commits that
   claim *before* the request leaves, then records each answer (``accepted``/``rejected``).
   A failure that may have happened after the organization received the request leaves the
   batch ``unknown``; a failure known to be before sending puts it back to ``pending``.
3. ``reconcile`` settles ``unknown`` entries (and ``sent`` ones whose owner died: a killed
   process) by *asking* the organization (``lookup_registration``), never by sending again:
   found -> accepted/rejected; certainly absent -> back to ``pending`` for a later delivery.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.failures import Action, Kind, Operation, decide, log_failure
from gateway.models import (
    Candidate,
    ExamPlan,
    Registration,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
)
from gateway.people import candidate_from_row, upsert_candidates
from gateway.runtime import Gateway
from gateway.store import tables as t

log = logging.getLogger("xgate.outbox")
S = RegistrationStatus
LEASE = timedelta(hours=2)  # longer than any batch: upload, job polling, retries
reg = t.registrations


def idempotency_key(organization: str, plan_code: str, id_hash: str) -> str:
    """Stable across runs and machines: the same person, plan and organization -> same key."""
    digest = hashlib.sha256(f"{organization}\x1f{plan_code}\x1f{id_hash}".encode()).hexdigest()
    return f"xg1-{digest[:40]}"


@dataclass(frozen=True)
class OutboxItem:
    candidate: Candidate
    fee: Decimal | None = None
    fee_waived: bool = False
    resit: bool = False


@dataclass(frozen=True)
class Enqueued:
    idempotency_key: str
    registration_id: int
    status: RegistrationStatus
    created: bool


@dataclass
class DeliveryReport:
    organization: str
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    deferred: int = 0
    reconciled: int = 0
    auth_failed: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.auth_failed and self.unknown == 0


@dataclass
class ReconcileReport:
    accepted: int = 0
    rejected: int = 0
    requeued: int = 0
    still_unknown: int = 0
    errors: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_local(owner: str | None) -> bool:
    return bool(owner) and str(owner).partition(":")[0] == socket.gethostname()


def _abandoned(owner: str | None, lease_until: datetime | None, now: datetime) -> bool:
    """A ``sent`` entry nobody is working on any more: its owner on this host is gone, or an
    owner elsewhere let its lease run out. A live owner here is never overtaken, however long
    its batch takes (a slow platform's job polling can outlast any lease)."""
    if _owner_dead(owner):
        return True
    if _owner_local(owner):
        return False
    return (_aware(lease_until) or now) < now


def _owner_dead(owner: str | None) -> bool:
    """True when the lease owner is a process on this host that no longer exists."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def ensure_plan(conn: AsyncConnection, plan: ExamPlan) -> None:
    """Record the exam plan (organization + code) if it is new."""
    found = await conn.execute(
        select(t.exam_plans.c.id).where(
            t.exam_plans.c.organization == plan.organization, t.exam_plans.c.code == plan.code
        )
    )
    if found.scalar_one_or_none() is None:
        await conn.execute(
            t.exam_plans.insert().values(
                organization=plan.organization,
                code=plan.code,
                certificate_code=plan.certificate_code,
                level=int(plan.level),
                exam_date=plan.exam_date,
                registration_deadline=plan.registration_deadline,
                test_centre=plan.test_centre,
            )
        )


async def load_plan(conn: AsyncConnection, organization: str, code: str) -> ExamPlan | None:
    row = (
        (
            await conn.execute(
                select(t.exam_plans).where(
                    t.exam_plans.c.organization == organization, t.exam_plans.c.code == code
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return ExamPlan(
        code=row["code"],
        organization=row["organization"],
        certificate_code=row["certificate_code"],
        level=row["level"],
        exam_date=row["exam_date"],
        registration_deadline=row["registration_deadline"],
        test_centre=row["test_centre"],
    )


async def _transition(
    conn: AsyncConnection,
    ids: Sequence[int],
    status: RegistrationStatus,
    now: datetime,
    detail: str | None = None,
    **values: Any,
) -> None:
    if not ids:
        return
    await conn.execute(
        reg.update().where(reg.c.id.in_(ids)).values(status=status.value, updated_at=now, **values)
    )
    await conn.execute(
        t.registration_events.insert(),
        [{"registration_id": i, "status": status.value, "detail": detail, "at": now} for i in ids],
    )


async def enqueue(
    gw: Gateway,
    organization: str,
    plan: ExamPlan,
    items: Sequence[OutboxItem],
    *,
    submission_id: int | None = None,
) -> list[Enqueued]:
    """Commit the intent to register each candidate; existing intents are left as they are."""
    now = _now()
    out: list[Enqueued] = []
    async with gw.db.begin() as conn:
        await ensure_plan(conn, plan)
        ids = await upsert_candidates(conn, [i.candidate for i in items], gw.hash_id, now)
        keys = {
            idempotency_key(organization, plan.code, gw.hash_id(i.candidate.id_number)): i
            for i in items
        }
        existing = {
            r.idempotency_key: r
            for r in await conn.execute(
                select(reg.c.id, reg.c.idempotency_key, reg.c.status).where(
                    reg.c.idempotency_key.in_(list(keys))
                )
            )
        }
        new_rows = []
        for key, item in keys.items():
            if key in existing:
                continue
            new_rows.append(
                {
                    "idempotency_key": key,
                    "organization": organization,
                    "plan_code": plan.code,
                    "candidate_id": ids[gw.hash_id(item.candidate.id_number)],
                    "status": S.PENDING.value,
                    "fee": item.fee,
                    "fee_waived": item.fee_waived,
                    "resit": item.resit,
                    "attempts": 0,
                    "submission_id": submission_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if new_rows:
            await conn.execute(reg.insert(), new_rows)
        rows = {
            r.idempotency_key: r
            for r in await conn.execute(
                select(reg.c.id, reg.c.idempotency_key, reg.c.status).where(
                    reg.c.idempotency_key.in_(list(keys))
                )
            )
        }
        created = {r["idempotency_key"] for r in new_rows}
        if created:
            await conn.execute(
                t.registration_events.insert(),
                [
                    {
                        "registration_id": rows[k].id,
                        "status": S.PENDING.value,
                        "detail": "enqueued",
                        "at": now,
                    }
                    for k in created
                ],
            )
        for key in keys:
            row = rows[key]
            out.append(Enqueued(key, row.id, S(row.status), key in created))
    return out


async def _claim(
    gw: Gateway, organization: str, plan_code: str | None, limit: int, owner: str
) -> tuple[str, list[dict[str, Any]]] | None:
    """Mark up to ``limit`` pending entries of one plan as sent by us, and commit that."""
    now = _now()
    async with gw.db.begin() as conn:
        q = select(reg.c.id, reg.c.plan_code).where(
            reg.c.organization == organization, reg.c.status == S.PENDING.value
        )
        if plan_code:
            q = q.where(reg.c.plan_code == plan_code)
        q = q.order_by(reg.c.plan_code, reg.c.id).limit(limit)
        if not gw.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        picked = list(await conn.execute(q))
        if not picked:
            return None
        plan = picked[0].plan_code
        ids = [r.id for r in picked if r.plan_code == plan]
        await _transition(
            conn,
            ids,
            S.SENT,
            now,
            "claimed for sending",
            lease_owner=owner,
            lease_until=now + LEASE,
            attempts=reg.c.attempts + 1,
        )
        rows = await conn.execute(_with_candidate().where(reg.c.id.in_(ids)).order_by(reg.c.id))
        return plan, [dict(r) for r in rows.mappings()]


def _with_candidate() -> Any:
    """Outbox rows joined with their candidate; the registration id is ``reg_id``."""
    return select(
        reg.c.id.label("reg_id"), reg.c.idempotency_key, reg.c.plan_code, t.candidates
    ).join(t.candidates, t.candidates.c.id == reg.c.candidate_id)


def _request(plan: ExamPlan, row: dict[str, Any]) -> RegistrationRequest:
    return RegistrationRequest(
        idempotency_key=row["idempotency_key"], plan=plan, candidate=candidate_from_row(row)
    )


async def _record(
    gw: Gateway,
    organization: str,
    rows: list[dict[str, Any]],
    outcomes: Sequence[RegistrationOutcome],
    report: DeliveryReport,
) -> list[Registration]:
    by_key = {o.idempotency_key: o for o in outcomes}
    now = _now()
    accepted: list[Registration] = []
    async with gw.db.begin() as conn:
        unknown_ids = []
        for row in rows:
            o = by_key.get(row["idempotency_key"])
            if o is None:
                unknown_ids.append(row["reg_id"])
                continue
            await _transition(
                conn,
                [row["reg_id"]],
                o.status,
                now,
                o.reason,
                org_registration_id=o.org_registration_id,
                reason_code=o.reason_code,
                reason=o.reason,
                lease_owner=None,
                lease_until=None,
            )
            if o.status is S.ACCEPTED:
                report.accepted += 1
            else:
                report.rejected += 1
        await _transition(
            conn,
            unknown_ids,
            S.UNKNOWN,
            now,
            "no answer for this candidate",
            lease_owner=None,
            lease_until=None,
        )
        report.unknown += len(unknown_ids)
    plan_code = rows[0].get("plan_code") if rows else None
    for row in rows:
        o = by_key.get(row["idempotency_key"])
        if o is not None and o.status is S.ACCEPTED:
            accepted.append(
                Registration(
                    organization=organization,
                    plan_code=str(plan_code or ""),
                    idempotency_key=o.idempotency_key,
                    status=o.status,
                    org_registration_id=o.org_registration_id,
                    updated_at=now,
                )
            )
    return accepted


async def _release(
    gw: Gateway, ids: list[int], status: RegistrationStatus, detail: str, **values: Any
) -> None:
    async with gw.db.begin() as conn:
        await _transition(
            conn, ids, status, _now(), detail, lease_owner=None, lease_until=None, **values
        )


async def _settle_failure(
    gw: Gateway, organization: str, ids: list[int], exc: Exception, report: DeliveryReport
) -> bool:
    """Record what a failed ``register`` call means for its claimed batch (see
    ``gateway.failures``); True when delivery to this organization stops for this run."""
    decision = decide(exc, Operation.WRITE)
    log_failure(log, f"{organization}: register", exc, decision)
    if decision.action is Action.REJECT:
        code = getattr(exc, "code", None)
        await _release(gw, ids, S.REJECTED, str(exc), reason_code=code, reason=str(exc))
        report.rejected += len(ids)
        return False
    if decision.action is Action.UNKNOWN:
        reason = f"outcome unknown: {decision.reason}"
        await _release(gw, ids, S.UNKNOWN, reason, reason=reason)
        report.unknown += len(ids)
    else:  # certainly not sent: back to pending, with the reason ``xgate outbox`` shows
        reason = f"not sent ({decision.action.value}): {decision.reason}"
        await _release(gw, ids, S.PENDING, reason, reason=reason)
        report.sent -= len(ids)
        if decision.action is Action.DEFER:
            report.deferred += len(ids)
        if decision.kind is Kind.AUTH:
            report.auth_failed = True
    if decision.kind is not Kind.OUTCOME_UNKNOWN:
        report.errors.append(f"{organization}: {decision.action.value}: {decision.reason}")
    return decision.stop


async def deliver(
    gw: Gateway,
    organization: str,
    *,
    plan_code: str | None = None,
    progress: Callable[[int], None] | None = None,
    resend: bool = True,
) -> DeliveryReport:
    """Send every pending registration of one organization, batch by batch.

    Entries that reconciliation finds certainly not registered are sent once more in the same
    call (``resend``), not again and again: an adapter that keeps failing (a plugin bug, answers
    lost before the organization acted) leaves them pending for the next delivery instead of
    recursing without end.
    """
    org = gw.organization(organization)
    report = DeliveryReport(organization)
    settled = await reconcile(gw, organization)
    report.reconciled = settled.accepted + settled.rejected + settled.requeued
    report.errors += settled.errors
    owner = _owner()
    while True:
        claim = await _claim(gw, organization, plan_code, org.spec.batch_size, owner)
        if claim is None:
            break
        code, rows = claim
        ids = [r["reg_id"] for r in rows]
        async with gw.db.connect() as conn:
            plan = await load_plan(conn, organization, code)
        if plan is None:  # cannot happen through enqueue; keep the rows safe regardless
            await _release(gw, ids, S.PENDING, f"unknown plan {code}")
            report.errors.append(f"{organization}: plan {code} is not recorded")
            break
        requests = [_request(plan, r) for r in rows]
        report.sent += len(rows)
        try:
            outcomes = await org.registrar().register(plan, requests)
        except Exception as exc:  # the failure policy decides; see gateway.failures
            if await _settle_failure(gw, organization, ids, exc, report):
                break
            continue
        accepted = await _record(gw, organization, rows, outcomes, report)
        for registration in accepted:
            gw.host.emit(
                "xgate_candidate_registered",
                organization=organization,
                plan_code=registration.plan_code,
                registration=registration,
            )
        if progress is not None:
            progress(len(rows))
    if report.unknown:
        again = await reconcile(gw, organization)
        report.reconciled += again.accepted + again.rejected + again.requeued
        report.unknown = again.still_unknown
        report.errors += again.errors
        if resend and again.requeued and not report.auth_failed and not report.deferred:
            more = await deliver(
                gw, organization, plan_code=plan_code, progress=progress, resend=False
            )
            _merge(report, more)
    return report


def _merge(into: DeliveryReport, more: DeliveryReport) -> None:
    into.sent += more.sent
    into.accepted += more.accepted
    into.rejected += more.rejected
    into.unknown = more.unknown
    into.deferred += more.deferred
    into.reconciled += more.reconciled
    into.auth_failed = into.auth_failed or more.auth_failed
    into.errors += more.errors


async def reconcile(gw: Gateway, organization: str | None = None) -> ReconcileReport:
    """Settle unknown entries (and abandoned ``sent`` ones) by asking the organization."""
    report = ReconcileReport()
    now = _now()
    names = [organization] if organization else gw.organization_names()
    for name in names:
        async with gw.db.begin() as conn:
            sent_rows = await conn.execute(
                select(reg.c.id, reg.c.lease_owner, reg.c.lease_until).where(
                    reg.c.organization == name, reg.c.status == S.SENT.value
                )
            )
            abandoned = [r.id for r in sent_rows if _abandoned(r.lease_owner, r.lease_until, now)]
            await _transition(
                conn,
                abandoned,
                S.UNKNOWN,
                now,
                "abandoned while sending (process ended)",
                lease_owner=None,
                lease_until=None,
            )
            rows = [
                dict(r)
                for r in (
                    await conn.execute(
                        _with_candidate()
                        .where(and_(reg.c.organization == name, reg.c.status == S.UNKNOWN.value))
                        .order_by(reg.c.id)
                    )
                ).mappings()
            ]
        if not rows:
            continue
        org = gw.organization(name)
        plans: dict[str, ExamPlan | None] = {}
        for row in rows:
            code = row["plan_code"]
            if code not in plans:
                async with gw.db.connect() as conn:
                    plans[code] = await load_plan(conn, name, code)
            plan = plans[code]
            if plan is None:
                report.still_unknown += 1
                continue
            try:
                outcome = await org.registrar().lookup_registration(plan, _request(plan, row))
            except Exception as exc:  # the failure policy decides; see gateway.failures
                decision = decide(exc, Operation.READ)
                log_failure(log, f"{name}: look-up", exc, decision)
                report.still_unknown += 1
                if decision.stop:
                    report.errors.append(f"{name}: reconciliation stopped: {decision.reason}")
                    break
                continue
            async with gw.db.begin() as conn:
                if outcome is None:
                    await _transition(
                        conn, [row["reg_id"]], S.PENDING, _now(), "not found by look-up"
                    )
                    report.requeued += 1
                else:
                    await _transition(
                        conn,
                        [row["reg_id"]],
                        outcome.status,
                        _now(),
                        "settled by look-up",
                        org_registration_id=outcome.org_registration_id,
                        reason_code=outcome.reason_code,
                        reason=outcome.reason,
                    )
                    if outcome.status is not S.ACCEPTED:
                        report.rejected += 1
            if outcome is not None and outcome.status is S.ACCEPTED:
                report.accepted += 1
                # after the commit, as for a registration accepted on first sending
                gw.host.emit(
                    "xgate_candidate_registered",
                    organization=name,
                    plan_code=row["plan_code"],
                    registration=Registration(
                        organization=name,
                        plan_code=row["plan_code"],
                        idempotency_key=row["idempotency_key"],
                        status=outcome.status,
                        org_registration_id=outcome.org_registration_id,
                        updated_at=_now(),
                    ),
                )
    return report


@dataclass(frozen=True)
class RegistrationRow:
    id: int
    idempotency_key: str
    organization: str
    plan_code: str
    status: RegistrationStatus
    org_registration_id: str | None
    reason_code: str | None
    reason: str | None
    updated_at: datetime | None


async def statuses(gw: Gateway, registration_ids: Sequence[int]) -> dict[int, RegistrationRow]:
    out: dict[int, RegistrationRow] = {}
    ids = list(registration_ids)
    async with gw.db.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = await conn.execute(
                select(
                    reg.c.id,
                    reg.c.idempotency_key,
                    reg.c.organization,
                    reg.c.plan_code,
                    reg.c.status,
                    reg.c.org_registration_id,
                    reg.c.reason_code,
                    reg.c.reason,
                    reg.c.updated_at,
                ).where(reg.c.id.in_(ids[i : i + 500]))
            )
            for r in rows:
                out[r.id] = RegistrationRow(
                    r.id,
                    r.idempotency_key,
                    r.organization,
                    r.plan_code,
                    S(r.status),
                    r.org_registration_id,
                    r.reason_code,
                    r.reason,
                    _aware(r.updated_at),
                )
    return out


async def open_entries(gw: Gateway, organization: str | None = None) -> list[RegistrationRow]:
    """Entries not settled yet: pending, sent and unknown (what ``xgate outbox`` lists)."""
    async with gw.db.connect() as conn:
        q = select(reg.c.id).where(
            or_(
                reg.c.status == S.PENDING.value,
                reg.c.status == S.SENT.value,
                reg.c.status == S.UNKNOWN.value,
            )
        )
        if organization:
            q = q.where(reg.c.organization == organization)
        ids = [r.id for r in await conn.execute(q.order_by(reg.c.id))]
    found = await statuses(gw, ids)
    return [found[i] for i in ids]
