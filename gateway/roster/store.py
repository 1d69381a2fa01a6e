"""Writing the roster: all or nothing, idempotent, every change kept.

A row is matched to a stored student by 学号, else by the keyed ID hash (a corrected 学号 is a
change, not a new student). A row whose 学号 and ID hash point at two different stored
students is a conflict, and a file with any conflict writes nothing. An import that changes
nothing writes nothing (not even an import record), so importing the same export twice is a
no-op; otherwise one ``roster_imports`` row is written, and one ``roster_changes`` row per
changed field of each student (a change of major, a graduation), old and new value side by
side. Students missing from the file are left as they are: an export may cover one department.

Only the hash and the masked number are stored, never the ID number (``id_hash`` comes from
the gateway's one hashing function, passed in as ``hash_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.ledger import chunks
from gateway.intake.problems import RowProblem, row_problem
from gateway.masking import mask_id
from gateway.roster.model import RosterRow
from gateway.store import tables as t

#: fields compared between the file and the stored student, in report order
TRACKED = (
    "student_number",
    "id_masked",
    "name",
    "department",
    "major",
    "major_code",
    "class_name",
    "cohort",
    "program_years",
    "status",
    "waiver_basis",
)


@dataclass
class RosterImport:
    """What an import did (or would have done, when ``conflicts`` stopped it)."""

    rows: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    import_id: int | None = None
    changes: dict[str, int] = field(default_factory=dict)  # field -> how many students
    conflicts: list[RowProblem] = field(default_factory=list)
    linked_candidates: int = 0
    linked_accounts: int = 0

    @property
    def written(self) -> bool:
        return self.import_id is not None


def _values(row: RosterRow, id_hash: str) -> dict[str, Any]:
    return {
        "student_number": row.student_number,
        "id_hash": id_hash,
        "id_masked": mask_id(row.id_number),
        "name": row.name,
        "department": row.department,
        "major": row.major,
        "major_code": row.major_code,
        "class_name": row.class_name,
        "cohort": row.cohort,
        "program_years": row.program_years,
        "status": row.status,
        "waiver_basis": row.waiver_basis,
    }


async def _existing(
    conn: AsyncConnection, column: Any, keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(keys))):
        rows = await conn.execute(select(t.roster_students).where(column.in_(part)))
        found.update({r[column.name]: dict(r) for r in rows.mappings()})
    return found


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


async def import_roster(
    conn: AsyncConnection,
    rows: Sequence[RosterRow],
    hash_id: Callable[[str], str],
    *,
    file_name: str,
    file_sha256: str,
    operator: str,
    now: datetime,
) -> RosterImport:
    """Import validated rows inside the caller's transaction (see the module docstring)."""
    s = t.roster_students
    result = RosterImport(rows=len(rows))
    planned = [(r, _values(r, hash_id(r.id_number))) for r in rows]
    by_number = await _existing(conn, s.c.student_number, [v["student_number"] for _, v in planned])
    by_hash = await _existing(conn, s.c.id_hash, [v["id_hash"] for _, v in planned])
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[int, dict[str, Any], list[tuple[str, Any, Any]]]] = []
    for row, values in planned:
        a, b = by_number.get(row.student_number), by_hash.get(values["id_hash"])
        if a is not None and b is not None and a["id"] != b["id"]:
            result.conflicts.append(
                row_problem(
                    row.row,
                    "student_number",
                    "roster_conflict",
                    number=row.student_number,
                    masked=values["id_masked"],
                    other=b["student_number"],
                )
            )
            continue
        old = a or b
        if old is None:
            inserts.append(values)
            continue
        diff = [(k, old[k], values[k]) for k in TRACKED if old[k] != values[k]]
        if old["id_hash"] != values["id_hash"]:
            diff.append(("id_hash", old["id_masked"], values["id_masked"]))
        if diff:
            updates.append((old["id"], values, diff))
        else:
            result.unchanged += 1
    if result.conflicts or not (inserts or updates):
        return await _linked(conn, result, [v["id_hash"] for _, v in planned])
    source = {"file_name": file_name[:512], "file_sha256": file_sha256, "operator": operator[:128]}
    result.import_id = await _record_import(conn, result, inserts, updates, now, source)
    await _write(conn, result, inserts, updates, now)
    return await _linked(conn, result, [v["id_hash"] for _, v in planned])


