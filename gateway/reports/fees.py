"""Fees and waivers for the finance office: charged and waived per exam plan and certificate,
per waiver basis, and the list of waived students (masked).

A registration owes its fee unless the organization refused it or it was withdrawn
(``rejected``, ``cancelled``); a waived registration's fee is counted as waived, not charged.
The waiver basis (建档立卡, 低保, ...) comes from the roster by the keyed ID hash; a waived
student not on the roster, or without a basis there, is listed under "not recorded" so the
finance office can ask for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.amounts import CENT
from gateway.reports.coverage import without_jit
from gateway.reports.facts import NOT_CHARGED
from gateway.store import tables as t

UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class FeeLine:
    organization: str
    plan_code: str
    certificate: str
    level: int | None
    registrations: int
    waived_count: int
    charged: Decimal
    waived: Decimal


@dataclass(frozen=True)
class BasisLine:
    basis: str  # a gateway.roster.model.WAIVER_BASES code, or UNRECORDED
    students: int
    registrations: int
    waived: Decimal


@dataclass(frozen=True)
class WaivedStudent:
    name: str
    student_number: str | None
    id_masked: str | None
    department: str | None
    major: str | None
    class_name: str | None
    basis: str
    organization: str
    plan_code: str
    certificate: str
    fee: Decimal


@dataclass
class FeesReport:
    generated_at: datetime
    plan: str | None = None
    organization: str | None = None
    lines: list[FeeLine] = field(default_factory=list)
    bases: list[BasisLine] = field(default_factory=list)
    students: list[WaivedStudent] = field(default_factory=list)

    @property
    def charged(self) -> Decimal:
        return sum((x.charged for x in self.lines), Decimal(0))

    @property
    def waived(self) -> Decimal:
        return sum((x.waived for x in self.lines), Decimal(0))


def _base(plan: str | None, organization: str | None) -> tuple[Any, list[Any], dict[str, Any]]:
    r, cd, ep, rs = t.registrations, t.candidates, t.exam_plans, t.roster_students
    la = t.learning_accounts
    joined = (
        r.join(cd, cd.c.id == r.c.candidate_id)
        .outerjoin(ep, and_(ep.c.organization == r.c.organization, ep.c.code == r.c.plan_code))
        .outerjoin(rs, rs.c.id_hash == cd.c.id_hash)
        .outerjoin(la, la.c.id_hash == cd.c.id_hash)
    )
    where: list[Any] = [r.c.status.notin_(NOT_CHARGED)]
    if plan:
        where.append(r.c.plan_code == plan)
    if organization:
        where.append(r.c.organization == organization)
    cols = {"r": r, "cd": cd, "ep": ep, "rs": rs, "la": la}
    return joined, where, cols


async def plan_known(conn: AsyncConnection, plan: str, organization: str | None = None) -> bool:
    """Whether an exam plan with this code is on record (of that organization, when given)."""
    ep = t.exam_plans.c
    q = select(ep.id).where(ep.code == plan).limit(1)
    if organization is not None:
        q = q.where(ep.organization == organization)
    return (await conn.execute(q)).first() is not None


async def fees_report(
    conn: AsyncConnection,
    *,
    plan: str | None = None,
    organization: str | None = None,
    now: datetime | None = None,
) -> FeesReport:
    await without_jit(conn)
    report = FeesReport(now or datetime.now(UTC), plan, organization)
    joined, where, c = _base(plan, organization)
    r, ep, rs, cd, la = c["r"], c["ep"], c["rs"], c["cd"], c["la"]
    fee = func.coalesce(r.c.fee, 0)
    waived = r.c.fee_waived.is_(True)
    keys = (r.c.organization, r.c.plan_code, ep.c.certificate_code, ep.c.level)
    query = (
        select(
            *keys,
            func.count(),
            func.coalesce(func.sum(case((waived, 1), else_=0)), 0),
            func.coalesce(func.sum(case((waived, 0), else_=fee)), 0),
            func.coalesce(func.sum(case((waived, fee), else_=0)), 0),
        )
        .select_from(joined)
        .where(*where)
        .group_by(*keys)
        .order_by(*keys)
    )
    for row in await conn.execute(query):
        report.lines.append(
            FeeLine(
                row[0], row[1], row[2] or "", row[3], row[4], row[5], _dec(row[6]), _dec(row[7])
            )
        )
    basis = func.coalesce(rs.c.waiver_basis, UNRECORDED)
    by_basis = (
        select(basis, func.count(func.distinct(cd.c.id)), func.count(), func.sum(fee))
        .select_from(joined)
        .where(*where, waived)
        .group_by(basis)
        .order_by(basis)
    )
    for row in await conn.execute(by_basis):
        report.bases.append(BasisLine(row[0], row[1], row[2], _dec(row[3])))
    listed = (
        select(
            cd.c.name,
            func.coalesce(rs.c.student_number, cd.c.student_number),
            func.coalesce(rs.c.id_masked, cd.c.id_masked, la.c.id_masked),
            func.coalesce(rs.c.department, cd.c.department),
            func.coalesce(rs.c.major, cd.c.major),
            func.coalesce(rs.c.class_name, cd.c.class_name),
            basis,
            r.c.organization,
            r.c.plan_code,
            func.coalesce(ep.c.certificate_code, ""),
            fee,
        )
        .select_from(joined)
        .where(*where, waived)
        .order_by(r.c.organization, r.c.plan_code, rs.c.department, rs.c.student_number, cd.c.id)
    )
    report.students = [
        WaivedStudent(*row[:10], _dec(row[10])) for row in await conn.execute(listed)
    ]
    return report


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)
