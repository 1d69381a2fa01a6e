"""Certificate coverage of the roster: who of the enrolled students holds a certificate.

The denominator is every roster student with status ``enrolled`` (在读) in scope (cohort,
department, major filters). Each is put in exactly one category, first that applies:

- ``certified``: holds at least one certificate with status ``valid`` (any organization, any
  certificate: a student who changed major keeps what they hold);
- ``passed``: no valid certificate yet, but a passing score (by the college's pass rule);
- ``registered``: no certificate, no pass, but a live registration (pending, sent, unknown or
  accepted: the organization has not refused it and nobody withdrew it);
- ``never``: none of these: never registered (or only refused or withdrawn).

Students are joined to certificates, scores and registrations by the keyed ID hash. The counts
are one SQL aggregate grouped by department, major, cohort, class and category; majors,
departments and the total are sums of those rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.amounts import percent
from gateway.store import tables as t

CATEGORIES = ("certified", "passed", "registered", "never")
#: registration statuses that count as "registered" (not refused, not withdrawn)
LIVE_REGISTRATION = ("pending", "sent", "unknown", "accepted")


@dataclass(frozen=True)
class Scope:
    """Which enrolled students a report covers (None: all)."""

    cohort: int | None = None
    department: str | None = None
    major: str | None = None


@dataclass
class Counts:
    """One group's students by category."""

    enrolled: int = 0
    certified: int = 0
    passed: int = 0
    registered: int = 0
    never: int = 0

    @property
    def without(self) -> int:
        """Enrolled students without a valid certificate."""
        return self.enrolled - self.certified

    @property
    def share(self) -> Decimal | None:
        """Certified in percent of enrolled (one decimal); None for an empty group."""
        return percent(self.certified, self.enrolled)

    def add(self, other: Counts) -> None:
        self.enrolled += other.enrolled
        for name in CATEGORIES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class CoverageLine:
    department: str
    major: str
    cohort: int | None = None
    class_name: str | None = None
    counts: Counts = field(default_factory=Counts)


@dataclass(frozen=True)
class Uncovered:
    """An enrolled student without a valid certificate (masked ID only)."""

    student_number: str
    name: str
    id_masked: str
    department: str
    major: str
    cohort: int
    class_name: str | None
    category: str


@dataclass
class CoverageReport:
    scope: Scope
    generated_at: datetime
    classes: list[CoverageLine] = field(default_factory=list)
    majors: list[CoverageLine] = field(default_factory=list)
    departments: list[CoverageLine] = field(default_factory=list)
    total: Counts = field(default_factory=Counts)
    uncovered: list[Uncovered] = field(default_factory=list)


def category_expression() -> Any:
    """The SQL CASE putting a roster student in their one category (see the docstring).

    Correlated EXISTS, each answered from an index led by the ID hash (see ``tables.py``:
    covering for certificates and registrations, the scores' natural key then the person's few
    score rows), so a student costs three index probes at most and no list of every
    certificate is built."""
    s, c, sc = t.roster_students, t.certificates, t.scores
    r, p = t.registrations, t.candidates
    certified = exists().where(c.c.id_hash == s.c.id_hash, c.c.status == "valid")
    passed = exists().where(sc.c.id_hash == s.c.id_hash, sc.c.rule_passed.is_(True))
    registered = exists().where(
        p.c.id_hash == s.c.id_hash,
        r.c.candidate_id == p.c.id,
        r.c.status.in_(LIVE_REGISTRATION),
    )
    return case(
        (certified, "certified"),
        (passed, "passed"),
        (registered, "registered"),
        else_="never",
    ).label("category")


def _where(scope: Scope) -> list[Any]:
    s = t.roster_students
    conditions: list[Any] = [s.c.status == "enrolled"]
    if scope.cohort is not None:
        conditions.append(s.c.cohort == scope.cohort)
    if scope.department:
        conditions.append(s.c.department == scope.department)
    if scope.major:
        conditions.append(s.c.major == scope.major)
    return conditions


async def without_jit(conn: AsyncConnection) -> None:
    """Report queries are large aggregates PostgreSQL would JIT-compile, which costs more than
    it saves at a college's scale (hundreds of milliseconds of code generation per query):
    switch it off for this transaction only (``SET LOCAL``)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL jit = off"))


async def coverage_report(
    conn: AsyncConnection,
    scope: Scope = Scope(),
    *,
    list_students: bool = True,
    now: datetime | None = None,
) -> CoverageReport:
    await without_jit(conn)
    s = t.roster_students
    category = category_expression()
    keys = (s.c.department, s.c.major, s.c.cohort, s.c.class_name)
    query = (
        select(*keys, category, func.count().label("n"))
        .where(*_where(scope))
        .group_by(*keys, category)
    )
    report = CoverageReport(scope, now or datetime.now(UTC))
    lines: dict[tuple[str, str, int, str | None], CoverageLine] = {}
    for row in await conn.execute(query):
        key = (row.department, row.major, row.cohort, row.class_name)
        line = lines.get(key)
        if line is None:
            line = lines[key] = CoverageLine(*key)
        line.counts.enrolled += row.n
        setattr(line.counts, row.category, getattr(line.counts, row.category) + row.n)
    report.classes = sorted(lines.values(), key=_order)
    report.majors = _roll_up(report.classes, lambda x: (x.department, x.major))
    report.departments = _roll_up(report.classes, lambda x: (x.department, ""))
    for line in report.classes:
        report.total.add(line.counts)
    if list_students:
        report.uncovered = await _uncovered(conn, scope, category)
    return report


def _order(line: CoverageLine) -> tuple[str, str, int, str]:
    return (line.department, line.major, line.cohort or 0, line.class_name or "")


def _roll_up(
    lines: Iterable[CoverageLine], key: Callable[[CoverageLine], tuple[str, str]]
) -> list[CoverageLine]:
    groups: dict[tuple[str, str], CoverageLine] = {}
    for line in lines:
        k = key(line)
        group = groups.get(k)
        if group is None:
            group = groups[k] = CoverageLine(k[0], k[1])
        group.counts.add(line.counts)
    return sorted(groups.values(), key=_order)


async def _uncovered(conn: AsyncConnection, scope: Scope, category: Any) -> list[Uncovered]:
    s = t.roster_students
    inner = (
        select(
            s.c.student_number,
            s.c.name,
            s.c.id_masked,
            s.c.department,
            s.c.major,
            s.c.cohort,
            s.c.class_name,
            category,
        )
        .where(*_where(scope))
        .subquery()
    )
    query = (
        select(inner)
        .where(inner.c.category != "certified")
        .order_by(inner.c.department, inner.c.major, inner.c.class_name, inner.c.student_number)
    )
    return [Uncovered(**row._mapping) for row in await conn.execute(query)]
