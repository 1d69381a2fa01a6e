"""Reports: coverage and the weekly progress report over a large college.

    .venv/bin/python -m benchmarks.reports --students 30000 --scores 100000 [--db both]

A synthetic college (``benchmarks.harness.school``: roster, candidates, registrations,
scores, certificates, ledger) is written straight into a fresh database; then the coverage
report (with the list of students without a certificate) and the weekly report (with the
school-year trend and its workbook, charts included) are computed and rendered as
``xgate report`` does, best of ``--rounds``. The freshly written tables are analysed first
(``ANALYZE``), as autovacuum would have done on a live database: without statistics
PostgreSQL plans the joins blind. Ratio = seconds for both / 5 s, per database;
the worst database counts. Target 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from benchmarks.harness.gateway import database
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.school import build_school
from gateway.reports.coverage import coverage_report
from gateway.reports.period import parse_week
from gateway.reports.weekly import weekly_report
from gateway.store import open_database
from gateway.store import tables as t

READ = (
    t.roster_students,
    t.candidates,
    t.registrations,
    t.scores,
    t.score_revisions,
    t.certificates,
    t.credit_ledger,
)
TARGET = 1.0
BUDGET = 5.0
NOW = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
WEEK = "2026-W49"


async def bare_pass(conn: Any) -> None:
    """The least any report must do: one pass over each table it reads (a count per table).
    Printed beside the reports' times to show how fast the machine was in that minute."""
    for table in READ:
        await conn.execute(select(func.count()).select_from(table))


async def measure(
    backend: str, students: int, scores: int, rounds: int, folder: Path
) -> dict[str, float]:
    from gateway.reports.workbook import write_weekly_xlsx

    async with database(backend, folder) as (url, schema):
        db = await open_database(url, schema=schema)
        try:
            with Timer() as load:
                async with db.begin() as conn:
                    school = await build_school(conn, students=students, scores=scores, now=NOW)
                async with db.begin() as conn:  # what autovacuum / a nightly ANALYZE keeps up
                    await conn.execute(text("ANALYZE"))
            best = {"coverage": float("inf"), "weekly": float("inf"), "bare": float("inf")}
            for _ in range(rounds):
                async with db.connect() as conn:
                    with Timer() as bare:
                        await bare_pass(conn)
                    with Timer() as cov:
                        coverage = await coverage_report(conn, now=NOW)
                    with Timer() as week:
                        report = await weekly_report(conn, parse_week(WEEK), now=NOW)
                        write_weekly_xlsx(report, folder / "weekly.xlsx")
                best["bare"] = min(best["bare"], bare.seconds)
                best["coverage"] = min(best["coverage"], cov.seconds)
                best["weekly"] = min(best["weekly"], week.seconds)
        finally:
            await db.dispose()
    if coverage.total.enrolled == 0 or report.year_to_date["sat"] == 0:
        raise RuntimeError("the synthetic college came out empty")
    return {
        "load": load.seconds,
        "students": school.students,
        "scores": school.scores,
        "uncovered": len(coverage.uncovered),
        **best,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30_000)
    parser.add_argument("--scores", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    print(f"# reports; {machine()}")
    backends = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    worst = 0.0
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
            r = asyncio.run(measure(backend, args.students, args.scores, args.rounds, Path(tmp)))
        total = r["coverage"] + r["weekly"]
        worst = max(worst, total)
        print(
            f"on {backend}: {r['students']:.0f} roster students, {r['scores']:.0f} scores "
            f"(loaded in {r['load']:.1f}s): coverage {r['coverage']:.2f}s "
            f"({r['uncovered']:.0f} students listed), weekly report with workbook "
            f"{r['weekly']:.2f}s; together {total:.2f}s (budget {BUDGET:g}s); a bare count of "
            f"every table read took {r['bare']:.2f}s"
        )
    print(ratio_line(worst / BUDGET, TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
