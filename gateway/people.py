"""Candidates as stored: the one table that holds personal data, keyed by the hashed ID.

Everything else refers to a person by ``id_hash``. The ID number and the mobile are stored
sealed (``gateway.fieldcrypt``, bound to the row's ``id_hash``) beside a masked ID for display;
``candidate_from_row`` is the one place they are opened, to send a registration to the
organization. Upserts keep the newest non-empty values so a later, better list (with a mobile
number, say) improves the record without erasing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.fieldcrypt import open_value, seal_optional
from gateway.keys import Keys
from gateway.masking import mask_id
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


SEALED = ("id_number", "mobile")


def _sealed(keys: Keys, values: dict[str, object], id_hash: str) -> dict[str, object]:
    """The stored form: ID number and mobile sealed to this row, the masked ID beside them."""
    out = dict(values)
    for column in SEALED:
        if column in out:
            value = out[column]
            out[column] = seal_optional(
                keys,
                None if value is None else str(value),
                table="candidates",
                column=column,
                row_key=id_hash,
            )
    if "id_number" in values:
        out["id_masked"] = mask_id(str(values["id_number"]))
    return out


def open_row(keys: Keys, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored candidate row with its ID number and mobile decrypted (send to the org only)."""
    out = dict(row)
    for column in SEALED:
        if column in out:
            out[column] = open_value(
                keys,
                out[column],
                table="candidates",
                column=column,
                row_key=str(row["id_hash"]),
            )
    return out


async def upsert_candidates(
    conn: AsyncConnection,
    candidates: Sequence[Candidate],
    keys: Keys,
    now: datetime | None = None,
) -> dict[str, int]:
    """Insert or refresh candidates; returns id_hash -> candidates.id."""
    now = now or datetime.now(UTC)
    by_hash = {keys.hash_id(c.id_number): c for c in candidates}
    existing: dict[str, tuple[int, dict[str, object]]] = {}
    hashes = list(by_hash)
    for i in range(0, len(hashes), 500):
        chunk = hashes[i : i + 500]
        rows = await conn.execute(select(t.candidates).where(t.candidates.c.id_hash.in_(chunk)))
        for row in rows.mappings():
            existing[row["id_hash"]] = (row["id"], open_row(keys, dict(row)))
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
                    .values(**_sealed(keys, changes, h), updated_at=now)
                )
            ids[h] = row_id
        else:
            new_rows.append(
                {**_sealed(keys, values, h), "id_hash": h, "created_at": now, "updated_at": now}
            )
    if new_rows:
        await conn.execute(t.candidates.insert(), new_rows)
        rows = await conn.execute(
            select(t.candidates.c.id, t.candidates.c.id_hash).where(
                t.candidates.c.id_hash.in_([r["id_hash"] for r in new_rows])
            )
        )
        ids.update({r.id_hash: r.id for r in rows})
    return ids


def candidate_from_row(row: Mapping[str, Any], keys: Keys) -> Candidate:
    """Rebuild the canonical candidate, decrypted (only for sending to an organization)."""
    row = open_row(keys, row)
    data = {k: row.get(k) for k in PERSON_FIELDS}
    data["id_type"] = IdType(str(row["id_type"]))
    data["id_number"] = row["id_number"]
    if data.get("sex"):
        data["sex"] = Sex(str(data["sex"]))
    return Candidate.model_validate({k: v for k, v in data.items() if v is not None})
