"""Looking a learner up: by 学号, by name or by ID number, then everything recorded about them.

Invariants: an ID number typed by staff is hashed (``Gateway.hash_id``) and matched on the
hash, never compared in clear; a hit list carries masked ID numbers only; a learner is named
in URLs and API paths by an opaque reference (``c<candidate id>`` or ``a<account id>``), never
by a personal attribute. Every query is an index look-up (``ix_candidates_student_number``,
``ix_candidates_name``, the unique ``id_hash`` columns), so the answer time does not grow with
the number of learners. Callers record the look-up in the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.transcript import Transcript, build_transcript
from gateway.idnumber import IdNumberError, normalise, parse_resident_id
from gateway.store import tables as t

MAX_HITS = 50
_ID_LIKE = re.compile(r"^[0-9０-９]{14,17}[0-9Xx０-９Ｘｘ]$")
_REF = re.compile(r"^([ca])([0-9]{1,18})$")


@dataclass(frozen=True)
class LearnerHit:
    ref: str
    name: str
    id_masked: str
    student_number: str | None
    department: str | None
    major: str | None
    class_name: str | None


@dataclass
class LearnerDetail:
    person: LearnerHit
    id_hash: str
    registrations: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    transcript: Transcript | None = None


def id_hash_of(query: str, hasher: Callable[[str], str]) -> str | None:
    """The hash of what looks like an ID number (validated when it is a resident ID)."""
    text = query.strip().replace(" ", "")
    if not _ID_LIKE.match(text):
        return None
    try:
        return hasher(parse_resident_id(text).number)
    except IdNumberError:
        return hasher(normalise(text))


def _candidate_hit(r: Any, on_roster: Any = None) -> LearnerHit:
    """A candidate; 学号, department, major and class from the roster when they are on it."""
    school = on_roster or r
    return LearnerHit(
        f"c{r.id}",
        r.name,
        r.id_masked or "",
        school.student_number,
        school.department,
        school.major,
        school.class_name,
    )


def _account_hit(r: Any, on_roster: Any = None) -> LearnerHit:
    if on_roster is None:
        return LearnerHit(f"a{r.id}", r.name or "", r.id_masked, None, None, None, None)
    s = on_roster
    return LearnerHit(
        f"a{r.id}",
        r.name or s.name,
        r.id_masked,
        s.student_number,
        s.department,
        s.major,
        s.class_name,
    )


_CAND = (
    t.candidates.c.id,
    t.candidates.c.id_hash,
    t.candidates.c.name,
    t.candidates.c.id_masked,
    t.candidates.c.student_number,
    t.candidates.c.department,
    t.candidates.c.major,
    t.candidates.c.class_name,
)
_ACC = (
    t.learning_accounts.c.id,
    t.learning_accounts.c.id_hash,
    t.learning_accounts.c.name,
    t.learning_accounts.c.id_masked,
)
_ROSTER = (
    t.roster_students.c.id_hash,
    t.roster_students.c.name,
    t.roster_students.c.student_number,
    t.roster_students.c.department,
    t.roster_students.c.major,
    t.roster_students.c.class_name,
)


async def _on_roster(conn: AsyncConnection, where: Any, limit: int) -> dict[str, Any]:
    """Roster students (the registrar's 学号, major and class) by id_hash."""
    rows = await conn.execute(select(*_ROSTER).where(where).limit(limit))
    return {r.id_hash: r for r in rows}


async def search_learners(
    conn: AsyncConnection, query: str, hasher: Callable[[str], str], limit: int = MAX_HITS
) -> list[LearnerHit]:
    """Learners whose 学号 or name equals the query (on a candidate list, a learning account
    or the roster), or whose ID number it is. A roster student is a learner once they are a
    candidate or have an account; the roster then supplies their 学号, major and class."""
    text = query.strip()
    if not text:
        return []
    cand, acc, rs = t.candidates.c, t.learning_accounts.c, t.roster_students.c
    id_hash = id_hash_of(text, hasher)
    if id_hash is not None:
        cwhere: Any = cand.id_hash == id_hash
        awhere: Any = acc.id_hash == id_hash
        roster = await _on_roster(conn, rs.id_hash == id_hash, limit)
    else:
        roster = await _on_roster(conn, or_(rs.student_number == text, rs.name == text), limit)
        cwhere = or_(cand.student_number == text, cand.name == text, cand.id_hash.in_(list(roster)))
        awhere = or_(acc.name == text, acc.id_hash.in_(list(roster)))
    rows = (await conn.execute(select(*_CAND).where(cwhere).order_by(cand.id).limit(limit))).all()
    seen = {r.id_hash for r in rows}
    accounts = [
        r
        for r in await conn.execute(select(*_ACC).where(awhere).order_by(acc.id).limit(limit))
        if r.id_hash not in seen
    ]
    missing = {r.id_hash for r in [*rows, *accounts]} - set(roster)
    if missing:  # found by a candidate list or an account: the roster may still know them
        roster.update(await _on_roster(conn, rs.id_hash.in_(missing), limit))
    hits = [_candidate_hit(r, roster.get(r.id_hash)) for r in rows]
    hits += [_account_hit(r, roster.get(r.id_hash)) for r in accounts]
    return hits[:limit]


async def person_of(conn: AsyncConnection, ref: str) -> tuple[LearnerHit, str] | None:
    m = _REF.match(ref)
    if m is None:
        return None
    kind, key = m.group(1), int(m.group(2))
    rs = t.roster_students.c
    if kind == "c":
        row = (await conn.execute(select(*_CAND).where(t.candidates.c.id == key))).first()
        if row is None:
            return None
        school = (await _on_roster(conn, rs.id_hash == row.id_hash, 1)).get(row.id_hash)
        return _candidate_hit(row, school), row.id_hash
    acc = (await conn.execute(select(*_ACC).where(t.learning_accounts.c.id == key))).first()
    if acc is None:
        return None
    cand = (await conn.execute(select(*_CAND).where(t.candidates.c.id_hash == acc.id_hash))).first()
    school = (await _on_roster(conn, rs.id_hash == acc.id_hash, 1)).get(acc.id_hash)
    hit = _candidate_hit(cand, school) if cand else _account_hit(acc, school)
    return hit, acc.id_hash


async def _registrations(conn: AsyncConnection, id_hash: str) -> list[dict[str, Any]]:
    reg, cand = t.registrations.c, t.candidates.c
    q = (
        select(
            reg.id,
            reg.organization,
            reg.plan_code,
            reg.status,
            reg.reason,
            reg.fee,
            reg.fee_waived,
            reg.updated_at,
        )
        .join(t.candidates, cand.id == reg.candidate_id)
        .where(cand.id_hash == id_hash)
        .order_by(reg.id)
    )
    return [dict(r._mapping) for r in await conn.execute(q)]


async def _scores(conn: AsyncConnection, id_hash: str) -> list[dict[str, Any]]:
    """A learner's scores, each with every revision, oldest first: the superseded ones from
    ``score_revisions``, then the current one, which is the score's own row."""
    sc, rev = t.scores.c, t.score_revisions.c
    values = ("revision", "theory", "practical", "total", "org_passed", "absent")
    out = []
    for s in await conn.execute(select(t.scores).where(sc.id_hash == id_hash).order_by(sc.id)):
        item = {k: v for k, v in s._mapping.items() if k not in ("id_hash", "run_id")}
        revisions = await conn.execute(
            select(*(rev[v] for v in values)).where(rev.score_id == s.id).order_by(rev.revision)
        )
        item["revisions"] = [dict(r._mapping) for r in revisions]
        item["revisions"].append({v: s._mapping[v] for v in values})
        out.append(item)
    return out


async def _certificates(conn: AsyncConnection, id_hash: str) -> list[dict[str, Any]]:
    ce, ev = t.certificates.c, t.certificate_events.c
    out = []
    q = select(t.certificates).where(ce.id_hash == id_hash).order_by(ce.issued_on, ce.id)
    for c in await conn.execute(q):
        item = {k: v for k, v in c._mapping.items() if k != "id_hash"}
        events = await conn.execute(
            select(ev.status, ev.detail, ev.at).where(ev.certificate_id == c.id).order_by(ev.id)
        )
        item["history"] = [dict(e._mapping) for e in events]
        out.append(item)
    return out


async def learner_detail(conn: AsyncConnection, ref: str) -> LearnerDetail | None:
    """Everything about one learner: registrations, scores with every revision, certificates
    with their history, and the credit transcript (None when no learning account yet)."""
    found = await person_of(conn, ref)
    if found is None:
        return None
    person, id_hash = found
    return LearnerDetail(
        person=person,
        id_hash=id_hash,
        registrations=await _registrations(conn, id_hash),
        scores=await _scores(conn, id_hash),
        certificates=await _certificates(conn, id_hash),
        transcript=await build_transcript(conn, id_hash),
    )
