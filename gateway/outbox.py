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

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import as_utc, utcnow
from gateway.failures import Action, Kind, Operation, decide, log_failure
from gateway.idempotency import registration_key
from gateway.models import (
    Candidate,
    ExamPlan,
    IllegalTransition,
    Registration,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    transition_sources,
)
from gateway.people import candidate_from_row, upsert_candidates
from gateway.runtime import Gateway
from gateway.store import tables as t

log = logging.getLogger("xgate.outbox")
LEASE = timedelta(hours=2)  # longer than any batch: upload, job polling, retries
registrations = t.registrations


#: stable across runs and machines: the same person, plan and organization -> same key
idempotency_key = registration_key


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
    return (as_utc(lease_until) or now) < now


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
    """Move registrations to ``status``, only along REGISTRATION_TRANSITIONS (checked in the
    UPDATE itself, so a concurrent move cannot slip past it), with one event each."""
    if not ids:
        return
    sources = [s.value for s in transition_sources(status)]
    moved = await conn.execute(
        registrations.update()
        .where(registrations.c.id.in_(ids), registrations.c.status.in_(sources))
        .values(status=status.value, updated_at=now, **values)
    )
    if moved.rowcount != len(set(ids)):
        raise IllegalTransition(
            f"{len(set(ids)) - moved.rowcount} registration(s) may not become {status.value} "
            "from their current status"
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
    now = utcnow()
    async with gw.db.begin() as conn:
        await ensure_plan(conn, plan)
        ids = await upsert_candidates(conn, [i.candidate for i in items], gw.keys, now)
        keys = {
            idempotency_key(organization, plan.code, gw.hash_id(i.candidate.id_number)): i
            for i in items
        }
        existing = await _by_key(conn, keys)
        new_rows = [
            {
                "idempotency_key": key,
                "organization": organization,
                "plan_code": plan.code,
                "candidate_id": ids[gw.hash_id(item.candidate.id_number)],
                "status": RegistrationStatus.PENDING.value,
                "fee": item.fee,
                "fee_waived": item.fee_waived,
                "resit": item.resit,
                "attempts": 0,
                "submission_id": submission_id,
                "created_at": now,
                "updated_at": now,
            }
            for key, item in keys.items()
            if key not in existing
        ]
        if new_rows:
            await conn.execute(registrations.insert(), new_rows)
        rows = await _by_key(conn, keys)
        created = {str(r["idempotency_key"]) for r in new_rows}
        await _enqueued_events(conn, [rows[k].id for k in created], now)
    return [
        Enqueued(key, rows[key].id, RegistrationStatus(rows[key].status), key in created)
        for key in keys
    ]


async def _by_key(conn: AsyncConnection, keys: Iterable[str]) -> dict[str, Any]:
    """Registrations by idempotency key: id and status."""
    columns = (registrations.c.id, registrations.c.idempotency_key, registrations.c.status)
    found = await conn.execute(
        select(*columns).where(registrations.c.idempotency_key.in_(list(keys)))
    )
    return {r.idempotency_key: r for r in found}


async def _enqueued_events(conn: AsyncConnection, ids: list[int], now: datetime) -> None:
    if ids:
        pending = RegistrationStatus.PENDING.value
        await conn.execute(
            t.registration_events.insert(),
            [
                {"registration_id": i, "status": pending, "detail": "enqueued", "at": now}
                for i in ids
            ],
        )


async def _claim(
    gw: Gateway, organization: str, plan_code: str | None, limit: int, owner: str
) -> tuple[str, list[dict[str, Any]]] | None:
    """Mark up to ``limit`` pending entries of one plan as sent by us, and commit that."""
    now = utcnow()
    async with gw.db.begin() as conn:
        q = select(registrations.c.id, registrations.c.plan_code).where(
            registrations.c.organization == organization,
            registrations.c.status == RegistrationStatus.PENDING.value,
        )
        if plan_code:
            q = q.where(registrations.c.plan_code == plan_code)
        q = q.order_by(registrations.c.plan_code, registrations.c.id).limit(limit)
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
            RegistrationStatus.SENT,
            now,
            "claimed for sending",
            lease_owner=owner,
            lease_until=now + LEASE,
            attempts=registrations.c.attempts + 1,
        )
        rows = await conn.execute(
            _with_candidate().where(registrations.c.id.in_(ids)).order_by(registrations.c.id)
        )
        return plan, [dict(r) for r in rows.mappings()]


