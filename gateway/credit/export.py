"""Export to the national or provincial credit bank: learning outcomes and credit entries.

Invariant: each export carries exactly what no earlier export carried, and records what it
carried in the same transaction that writes its file, so nothing is sent twice and nothing is
skipped. Ledger entries are append-only, so an entry is exported once; a reversal is exported
as a ``correction`` naming the entry it reverses. A learning outcome can change (a certificate
revoked, its credits recomputed): its exported state is fingerprinted, and a later, different
state is exported again as a ``correction``. If the file is written but the commit fails, the
next export carries the same rows again (at least once, never lost).

Formats: an XLSX workbook with two sheets (``learning_outcomes``, ``credit_entries``) or two
UTF-8 CSV files (``NAME.outcomes.csv``, ``NAME.entries.csv``); columns in ``OUTCOME_COLUMNS``
and ``ENTRY_COLUMNS`` (documented in docs/credit-bank.md). No ID number: the account is the
salted hash, with the masked ID and name for people to read. After the commit, the plugin hook
``xgate_credit_export`` receives the same rows so a province can write its own format.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.ledger import credits_text
from gateway.credit.transcript import _cell
from gateway.errors import InputError
from gateway.private_files import prepare
from gateway.runtime import Gateway
from gateway.store import tables as t

OUTCOME_COLUMNS = (
    "action",
    "account",
    "id_masked",
    "name",
    "outcome_id",
    "kind",
    "source_org",
    "source_ref",
    "title",
    "level",
    "credits",
    "achieved_on",
    "status",
)
ENTRY_COLUMNS = (
    "action",
    "account",
    "id_masked",
    "name",
    "seq",
    "kind",
    "course_code",
    "course_name",
    "credits",
    "source_org",
    "source_ref",
    "rule_version",
    "grade",
    "valid_until",
    "reverses_seq",
    "reason",
    "recorded_at",
    "hash",
)
FORMATS = ("xlsx", "csv")


@dataclass
class CreditExport:
    """One export: its rows (as written) and the files."""

    export_id: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def corrections(self) -> int:
        return sum(r["action"] == "correction" for r in self.outcomes + self.entries)


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return credits_text(value)


def digest(row: Mapping[str, Any]) -> str:
    body = json.dumps({k: _text(v) for k, v in row.items()}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


async def _exported(conn: AsyncConnection, kind: str) -> dict[int, str]:
    """ref_id -> the digest of its latest export."""
    i = t.credit_export_items
    latest = (
        select(i.c.ref_id, func.max(i.c.id).label("last"))
        .where(i.c.kind == kind)
        .group_by(i.c.ref_id)
    ).subquery()
    rows = await conn.execute(select(i.c.ref_id, i.c.digest).join(latest, i.c.id == latest.c.last))
    return {int(r.ref_id): r.digest for r in rows}


async def _outcomes(conn: AsyncConnection) -> list[tuple[int, str, dict[str, Any]]]:
    o, a = t.learning_outcomes, t.learning_accounts
    done = await _exported(conn, "outcome")
    rows = await conn.execute(
        select(o, a.c.id_hash, a.c.id_masked, a.c.name.label("holder"))
        .join(a, a.c.id == o.c.account_id)
        .order_by(o.c.id)
    )
    found = []
    for r in rows.mappings():
        row = {
            "account": r["id_hash"],
            "id_masked": r["id_masked"],
            "name": r["holder"],
            "outcome_id": r["id"],
            "kind": r["kind"],
            "source_org": r["source_org"],
            "source_ref": r["source_ref"],
            "title": r["title"],
            "level": r["level"],
            "credits": Decimal(credits_text(r["credits"])) if r["credits"] is not None else None,
            "achieved_on": r["achieved_on"],
            "status": r["status"],
        }
        fingerprint = digest(row)
        if done.get(r["id"]) == fingerprint:
            continue
        action = "new" if r["id"] not in done else "correction"
        found.append((int(r["id"]), fingerprint, {"action": action, **row}))
    return found


async def _entries(conn: AsyncConnection) -> list[tuple[int, str, dict[str, Any]]]:
    e, a = t.credit_ledger, t.learning_accounts
    done = await _exported(conn, "entry")
    rows = await conn.execute(
        select(e, a.c.id_hash, a.c.id_masked, a.c.name.label("holder"))
        .join(a, a.c.id == e.c.account_id)
        .order_by(e.c.account_id, e.c.seq)
    )
    found = []
    for r in rows.mappings():
        if r["id"] in done:
            continue
        row = {
            "action": "correction" if r["kind"] == "reversal" else "new",
            "account": r["id_hash"],
            "id_masked": r["id_masked"],
            "name": r["holder"],
            **{k: r[k] for k in ENTRY_COLUMNS[4:] if k not in ("credits",)},
            "credits": Decimal(credits_text(r["credits"])),
        }
        found.append((int(r["id"]), str(r["hash"]), row))
    return found


def _write(
    path: Path, fmt: str, outcomes: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]]
) -> list[Path]:
    """Write to temporary names, then rename: a failed export leaves no half-written file."""
    if fmt == "csv":
        targets = _targets(path, fmt)
        for target, columns, rows in zip(
            targets, (OUTCOME_COLUMNS, ENTRY_COLUMNS), (outcomes, entries), strict=True
        ):
            tmp = prepare(target.with_name(target.name + ".tmp"))
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_csv_cell(row.get(c)) for c in columns])
            os.replace(tmp, target)
        return targets
    from openpyxl import Workbook

    book = Workbook()  # not write-only: a failed save must not leave row writers open
    book.remove(book.worksheets[0])
    for title, columns, rows in (
        ("learning_outcomes", OUTCOME_COLUMNS, outcomes),
        ("credit_entries", ENTRY_COLUMNS, entries),
    ):
        sheet = book.create_sheet(title)
        sheet.append(list(columns))
        for row in rows:
            sheet.append([_cell(row.get(c)) for c in columns])
    tmp = prepare(path.with_name(path.name + ".tmp"))
    book.save(tmp)
    os.replace(tmp, path)
    return [path]


def _targets(path: Path, fmt: str) -> list[Path]:
    """The files an export to ``path`` writes (CSV: one per table, beside ``path``)."""
    if fmt == "csv":
        return [path.with_suffix(".outcomes.csv"), path.with_suffix(".entries.csv")]
    return [path]


def _csv_cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return credits_text(value)
    value = _cell(value)
    return value.isoformat() if isinstance(value, datetime) else value


async def export_credit(
    gw: Gateway, path: Path, *, fmt: str = "xlsx", operator: str | None = None
) -> CreditExport:
    """Write what is new or changed since the last export, record it, then tell plugins."""
    if fmt not in FORMATS:
        raise InputError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist")
    # Exports are incremental: an earlier file holds rows no later export repeats, so it is
    # never replaced.
    for target in _targets(path, fmt):
        if target.exists():
            raise InputError(f"{target} exists and holds an earlier export; choose a new file name")
    result = CreditExport()
    async with gw.db.begin() as conn:
        outcomes = await _outcomes(conn)
        entries = await _entries(conn)
        result.outcomes = [r for _, _, r in outcomes]
        result.entries = [r for _, _, r in entries]
        try:
            result.files = _write(path, fmt, result.outcomes, result.entries)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc}") from None
        result.export_id = int(
            (
                await conn.execute(
                    t.credit_exports.insert()
                    .values(
                        created_at=datetime.now(UTC),
                        operator=operator,
                        file_name=str(path)[:512],
                        format=fmt,
                        outcomes=len(outcomes),
                        entries=len(entries),
                        corrections=result.corrections,
                    )
                    .returning(t.credit_exports.c.id)
                )
            ).scalar_one()
        )
        items = [
            {"export_id": result.export_id, "kind": kind, "ref_id": ref, "digest": dig}
            for kind, rows in (("outcome", outcomes), ("entry", entries))
            for ref, dig, _ in rows
        ]
        if items:
            await conn.execute(t.credit_export_items.insert(), items)
    gw.host.emit(
        "xgate_credit_export",
        export_id=result.export_id,
        outcomes=result.outcomes,
        entries=result.entries,
        directory=path.parent,
    )
    return result
