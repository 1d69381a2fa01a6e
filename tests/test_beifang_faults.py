"""Beifang under a flaky network: 20% injected faults plus duplicated and shuffled records.

The first test reads the streams through the core's HTTP client with a resume loop that does
what the sync does (on a contract or transient error, start again from the last cursor); the
second runs the real nightly sync into the database (SQLite and PostgreSQL) and compares the
stored rows with the simulator's ground truth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import xgate_beifang.plugin
from sqlalchemy import select
from xgate_simulators.beifang import BeifangSimulator
from xgate_simulators.faults import FaultPlan
from xgate_simulators.server import StreamFaults

from gateway import ContractError, Page, TransientError
from gateway.plugins import load_plugins
from gateway.runtime import open_gateway
from gateway.settings import HttpPolicy, Settings
from gateway.store import tables as t
from gateway.sync import run_sync
from gateway.testing.sleep import RecordingSleep
from tests.conftest import DbTarget
from tests.idgen import make_ids
from tests.test_beifang_adapter import make_adapter, score_seen, score_truth

RESILIENT = HttpPolicy(
    attempts=10,
    timeout=5,
    wait_base=0.01,
    wait_max=0.5,
    total_budget=600,
    breaker_threshold=1000,
)


def populate(sim: BeifangSimulator, n: int) -> None:
    ids = make_ids(n, seed=9)
    plans = ["BF-2026-HGJL-2", "BF-2026-HAZOP-1", "BF-2026-SHJ-1"]
    for i, plan in enumerate(plans):
        sim.add_registrations(plan, [(x, f"考生{j}") for j, x in enumerate(ids[i::3])])
    sim.grade_all()
    sim.issue_passed()


def mutate(sim: BeifangSimulator, round_: int) -> None:
    """Corrections and revocations the organization makes between (or during) reads."""
    keys = sorted(sim.truth.scores)
    for key in keys[::17]:  # the same people each round: some scores get a third revision
        sim.correct_score(*key, practical=Decimal(40 + round_))
    valid = sorted(n for n, c in sim.truth.certificates.items() if c.status == "valid")
    for number in valid[round_::23]:
        sim.revoke(number, f"复核撤销 {round_}")


async def resilient_read(
    open_stream: Callable[[str | None], AsyncIterator[Page[Any]]],
    state: dict[Any, Any],
    key: Callable[[Any], Any],
    cursor: str | None = None,
    pages: int | None = None,
) -> tuple[str | None, int]:
    """Apply pages to ``state`` (last write wins per natural key), resuming from the last
    cursor after a failure, as the sync does. Returns the cursor and the number of restarts."""
    restarts = 0
    read = 0
    while True:
        try:
            async for page in open_stream(cursor):
                for record in page.records:
                    state[key(record)] = record
                cursor = page.next_cursor or cursor
                read += 1
                if pages is not None and read >= pages:
                    return cursor, restarts
            return cursor, restarts
        except (ContractError, TransientError):
            restarts += 1
            assert restarts < 100, "the stream never completed"


async def test_streams_through_the_core_client_equal_truth_under_faults() -> None:
    sim = BeifangSimulator(seed=3)
    populate(sim, 240)
    async with sim.running():
        adapter = make_adapter(sim, policy=RESILIENT, page_size=20)
        sim.set_faults(FaultPlan.uniform(0.2, seed=7))
        sim.set_stream_faults(StreamFaults(duplicate=0.3, shuffle=0.5, seed=7))

        scores: dict[Any, Any] = {}
        certs: dict[Any, Any] = {}
        score_key: Callable[[Any], Any] = lambda r: (r.plan_code, r.id_number)  # noqa: E731
        cert_key: Callable[[Any], Any] = lambda r: r.number  # noqa: E731
        # half a read, changes at the organization, then the rest and a second night
        s_cursor, r1 = await resilient_read(adapter.scores, scores, score_key, pages=5)
        c_cursor, r2 = await resilient_read(adapter.certificates, certs, cert_key, pages=3)
        mutate(sim, 1)
        s_cursor, r3 = await resilient_read(adapter.scores, scores, score_key, s_cursor)
        c_cursor, r4 = await resilient_read(adapter.certificates, certs, cert_key, c_cursor)
        mutate(sim, 2)
        _, r5 = await resilient_read(adapter.scores, scores, score_key, s_cursor)
        _, r6 = await resilient_read(adapter.certificates, certs, cert_key, c_cursor)

    assert score_seen(list(scores.values())) == score_truth(sim)
    assert {
        n: (c.status, c.revoked_reason, c.id_number, c.updated_at) for n, c in certs.items()
    } == {
        n: (c.status, c.revoked_reason, c.id_number, c.updated_at)
        for n, c in sim.truth.certificates.items()
    }
    assert sim.truth.revocations
    assert any(s.current.revision == 3 for s in sim.truth.scores.values())
    # the faults really happened, and the core's layer (not the test) absorbed most of them
    counts = sim.faults.counts if sim.faults else {}
    assert {"error_5xx", "rate_limit", "reset", "commit_then_drop", "malformed"} <= set(counts)
    assert adapter.context.http.stats.retries > 0  # type: ignore[attr-defined]
    assert adapter.duplicates_dropped > 0
    assert sim.stream_faults is not None and sim.stream_faults.counts["shuffle"] > 0
    assert r1 + r2 + r3 + r4 + r5 + r6 <= counts["malformed"]


async def test_nightly_sync_under_faults_stores_the_ground_truth(
    db_target: DbTarget,
) -> None:
    sim = BeifangSimulator(seed=4)
    populate(sim, 90)
    sleeper = RecordingSleep()
    async with sim.running():
        conf = Settings(
            database_url=db_target.url,
            database_schema=db_target.schema,
            organizations={
                "beifang": {
                    "plugin": "beifang",
                    "base_url": sim.url,
                    "client_id": sim.client_id,
                    "client_secret": sim.client_secret,
                    "page_size": 15,
                    "http": RESILIENT.model_dump(),
                }
            },
        )
        host = load_plugins(lambda: [], extra=[("beifang", xgate_beifang.plugin)])
        sim.set_faults(FaultPlan.uniform(0.2, seed=5))
        sim.set_stream_faults(StreamFaults(duplicate=0.3, shuffle=0.5, seed=5))
        async with open_gateway(settings=conf, host=host, sleep=sleeper) as gw:
            for night in range(3):
                if night:
                    mutate(sim, night)
                for _ in range(5):  # a failed stream resumes from its checkpoint next run
                    report = await run_sync(gw)
                    if report.ok:
                        break
                assert report.ok, report.as_dict()
                assert report.totals()["quarantined"] == 0
            async with gw.db.connect() as conn:
                scores = (await conn.execute(select(t.scores))).mappings().all()
                certs = (await conn.execute(select(t.certificates))).mappings().all()
            hashed = {s.id_number: gw.hash_id(s.id_number) for s in sim.truth.scores.values()}

    stored_scores = {
        (r["plan_code"], r["id_hash"]): (r["theory"], r["practical"], r["total"], r["absent"])
        for r in scores
    }
    assert stored_scores == {
        (plan, hashed[idn]): (
            s.current.theory,
            s.current.practical,
            s.current.total,
            s.current.absent,
        )
        for (plan, idn), s in sim.truth.scores.items()
    }
    stored_certs = {r["number"]: (r["status"], r["revoked_reason"], r["id_hash"]) for r in certs}
    assert stored_certs == {
        n: (c.status, c.revoked_reason, hashed[c.id_number])
        for n, c in sim.truth.certificates.items()
    }
    assert sum(1 for c in certs if c["status"] == "revoked") == len(sim.truth.revocations)
    assert sleeper.waits, "the core's retry layer should have waited between attempts"