async def _record_import(
    conn: AsyncConnection,
    result: RosterImport,
    inserts: list[dict[str, Any]],
    updates: list[tuple[int, dict[str, Any], list[tuple[str, Any, Any]]]],
    now: datetime,
    source: dict[str, str],
) -> int:
    result.added, result.changed = len(inserts), len(updates)
    inserted = await conn.execute(
        t.roster_imports.insert().returning(t.roster_imports.c.id),
        {
            **source,
            "rows_total": result.rows,
            "added": result.added,
            "changed": result.changed,
            "unchanged": result.unchanged,
            "imported_at": now,
        },
    )
    return int(inserted.scalar_one())


async def _write(
    conn: AsyncConnection,
    result: RosterImport,
    inserts: list[dict[str, Any]],
    updates: list[tuple[int, dict[str, Any], list[tuple[str, Any, Any]]]],
    now: datetime,
) -> None:
    s = t.roster_students
    stamp = {"import_id": result.import_id, "updated_at": now}
    for part in chunks(inserts):
        await conn.execute(s.insert(), [{**v, **stamp, "created_at": now} for v in part])
    changes: list[dict[str, Any]] = []
    for student_id, values, diff in updates:
        await conn.execute(s.update().where(s.c.id == student_id).values(**values, **stamp))
        for name, old, new in diff:
            if name == "id_masked":
                continue  # recorded once, as the id_hash change
            result.changes[name] = result.changes.get(name, 0) + 1
            changes.append(
                {
                    "student_id": student_id,
                    "import_id": result.import_id,
                    "field": "id_number" if name == "id_hash" else name,
                    "old": _text(old),
                    "new": _text(new),
                    "at": now,
                }
            )
    for part in chunks(changes):
        await conn.execute(t.roster_changes.insert(), list(part))


async def _linked(conn: AsyncConnection, result: RosterImport, hashes: list[str]) -> RosterImport:
    """How many of the file's students are already candidates / have a learning account."""
    for part in chunks(sorted(set(hashes))):
        for table, attr in (
            (t.candidates, "linked_candidates"),
            (t.learning_accounts, "linked_accounts"),
        ):
            n = await conn.execute(
                select(func.count()).select_from(table).where(table.c.id_hash.in_(part))
            )
            setattr(result, attr, getattr(result, attr) + int(n.scalar_one()))
    return result


@dataclass(frozen=True)
class RosterChange:
    field: str
    old: str | None
    new: str | None
    at: datetime
    file_name: str


async def find_students(conn: AsyncConnection, query: str) -> list[dict[str, Any]]:
    """Roster students whose 学号 is ``query`` or whose name is ``query`` (exact), 学号 order.
    Only stored columns: the masked ID, never the number."""
    s = t.roster_students
    rows = await conn.execute(
        select(s)
        .where((s.c.student_number == query) | (s.c.name == query))
        .order_by(s.c.student_number)
    )
    return [dict(r) for r in rows.mappings()]


async def student_history(conn: AsyncConnection, student_id: int) -> list[RosterChange]:
    """Every change re-imports made to one student, oldest first."""
    c, i = t.roster_changes, t.roster_imports
    rows = await conn.execute(
        select(c.c.field, c.c.old, c.c.new, c.c.at, i.c.file_name)
        .join(i, i.c.id == c.c.import_id)
        .where(c.c.student_id == student_id)
        .order_by(c.c.id)
    )
    return [RosterChange(*r) for r in rows]
