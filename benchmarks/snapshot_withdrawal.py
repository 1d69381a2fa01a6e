"""Snapshot withdrawal: what a complete read of a long certificate list costs beyond its pages.

    .venv/bin/python -m benchmarks.snapshot_withdrawal --certificates 200000 --gone 3

An organization holds ``--certificates`` valid certificates; a complete read lists all but
``--gone`` of them. The sync keeps the listed numbers in memory while it applies the pages
(no statement per page or per record) and calls ``gateway.records.withdraw_unlisted`` once at
the end. Measured here: the statements and the time of that call on SQLite (and PostgreSQL
with ``--backend postgresql``). Ratio = statements issued / 10: a handful whatever the list's
length, where marking records one by one would cost one statement per certificate. Target 1.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from benchmarks.harness.gateway import database
from benchmarks.harness.report import Timer, machine, ratio_line
from gateway.records import WITHDRAWN, withdraw_unlisted
from gateway.store import open_database
from gateway.store import tables as t

TARGET = 1.0
ORG = "snapshot"
BUDGET = 10  # statements


def _rows(n: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "organization": ORG,
            "number": f"SN{i:08d}",
            "certificate_code": "PLC",
            "level": 1,
            "id_hash": f"{i:064x}",
            "issued_on": date(2026, 12, 1),
            "status": "valid",
            "org_updated_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]


async def measure(backend: str, certificates: int, gone: int, folder: Path) -> dict[str, float]:
    now = datetime.now(UTC)
    async with database(backend, folder) as (url, schema):
        db = await open_database(url, schema=schema)
        try:
            rows = _rows(certificates, now)
            async with db.begin() as conn:
                for i in range(0, len(rows), 5000):
                    await conn.execute(t.certificates.insert(), rows[i : i + 5000])
            listed = {r["number"] for r in rows[gone:]}
            statements: list[str] = []

            def count(*args: Any) -> None:
                statements.append(str(args[2]).split()[0])

            event.listen(db.engine.sync_engine, "before_cursor_execute", count)
            try:
                with Timer() as timer:
                    async with db.begin() as conn:
                        withdrawn = await withdraw_unlisted(
                            conn, ORG, listed, read_since=datetime.now(UTC), run_id=1, now=now
                        )
            finally:
                event.remove(db.engine.sync_engine, "before_cursor_execute", count)
            async with db.connect() as conn:
                marked = (
                    await conn.execute(
                        select(func.count()).where(t.certificates.c.status == WITHDRAWN)
                    )
                ).scalar_one()
        finally:
            await db.dispose()
    if len(withdrawn) != gone or marked != gone:
        raise RuntimeError(f"expected {gone} withdrawn, got {len(withdrawn)} (stored {marked})")
    return {"seconds": timer.seconds, "statements": len(statements)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=200_000)
    parser.add_argument("--gone", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    print(f"# snapshot withdrawal; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        r = asyncio.run(measure(args.backend, args.certificates, args.gone, Path(tmp)))
    print(
        f"{args.backend}: {args.certificates} certificates, {args.gone} no longer listed: "
        f"withdrawn in {r['seconds'] * 1000:.0f} ms with {r['statements']:.0f} statements "
        f"(one per certificate would be {args.certificates})"
    )
    print(ratio_line(r["statements"] / BUDGET, TARGET))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
