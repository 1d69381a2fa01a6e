"""A synthetic college for the report benchmark and the reports' cross-check tests.

Rows are written straight into the tables (seeded, so the same arguments give the same
college): a roster of ``students`` across departments, majors, cohorts and classes (most
enrolled, some graduated or suspended, some with a fee waiver basis); candidates (most roster
students, a few people not on the roster); ``scores`` registrations with their scores and first
revisions spread over the autumn term, certificates for most passes (a few revoked), learning
accounts with conversion and reversal ledger entries, cancelled registrations, unsettled ones,
failed sync streams and quarantined records. Nothing here goes through the gateway's own
write paths: the point is a database the reports read, with known contents. Primary keys
are given explicitly, so fill an empty database and only read it afterwards.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import tables as t

MAJORS = {
    "化学工程学院": ("应用化工技术", "石油化工技术", "化工装备技术"),
    "电气与信息工程学院": ("电气自动化技术", "工业互联网应用"),
    "环境与安全学院": ("环境工程技术",),
}
#: (organization, plan, certificate, level, fee)
PLANS = [
    ("beifang", "BF-HGJL-1", "HGJL", 1, Decimal("260.00")),
    ("beifang", "BF-HGJL-2", "HGJL", 2, Decimal("320.00")),
    ("beifang", "BF-SHJ-1", "SHJ", 1, Decimal("280.00")),
    ("liaohe", "LH-PLC-1", "PLC", 1, Decimal("300.00")),
    ("liaohe", "LH-PLC-2", "PLC", 2, Decimal("350.00")),
    ("liaohe", "LH-IIOT-1", "IIOT", 1, Decimal("330.00")),
]
STATUSES = ["enrolled"] * 17 + ["suspended", "graduated", "withdrawn"]
BASES = ["registered_poor", "minimum_allowance", "college_recognised", "disability"]
TERM_START = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


@dataclass
class School:
    students: int
    candidates: int
    registrations: int
    scores: int
    certificates: int


def person_hash(i: int) -> str:
    return hashlib.sha256(f"school-person-{i}".encode()).hexdigest()


async def _insert(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 5000):
        await conn.execute(table.insert(), rows[i : i + 5000])


def _roster(n: int, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    majors = [(d, m) for d, ms in MAJORS.items() for m in ms]
    rows = []
    for i in range(n):
        dept, major = majors[i % len(majors)]
        cohort = 2023 + (i // len(majors)) % 3
        rows.append(
            {
                "id": i + 1,
                "student_number": f"S{cohort}{i:06d}",
                "id_hash": person_hash(i),
                "id_masked": f"210102********{i % 10000:04d}",
                "name": f"学生{i}",
                "department": dept,
                "major": major,
                "class_name": f"{major[:2]}{cohort % 100}{(i // 97) % 4 + 1:02d}",
                "cohort": cohort,
                "program_years": 3,
                "status": rng.choice(STATUSES),
                "waiver_basis": rng.choice(BASES) if rng.random() < 0.08 else None,
                "import_id": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def _candidates(n_students: int, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """About 70% of the roster, plus 5% people who are not on it (social learners)."""
    rows = []
    people = [i for i in range(n_students) if rng.random() < 0.7]
    people += list(range(n_students, n_students + max(1, n_students // 20)))
    majors = [m for ms in MAJORS.values() for m in ms]
    for k, i in enumerate(people):
        rows.append(
            {
                "id": k + 1,
                "id_hash": person_hash(i),
                "id_type": "resident",
                "id_number": f"X{i:017d}",
                "name": f"学生{i}",
                "student_number": None,
                "department": "继续教育学院" if i >= n_students else None,
                "major": majors[i % len(majors)] if i >= n_students else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


async def build_school(
    conn: AsyncConnection, *, students: int, scores: int, seed: int = 13, now: datetime
) -> School:
    """Fill an empty database (inside the caller's transaction)."""
    rng = random.Random(seed)
    await conn.execute(
        t.roster_imports.insert(),
        {
            "id": 1,
            "file_name": "roster.xlsx",
            "file_sha256": "0" * 64,
            "operator": "bench",
            "rows_total": students,
            "added": students,
            "changed": 0,
            "unchanged": 0,
            "imported_at": now,
        },
    )
    await _insert(conn, t.roster_students, _roster(students, rng, now))
    candidates = _candidates(students, rng, now)
    await _insert(conn, t.candidates, candidates)
    await _insert(
        conn,
        t.exam_plans,
        [
            {"organization": o, "code": p, "certificate_code": c, "level": lv}
            for o, p, c, lv, _ in PLANS
        ],
    )
    school = School(students, len(candidates), 0, 0, 0)
    await _exams(conn, school, candidates, scores, rng, now)
    await _operations(conn, rng, now)
    return school


def _when(rng: random.Random, now: datetime) -> datetime:
    span = (now - TERM_START).total_seconds()
    return TERM_START + timedelta(seconds=rng.random() * span)


async def _exams(
    conn: AsyncConnection,
    school: School,
    candidates: list[dict[str, Any]],
    n_scores: int,
    rng: random.Random,
    now: datetime,
) -> None:
    regs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    sc: list[dict[str, Any]] = []
    certs: list[dict[str, Any]] = []
    cert_events: list[dict[str, Any]] = []
    n = len(candidates)
    pairs = min(n_scores, n * len(PLANS))
    total = pairs + max(5, pairs // 8)  # some registrations have no score (yet)
    for k in range(total):
        cand = candidates[k % n]
        org, plan, cert, level, fee = PLANS[(k // n) % len(PLANS)]
        created = _when(rng, now)
        status = "accepted"  # the first ``pairs`` have a score each: exactly n_scores
        if k >= pairs:
            status = rng.choices(
                ["accepted", "rejected", "cancelled", "pending", "unknown"], [40, 20, 20, 15, 5]
            )[0]
        waived = rng.random() < 0.08
        reg_id = k + 1
        regs.append(
            {
                "id": reg_id,
                "idempotency_key": f"k{k}",
                "organization": org,
                "plan_code": plan,
                "candidate_id": cand["id"],
                "status": status,
                "fee": fee,
                "fee_waived": waived,
                "resit": False,
                "attempts": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        if status == "cancelled":
            at = min(now, created + timedelta(days=rng.randint(1, 10)))
            events.append({"registration_id": reg_id, "status": "cancelled", "at": at})
        if k >= pairs or status != "accepted":
            continue
        recorded = min(now - timedelta(minutes=1), created + timedelta(days=rng.randint(7, 30)))
        absent = rng.random() < 0.05
        passed = not absent and rng.random() < 0.65
        sc.append(
            {
                "id": len(sc) + 1,
                "organization": org,
                "plan_code": plan,
                "id_hash": cand["id_hash"],
                "certificate_code": cert,
                "level": level,
                "total": Decimal(80 if passed else 40),
                "org_passed": passed,
                "rule_passed": passed,
                "absent": absent,
                "revision": 1,
                "revised_at": recorded,
                "updated_at": recorded,
                "recorded_at": recorded,
            }
        )
        if passed and rng.random() < 0.9:
            issued = (recorded + timedelta(days=rng.randint(0, 10))).date()
            revoked = rng.random() < 0.02
            cert_id = len(certs) + 1
            certs.append(
                {
                    "id": cert_id,
                    "organization": org,
                    "number": f"{cert}-{k:07d}",
                    "certificate_code": cert,
                    "level": level,
                    "id_hash": cand["id_hash"],
                    "plan_code": plan,
                    "issued_on": min(issued, now.date()),
                    "status": "revoked" if revoked else "valid",
                    "org_updated_at": recorded,
                    "updated_at": recorded,
                }
            )
            if revoked:
                at = min(now, recorded + timedelta(days=12))
                cert_events.append({"certificate_id": cert_id, "status": "revoked", "at": at})
    await _insert(conn, t.registrations, regs)
    await _insert(conn, t.registration_events, events)
    await _insert(conn, t.scores, sc)
    await _insert(conn, t.certificates, certs)
    await _insert(conn, t.certificate_events, cert_events)
    await _ledger(conn, certs, cert_events, now)
    school.registrations, school.scores, school.certificates = len(regs), len(sc), len(certs)


async def _ledger(
    conn: AsyncConnection,
    certs: list[dict[str, Any]],
    cert_events: list[dict[str, Any]],
    now: datetime,
) -> None:
    revoked = {e["certificate_id"]: e["at"] for e in cert_events}
    accounts: dict[str, int] = {}
    entries: list[dict[str, Any]] = []
    seqs: dict[int, int] = {}
    for c in certs:
        account = accounts.setdefault(c["id_hash"], len(accounts) + 1)
        when = datetime.combine(c["issued_on"], datetime.min.time(), UTC) + timedelta(hours=3)
        credits = Decimal(c["level"] * 2)
        for kind, amount, at in [("conversion", credits, min(when, now))] + (
            [("reversal", -credits, revoked[c["id"]])] if c["id"] in revoked else []
        ):
            seqs[account] = seqs.get(account, 0) + 1
            entries.append(
                {
                    "account_id": account,
                    "seq": seqs[account],
                    "kind": kind,
                    "course_code": c["certificate_code"],
                    "credits": amount,
                    "source_org": c["organization"],
                    "source_ref": c["number"],
                    "recorded_at": at,
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
            )
    await _insert(
        conn,
        t.learning_accounts,
        [
            {
                "id": i,
                "id_hash": h,
                "id_masked": "210102********0000",
                "kind": "student",
                "created_at": now,
                "head_seq": seqs.get(i, 0),
            }
            for h, i in accounts.items()
        ],
    )
    await _insert(conn, t.credit_ledger, entries)


async def _operations(conn: AsyncConnection, rng: random.Random, now: datetime) -> None:
    """A failed sync stream last week and this week, and a few quarantined records."""
    runs, streams = [], []
    for i, days in enumerate((9, 2)):
        started = now - timedelta(days=days)
        runs.append(
            {"id": i + 1, "started_at": started, "finished_at": started, "status": "partial"}
        )
        streams.append(
            {
                "run_id": i + 1,
                "organization": "liaohe",
                "stream": "scores",
                "status": "failed",
                "error": "AuthError: 401 from the organization",
            }
        )
    await _insert(conn, t.sync_runs, runs)
    await _insert(conn, t.sync_run_streams, streams)
    await _insert(
        conn,
        t.quarantine,
        [
            {
                "organization": "beifang",
                "stream": "certificates",
                "error": "contract: missing number",
                "payload": "{}",
                "created_at": now - timedelta(days=rng.randint(0, 20)),
            }
            for _ in range(5)
        ],
    )
