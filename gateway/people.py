"""Candidates as stored: the one table that holds personal data, keyed by the hashed ID.

Everything else refers to a person by ``id_hash``. Upserts keep the newest non-empty values so
a later, better list (with a mobile number, say) improves the record without erasing it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.models import Candidate, IdType, Sex
from gateway.store import tables as t

PERSON_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "mobile",
    "student_number",
    "department",
    "major",
    "class_name",
    "ethnicity",
)


def _values(c: Candidate) -> dict[str, object]:
    return {
        "id_type": c.id_type.value,
        "id_number": c.id_number,
        "name": c.name,
        "sex": c.sex.value if c.sex else None,
        "birth_date": c.birth_date,
        "mobile": c.mobile,
        "student_number": c.student_number,
        "department": c.department,
        "major": c.major,
        "class_name": c.class_name,
        "ethnicity": c.ethnicity,
    }


async def upsert_candidates(
    conn: AsyncConnection,
    candidates: Sequence[Candidate],
    hash_id: Callable[[str], str],
    now: datetime | None = None,
) -> dict[str, int]:
    """Insert or refresh candidates; returns id_hash -> candidates.id."""
    now = now or datetime.now(UTC)
    by_hash = {hash_id(c.id_number): c for c in candidates}
    existing: dict[str, tuple[int, dict[str, object]]] = {}
    hashes = list(by_hash)
    for i in range(0, len(hashes), 500):
        chunk = hashes[i : i + 500]
        rows = await conn.execute(select(t.candidates).where(t.candidates.c.id_hash.in_(chunk)))
        for row in rows.mappings():
            existing[row["id_hash"]] = (row["id"], dict(row))
    ids: dict[str, int] = {}
    new_rows = []
    for h, c in by_hash.items():
        values = _values(c)
        if h in existing:
            row_id, old = existing[h]
            changes = {k: v for k, v in values.items() if v not in (None, "") and old.get(k) != v}
            if changes:
                await conn.execute(
                    t.candidates.update()
                    .where(t.candidates.c.id == row_id)
                    .values(**changes, updated_at=now)
                )
            ids[h] = row_id
        else:
            new_rows.append({**values, "id_hash": h, "created_at": now, "updated_at": now})
    if new_rows:
        await conn.execute(t.candidates.insert(), new_rows)
        rows = await conn.execute(
            select(t.candidates.c.id, t.candidates.c.id_hash).where(
                t.candidates.c.id_hash.in_([r["id_hash"] for r in new_rows])
            )
        )
        ids.update({r.id_hash: r.id for r in rows})
    return ids


def candidate_from_row(row: dict[str, object]) -> Candidate:
    """Rebuild the canonical candidate (for sending to an organization)."""
    data = {k: row.get(k) for k in PERSON_FIELDS}
    data["id_type"] = IdType(str(row["id_type"]))
    data["id_number"] = row["id_number"]
    if data.get("sex"):
        data["sex"] = Sex(str(data["sex"]))
    return Candidate.model_validate({k: v for k, v in data.items() if v is not None})
