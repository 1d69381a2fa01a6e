"""The whole college workflow against Beifang with 20% faults: outbox registration, nightly
sync, issuance on request, sync again. Everything ends exactly once at the organization and
equal to its ground truth in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import xgate_beifang.plugin
from sqlalchemy import select
from xgate_simulators.beifang import BeifangSimulator
from xgate_simulators.faults import FaultPlan
from xgate_simulators.server import StreamFaults

from gateway import Candidate, ExamPlan
from gateway.issuance import issue_all
from gateway.outbox import OutboxItem, deliver, enqueue, open_entries
from gateway.plugins import load_plugins
from gateway.runtime import Gateway, open_gateway
from gateway.settings import Settings
from gateway.store import tables as t
from gateway.sync import run_sync
from gateway.testing.sleep import RecordingSleep
from tests.conftest import DbTarget
from tests.idgen import make_ids
from tests.test_beifang_faults import RESILIENT

ROOT = Path(__file__).resolve().parents[1]
HGJL2 = ExamPlan(code="BF-2026-HGJL-2", organization="beifang", certificate_code="HGJL", level=2)
SHJ1 = ExamPlan(code="BF-2026-SHJ-1", organization="beifang", certificate_code="SHJ", level=1)
HGJL3 = ExamPlan(code="BF-2026-HGJL-3", organization="beifang", certificate_code="HGJL", level=3)


@asynccontextmanager
async def gateway_for(sim: BeifangSimulator, db_target: DbTarget) -> AsyncIterator[Gateway]:
    conf = Settings(
        database_url=db_target.url,
        database_schema=db_target.schema,
        catalogue_file=ROOT / "examples" / "data" / "catalogue.toml",
        organizations={
            "beifang": {
                "plugin": "beifang",
                "base_url": sim.url,
                "client_id": sim.client_id,
                "client_secret": sim.client_secret,
                "page_size": 20,
                "http": RESILIENT.model_dump(),
            }
        },
    )
    host = load_plugins(lambda: [], extra=[("beifang", xgate_beifang.plugin)])
    async with open_gateway(settings=conf, host=host, sleep=RecordingSleep()) as gw:
        yield gw


async def settle(gw: Gateway) -> None:
    """Deliver and reconcile until nothing is open, as repeated runs of ``xgate outbox`` do."""
    for _ in range(10):
        await deliver(gw, "beifang")
        if not await open_entries(gw, "beifang"):
            return
    raise AssertionError("registrations still open after ten delivery runs")


async def test_register_sync_issue_sync_exactly_once_under_faults(db_target: DbTarget) -> None:
    ids = make_ids(70, seed=21)
    people = [Candidate(name=f"考生{i}", id_number=x) for i, x in enumerate(ids)]
    sim = BeifangSimulator(seed=8)
    async with sim.running(), gateway_for(sim, db_target) as gw:
        # writes first: answers lost after the organization committed, garbled, refused
        writes = FaultPlan(
            commit_then_drop=0.3,
            malformed=0.15,
            error_5xx=0.1,
            reset=0.05,
            paths=("/v1/",),
            seed=13,
        )
        sim.set_faults(writes)
        await enqueue(gw, "beifang", HGJL2, [OutboxItem(c) for c in people[:40]])
        await enqueue(gw, "beifang", SHJ1, [OutboxItem(c) for c in people[40:]])
        await enqueue(gw, "beifang", HGJL3, [OutboxItem(c) for c in people[60:65]])
        await settle(gw)

        sim.grade_all()
        sim.set_faults(FaultPlan.uniform(0.2, seed=13))
        sim.set_stream_faults(StreamFaults(duplicate=0.3, shuffle=0.5, seed=13))
        assert (await run_sync(gw)).ok or (await run_sync(gw)).ok
        sim.set_faults(writes)
        reports = await issue_all(gw)
        reports += await issue_all(gw)  # a second run settles anything left unknown
        sim.set_faults(FaultPlan.uniform(0.2, seed=14))
        for _ in range(3):  # certificates issued now come back through the stream
            if (await run_sync(gw)).ok:
                break
        async with gw.db.connect() as conn:
            regs = (await conn.execute(select(t.registrations))).mappings().all()
            certs = (await conn.execute(select(t.certificates))).mappings().all()
        hashed = {x: gw.hash_id(x) for x in ids}

    truth = sim.truth
    # registration: each person once at the organization, and the college knows its ids
    assert truth.registered(HGJL2.code) == set(ids[:40])
    assert truth.registered(SHJ1.code) == set(ids[40:])
    accepted = {
        (r["plan_code"], r["org_registration_id"]) for r in regs if r["status"] == "accepted"
    }
    assert accepted == {(p, r.registration_id) for (p, _), r in truth.registrations.items()}
    rejected = [r for r in regs if r["status"] == "rejected"]
    assert len(rejected) == 5 and {r["reason_code"] for r in rejected} == {"LEVEL_NOT_ALLOWED"}
    # issuance: one certificate per passed registration, never a second
    passed = {s.registration_id for s in truth.scores.values() if s.current.passed}
    assert {c.registration_id for c in truth.certificates.values()} == passed
    assert len(truth.certificates) == len(passed)
    assert sum(r.issued for r in reports) == len(passed)
    assert [r.unknown for r in reports][-1] == 0
    assert {(c["number"], c["id_hash"]) for c in certs} == {
        (n, hashed[c.id_number]) for n, c in truth.certificates.items()
    }
    # the lost answers really happened and were absorbed by replays, not second registrations
    assert writes.counts["commit_then_drop"] >= 3
    assert truth.replayed_items > 0 and truth.issue_requests > 2