def _with_candidate() -> Any:
    """Outbox rows joined with their candidate; the registration id is ``reg_id``."""
    return select(
        registrations.c.id.label("reg_id"),
        registrations.c.idempotency_key,
        registrations.c.plan_code,
        t.candidates,
    ).join(t.candidates, t.candidates.c.id == registrations.c.candidate_id)


def _request(gw: Gateway, plan: ExamPlan, row: dict[str, Any]) -> RegistrationRequest:
    return RegistrationRequest(
        idempotency_key=row["idempotency_key"],
        plan=plan,
        candidate=candidate_from_row(row, gw.keys),
    )


async def _record(
    gw: Gateway,
    organization: str,
    rows: list[dict[str, Any]],
    outcomes: Sequence[RegistrationOutcome],
    report: DeliveryReport,
) -> list[Registration]:
    by_key = {o.idempotency_key: o for o in outcomes}
    now = utcnow()
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
            if o.status is RegistrationStatus.ACCEPTED:
                report.accepted += 1
            else:
                report.rejected += 1
        await _transition(
            conn,
            unknown_ids,
            RegistrationStatus.UNKNOWN,
            now,
            "no answer for this candidate",
            lease_owner=None,
            lease_until=None,
        )
        report.unknown += len(unknown_ids)
    plan_code = rows[0].get("plan_code") if rows else None
    for row in rows:
        o = by_key.get(row["idempotency_key"])
        if o is not None and o.status is RegistrationStatus.ACCEPTED:
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
            conn, ids, status, utcnow(), detail, lease_owner=None, lease_until=None, **values
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
        await _release(
            gw, ids, RegistrationStatus.REJECTED, str(exc), reason_code=code, reason=str(exc)
        )
        report.rejected += len(ids)
        return False
    if decision.action is Action.UNKNOWN:
        reason = f"outcome unknown: {decision.reason}"
        await _release(gw, ids, RegistrationStatus.UNKNOWN, reason, reason=reason)
        report.unknown += len(ids)
    else:  # certainly not sent: back to pending, with the reason ``xgate outbox`` shows
        reason = f"not sent ({decision.action.value}): {decision.reason}"
        await _release(gw, ids, RegistrationStatus.PENDING, reason, reason=reason)
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
    report = DeliveryReport(organization)
    settled = await reconcile(gw, organization)
    report.reconciled = settled.accepted + settled.rejected + settled.requeued
    report.errors += settled.errors
    owner = _owner()
    batch_size = gw.organization(organization).spec.batch_size
    while claim := await _claim(gw, organization, plan_code, batch_size, owner):
        if await _send_batch(gw, organization, *claim, report):
            break
        if progress is not None:
            progress(len(claim[1]))
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


async def _send_batch(
    gw: Gateway, organization: str, code: str, rows: list[dict[str, Any]], report: DeliveryReport
) -> bool:
    """Send one claimed batch and record the answers; True when delivery must stop."""
    ids = [r["reg_id"] for r in rows]
    async with gw.db.connect() as conn:
        plan = await load_plan(conn, organization, code)
    if plan is None:  # cannot happen through enqueue; keep the rows safe regardless
        await _release(gw, ids, RegistrationStatus.PENDING, f"unknown plan {code}")
        report.errors.append(f"{organization}: plan {code} is not recorded")
        return True
    report.sent += len(rows)
    try:
        registrar = gw.organization(organization).registrar()
        outcomes = await registrar.register(plan, [_request(gw, plan, r) for r in rows])
    except Exception as exc:  # the failure policy decides; see gateway.failures
        return await _settle_failure(gw, organization, ids, exc, report)
    for registration in await _record(gw, organization, rows, outcomes, report):
        gw.host.emit(
            "xgate_candidate_registered",
            organization=organization,
            plan_code=registration.plan_code,
            registration=registration,
        )
    return False


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
    names = [organization] if organization else gw.organization_names()
    for name in names:
        rows = await _unsettled(gw, name)
        if rows:
            await _look_up_all(gw, name, rows, report)
    return report


