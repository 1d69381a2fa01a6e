"""What staff look at first: the state of every organization, and lists to follow work by.

Read-only queries shared by the web console and its JSON API: the dashboard (last sync run per
organization with its reasons, unsettled outbox entries, quarantine count, open exam plans with
their deadlines), registrations per exam plan, sync runs and the quarantine. Invariant: nothing
returned here holds a clear ID number or mobile (names are shown, ID numbers masked, quarantine
payloads and errors masked), and every query is bounded (``LIMIT``, grouped counts, index
look-ups) so a page answers in the same time with a hundred or a hundred thousand learners.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue import Catalogue
from gateway.fieldcrypt import open_quarantine
from gateway.jobs.board import JobBoard, job_board
from gateway.keys import Keys
from gateway.masking import mask_text
from gateway.models import BEIJING, RegistrationStatus
from gateway.store import tables as t

UNSETTLED = (
    RegistrationStatus.PENDING.value,
    RegistrationStatus.SENT.value,
    RegistrationStatus.UNKNOWN.value,
)
MAX_ROWS = 500


@dataclass
class OrgState:
    organization: str
    run_id: int | None = None
    started_at: datetime | None = None
    status: str = "never"
    errors: list[str] = field(default_factory=list)
    unsettled: dict[str, int] = field(default_factory=dict)


@dataclass
class Dashboard:
    organizations: list[OrgState]
    quarantined: int
    open_plans: list[dict[str, Any]]
    jobs: JobBoard | None = None  # the job queue, when workers run on PostgreSQL

    def as_dict(self) -> dict[str, Any]:
        return {
            "organizations": [vars(o) for o in self.organizations],
            "quarantined": self.quarantined,
            "open_plans": self.open_plans,
            "jobs": self.jobs.as_dict() if self.jobs is not None else None,
        }


async def _last_runs(conn: AsyncConnection, names: list[str]) -> dict[str, OrgState]:
    st = t.sync_run_streams.c
    out = {n: OrgState(n) for n in names}
    latest = select(st.organization, func.max(st.run_id).label("run_id")).group_by(st.organization)
    for org, run_id in (await conn.execute(latest)).all():
        if org not in out:
            continue
        state = out[org]
        streams = await conn.execute(
            select(st.status, st.stream, st.error).where(
                st.run_id == run_id, st.organization == org
            )
        )
        statuses = []
        for s in streams:
            statuses.append(s.status)
            if s.error:
                state.errors.append(f"{s.stream}: {mask_text(s.error)}")
        run = (
            await conn.execute(select(t.sync_runs.c.started_at).where(t.sync_runs.c.id == run_id))
        ).first()
        state.run_id = run_id
        state.started_at = run.started_at if run else None
        state.status = "failed" if "failed" in statuses else ("ok" if statuses else "never")
        if "deferred" in statuses and state.status == "ok":
            state.status = "deferred"
    return out


def open_plans(catalogue: Catalogue, today: date) -> list[dict[str, Any]]:
    """Catalogue plans whose registration deadline has not passed (or that have none)."""
    plans = []
    for p in sorted(catalogue.plans.values(), key=lambda x: x.registration_deadline or date.max):
        if p.registration_deadline is not None and p.registration_deadline < today:
            continue
        cert = catalogue.certificates.get(p.certificate)
        plans.append(
            {
                "code": p.code,
                "organization": p.organization,
                "certificate": cert.name if cert else p.certificate,
                "level": int(p.level),
                "exam_date": p.exam_date,
                "registration_deadline": p.registration_deadline,
            }
        )
    return plans


async def dashboard(
    conn: AsyncConnection, names: list[str], catalogue: Catalogue, now: datetime
) -> Dashboard:
    states = await _last_runs(conn, names)
    reg = t.registrations.c
    unsettled = await conn.execute(
        select(reg.organization, reg.status, func.count())
        .where(reg.status.in_(UNSETTLED))
        .group_by(reg.organization, reg.status)
    )
    for org, status, count in unsettled:
        states.setdefault(org, OrgState(org)).unsettled[status] = count
    quarantined = (await conn.execute(select(func.count()).select_from(t.quarantine))).scalar_one()
    plans = open_plans(catalogue, now.astimezone(BEIJING).date())
    return Dashboard(list(states.values()), int(quarantined), plans, await job_board(conn))


async def registrations(
    conn: AsyncConnection,
    plan_code: str | None,
    status: str | None = None,
    limit: int | None = MAX_ROWS,
) -> list[dict[str, Any]]:
    """Registrations of one exam plan (all plans when None), newest first, ID numbers masked."""
    reg, cand = t.registrations.c, t.candidates.c
    q = select(
        reg.id,
        reg.organization,
        reg.plan_code,
        reg.status,
        reg.reason,
        reg.fee,
        reg.fee_waived,
        reg.updated_at,
        cand.id.label("candidate_id"),
        cand.name,
        cand.id_masked,
        cand.student_number,
        cand.major,
        cand.class_name,
    ).join(t.candidates, cand.id == reg.candidate_id)
    if plan_code:
        q = q.where(reg.plan_code == plan_code)
    if status:
        q = q.where(reg.status == status)
    q = q.order_by(reg.id.desc())
    if limit:
        q = q.limit(limit)
    out = []
    for r in await conn.execute(q):
        item = dict(r._mapping)
        item["reason"] = mask_text(item["reason"]) if item["reason"] else None
        out.append(item)
    return out


async def plan_codes(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(t.registrations.c.plan_code).distinct())
    return sorted(r[0] for r in rows)


async def sync_runs(conn: AsyncConnection, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, each with its streams (errors masked)."""
    runs = await conn.execute(select(t.sync_runs).order_by(t.sync_runs.c.id.desc()).limit(limit))
    out = []
    for run in runs:
        streams = await conn.execute(
            select(t.sync_run_streams)
            .where(t.sync_run_streams.c.run_id == run.id)
            .order_by(t.sync_run_streams.c.id)
        )
        item = dict(run._mapping)
        item["streams"] = [
            {
                **{k: v for k, v in s._mapping.items() if k not in ("id", "run_id", "error")},
                "error": mask_text(s.error) if s.error else None,
            }
            for s in streams
        ]
        out.append(item)
    return out


async def quarantine_list(conn: AsyncConnection, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    q = t.quarantine.c
    rows = await conn.execute(
        select(q.id, q.organization, q.stream, q.run_id, q.error, q.created_at)
        .order_by(q.id.desc())
        .limit(limit)
    )
    return [{**dict(r._mapping), "error": mask_text(r.error)} for r in rows]


async def quarantine_item(conn: AsyncConnection, item: int, keys: Keys) -> dict[str, Any] | None:
    row = (await conn.execute(select(t.quarantine).where(t.quarantine.c.id == item))).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["error"] = mask_text(out["error"])
    payload = mask_text(open_quarantine(keys, out))
    with contextlib.suppress(ValueError):
        payload = json.dumps(json.loads(payload), ensure_ascii=False, indent=2)
    out["payload"] = payload
    return out
