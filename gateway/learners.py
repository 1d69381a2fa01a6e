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
from gateway.masking import mask_id
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


def _candidate_hit(r: Any) -> LearnerHit:
    return LearnerHit(
        f"c{r.id}",
        r.name,
        mask_id(r.id_number),
        r.student_number,
        r.department,
        r.major,
        r.class_name,
    )


def _account_hit(r: Any) -> LearnerHit:
    return LearnerHit(f"a{r.id}", r.name or "", r.id_masked, None, None, None, None)


_CAND = (
    t.candidates.c.id,
    t.candidates.c.id_hash,
    t.candidates.c.name,
    t.candidates.c.id_number,
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


async def search_learners(
    conn: AsyncConnection, query: str, hasher: Callable[[str], str], limit: int = MAX_HITS
) -> list[LearnerHit]:
    """Learners whose 学号 or name equals the query, or whose ID number it is."""
    text = query.strip()
    if not text:
        return []
    cand, acc = t.candidates.c, t.learning_accounts.c
    id_hash = id_hash_of(text, hasher)
    if id_hash is not None:
        cwhere: Any = cand.id_hash == id_hash
        awhere: Any = acc.id_hash == id_hash
    else:
        cwhere = or_(cand.student_number == text, cand.name == text)
        awhere = acc.name == text
    rows = (await conn.execute(select(*_CAND).where(cwhere).order_by(cand.id).limit(limit))).all()
    hits = [_candidate_hit(r) for r in rows]
    seen = {r.id_hash for r in rows}
    accounts = await conn.execute(select(*_ACC).where(awhere).order_by(acc.id).limit(limit))
    hits += [_account_hit(r) for r in accounts if r.id_hash not in seen]
    return hits[:limit]


async def _person(conn: AsyncConnection, ref: str) -> tuple[LearnerHit, str] | None:
    m = _REF.match(ref)
    if m is None:
        return None
    kind, key = m.group(1), int(m.group(2))
    if kind == "c":
        row = (await conn.execute(select(*_CAND).where(t.candidates.c.id == key))).first()
        return (_candidate_hit(row), row.id_hash) if row else None
    acc = (await conn.execute(select(*_ACC).where(t.learning_accounts.c.id == key))).first()
    if acc is None:
        return None
    cand = (await conn.execute(select(*_CAND).where(t.candidates.c.id_hash == acc.id_hash))).first()
    return (_candidate_hit(cand) if cand else _account_hit(acc)), acc.id_hash


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
    sc, rev = t.scores.c, t.score_revisions.c
    out = []
    for s in await conn.execute(select(t.scores).where(sc.id_hash == id_hash).order_by(sc.id)):
        item = {k: v for k, v in s._mapping.items() if k != "id_hash"}
        revisions = await conn.execute(
            select(rev.revision, rev.theory, rev.practical, rev.total, rev.org_passed, rev.absent)
            .where(rev.score_id == s.id)
            .order_by(rev.revision)
        )
        item["revisions"] = [dict(r._mapping) for r in revisions]
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
    found = await _person(conn, ref)
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