async def _unsettled(gw: Gateway, name: str) -> list[dict[str, Any]]:
    """Mark ``sent`` entries nobody works on any more as unknown; return every unknown entry
    of this organization, with its candidate."""
    now = utcnow()
    status = registrations.c.status
    async with gw.db.begin() as conn:
        sent_rows = await conn.execute(
            select(
                registrations.c.id, registrations.c.lease_owner, registrations.c.lease_until
            ).where(registrations.c.organization == name, status == RegistrationStatus.SENT.value)
        )
        abandoned = [r.id for r in sent_rows if _abandoned(r.lease_owner, r.lease_until, now)]
        await _transition(
            conn,
            abandoned,
            RegistrationStatus.UNKNOWN,
            now,
            "abandoned while sending (process ended)",
            lease_owner=None,
            lease_until=None,
        )
        unknown = (
            _with_candidate()
            .where(
                and_(
                    registrations.c.organization == name,
                    status == RegistrationStatus.UNKNOWN.value,
                )
            )
            .order_by(registrations.c.id)
        )
        return [dict(r) for r in (await conn.execute(unknown)).mappings()]


async def _look_up_all(
    gw: Gateway, name: str, rows: list[dict[str, Any]], report: ReconcileReport
) -> None:
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
            outcome = await org.registrar().lookup_registration(plan, _request(gw, plan, row))
        except Exception as exc:  # the failure policy decides; see gateway.failures
            decision = decide(exc, Operation.READ)
            log_failure(log, f"{name}: look-up", exc, decision)
            report.still_unknown += 1
            if decision.stop:
                report.errors.append(f"{name}: reconciliation stopped: {decision.reason}")
                return
            continue
        await _settle_by_look_up(gw, name, row, outcome, report)


async def _settle_by_look_up(
    gw: Gateway,
    name: str,
    row: dict[str, Any],
    outcome: RegistrationOutcome | None,
    report: ReconcileReport,
) -> None:
    """Record what the look-up found: absent -> pending again; found -> its status."""
    async with gw.db.begin() as conn:
        if outcome is None:
            await _transition(
                conn, [row["reg_id"]], RegistrationStatus.PENDING, utcnow(), "not found by look-up"
            )
            report.requeued += 1
            return
        await _transition(
            conn,
            [row["reg_id"]],
            outcome.status,
            utcnow(),
            "settled by look-up",
            org_registration_id=outcome.org_registration_id,
            reason_code=outcome.reason_code,
            reason=outcome.reason,
        )
    if outcome.status is not RegistrationStatus.ACCEPTED:
        report.rejected += 1
        return
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
            updated_at=utcnow(),
        ),
    )


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
                    registrations.c.id,
                    registrations.c.idempotency_key,
                    registrations.c.organization,
                    registrations.c.plan_code,
                    registrations.c.status,
                    registrations.c.org_registration_id,
                    registrations.c.reason_code,
                    registrations.c.reason,
                    registrations.c.updated_at,
                ).where(registrations.c.id.in_(ids[i : i + 500]))
            )
            for r in rows:
                out[r.id] = RegistrationRow(
                    r.id,
                    r.idempotency_key,
                    r.organization,
                    r.plan_code,
                    RegistrationStatus(r.status),
                    r.org_registration_id,
                    r.reason_code,
                    r.reason,
                    as_utc(r.updated_at),
                )
    return out


async def open_entries(gw: Gateway, organization: str | None = None) -> list[RegistrationRow]:
    """Entries not settled yet: pending, sent and unknown (what ``xgate outbox`` lists)."""
    async with gw.db.connect() as conn:
        q = select(registrations.c.id).where(
            or_(
                registrations.c.status == RegistrationStatus.PENDING.value,
                registrations.c.status == RegistrationStatus.SENT.value,
                registrations.c.status == RegistrationStatus.UNKNOWN.value,
            )
        )
        if organization:
            q = q.where(registrations.c.organization == organization)
        ids = [r.id for r in await conn.execute(q.order_by(registrations.c.id))]
    found = await statuses(gw, ids)
    return [found[i] for i in ids]
