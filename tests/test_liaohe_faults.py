"""Liaohe under a flaky network: 20% injected faults (5xx, 429, resets, answers lost after the
platform committed, garbled bodies) plus duplicated, shuffled and out-of-order listing rows.

The first test drives the adapter through the core's HTTP client the way the core does
(registration: on an unknown outcome, look up before sending again; streams: on a contract or
transient error, resume from the last cursor). The second runs the real outbox and nightly
sync into the database (SQLite and PostgreSQL). Both end equal to the ground truth, with
every candidate registered exactly once although uploads were repeated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Any

import xgate_liaohe.plugin
from sqlalchemy import select
from xgate_liaohe.adapter import LiaoheAdapter
from xgate_simulators.faults import FaultPlan
from xgate_simulators.liaohe import LiaoheSimulator
from xgate_simulators.server import StreamFaults

from gateway import (
    ContractError,
    ExamPlan,
    Page,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    TransientError,
)
from gateway.outbox import OutboxItem, deliver, enqueue
from gateway.plugins import load_plugins
from gateway.runtime import open_gateway
from gateway.settings import Settings
from gateway.store import tables as t
from gateway.sync import run_sync
from gateway.testing.sleep import RecordingSleep
from tests.conftest import DbTarget
from tests.test_liaohe_adapter import (
    GYJQR2,
    PLC1,
    RESILIENT,
    make_adapter,
    people,
    requests_for,
)
from tests.test_liaohe_streams import cert_truth, cert_version, score_truth, score_version

FAULT_KINDS = {"error_5xx", "rate_limit", "reset", "commit_then_drop", "malformed"}


async def register_like_the_core(
    adapter: LiaoheAdapter, plan: ExamPlan, requests: Sequence[RegistrationRequest]
) -> dict[str, RegistrationOutcome]:
    """What the outbox does: send; settle what is unknown by look-up; send again only what
    the platform certainly does not have."""
    settled: dict[str, RegistrationOutcome] = {}
    pending = list(requests)
    for _ in range(50):
        if not pending:
            return settled
        try:
            for outcome in await adapter.register(plan, pending):
                settled[outcome.idempotency_key] = outcome
        except (TransientError, ContractError):
            pass  # unknown or not sent: the look-ups below tell which
        again = []
        for request in pending:
            if request.idempotency_key in settled:
                continue
            try:
                found = await adapter.lookup_registration(plan, request)
            except (TransientError, ContractError):
                again.append(request)  # still unknown: asked again next round, never resent
                continue
            if found is None:
                again.append(request)
            else:
                settled[request.idempotency_key] = found
        pending = again
    raise AssertionError("registration never settled")


async def read_resiliently(
    open_stream: Callable[[str | None], AsyncIterator[Page[Any]]],
    out: list[Any],
    cursor: str | None = None,
) -> tuple[str | None, int]:
    """Collect records, resuming from the last cursor after a failure, as the sync does."""
    restarts = 0
    while True:
        try:
            async for page in open_stream(cursor):
                out.extend(page.records)
                cursor = page.next_cursor or cursor
            return cursor, restarts
        except (ContractError, TransientError):
            restarts += 1
            assert restarts < 100, "the stream never completed"


def mutate(sim: LiaoheSimulator, round_: int) -> None:
    for key in sorted(sim.truth.scores)[::11]:  # the same people each round: revision 3
        sim.correct_score(*key, practical=Decimal(41 + round_))
    valid = sorted(n for n, c in sim.truth.certificates.items() if c.status == "valid")
    for number in valid[round_::13]:
        sim.revoke(number, f"复核撤销 {round_}")


def latest(versions: list[tuple[Any, ...]], key: Callable[[tuple[Any, ...]], Any]) -> set[Any]:
    last: dict[Any, tuple[Any, ...]] = {}
    for version in versions:
        last[key(version)] = version
    return set(last.values())


async def test_adapter_through_the_core_client_equals_truth_under_faults() -> None:
    sim = LiaoheSimulator(seed=21, disorder=0.2)
    async with sim.running():
        adapter = make_adapter(sim, policy=RESILIENT, page_size=15)
        sim.set_faults(FaultPlan.uniform(0.2, seed=21))
        sim.set_stream_faults(StreamFaults(duplicate=0.3, shuffle=0.5, seed=21))

        candidates = {PLC1: people(90, seed=1), GYJQR2: people(60, seed=2)}
        outcomes: dict[str, RegistrationOutcome] = {}
        for plan, group in candidates.items():
            for start in range(0, len(group), 30):
                batch = requests_for(plan, group[start : start + 30])
                outcomes |= await register_like_the_core(adapter, plan, batch)

        sim.grade_all()
        scores: list[Any] = []
        certs: list[Any] = []
        s_cursor, r1 = await read_resiliently(adapter.scores, scores)
        c_cursor, r2 = await read_resiliently(adapter.certificates, certs)
        mutate(sim, 1)
        s_cursor, r3 = await read_resiliently(adapter.scores, scores, s_cursor)
        c_cursor, r4 = await read_resiliently(adapter.certificates, certs, c_cursor)
        mutate(sim, 2)
        _, r5 = await read_resiliently(adapter.scores, scores, s_cursor)
        _, r6 = await read_resiliently(adapter.certificates, certs, c_cursor)

    # exactly one registration per candidate, each outcome naming it
    assert len(sim.truth.registrations) == 150
    assert len(outcomes) == 150
    for plan, group in candidates.items():
        for request in requests_for(plan, group):
            reg = sim.truth.registrations[(plan.code, request.candidate.id_number)]
            outcome = outcomes[request.idempotency_key]
            assert (outcome.status, outcome.org_registration_id) == (
                RegistrationStatus.ACCEPTED,
                reg.registration_id,
            )
    repeated = [key for key, n in sim.attempts.items() if n > 1]
    assert repeated, "some uploads reached the platform twice; each still registered once"
    assert sim.refusals[2001] == 0  # 2001 is a row code; request-level refusals are counted
    assert sum(1 for job in sim.jobs.values() for r in job.results if r["code"] == 2001) > 0

    # streams: nothing lost, nothing delivered twice, last version per key equals truth
    score_versions = [score_version(r) for r in scores]
    assert len(score_versions) == len(set(score_versions))
    assert latest(score_versions, lambda v: (v[0], v[1])) == score_truth(sim)
    cert_versions = [cert_version(c) for c in certs]
    assert len(cert_versions) == len(set(cert_versions))
    assert latest(cert_versions, lambda v: v[0]) == cert_truth(sim)
    assert any(s.current.revision == 3 for s in sim.truth.scores.values())
    assert sim.truth.revocations

    # the faults really happened, and the core's layer absorbed most of them
    assert sim.faults is not None and set(sim.faults.counts) >= FAULT_KINDS
    assert adapter.context.http.stats.retries > 0  # type: ignore[attr-defined]
    assert sim.refusals[1003] > 0  # core retries of a processed request, signed again here
    assert r1 + r2 + r3 + r4 + r5 + r6 <= sim.faults.counts["malformed"]


async def test_outbox_and_nightly_sync_under_faults_store_the_ground_truth(
    db_target: DbTarget,
) -> None:
    sim = LiaoheSimulator(seed=22, disorder=0.2)
    sleeper = RecordingSleep()
    async with sim.running():
        conf = Settings(
            database_url=db_target.url,
            database_schema=db_target.schema,
            organizations={
                "liaohe": {
                    "plugin": "liaohe",
                    "base_url": sim.url,
                    "app_key": sim.app_key,
                    "app_secret": sim.app_secret,
                    "page_size": 10,
                    "poll_interval": 0.5,
                    "http": RESILIENT.model_dump(),
                }
            },
        )
        host = load_plugins(lambda: [], extra=[("liaohe", xgate_liaohe.plugin)])
        # registration first, the upload's answers often lost after the platform committed or
        # garbled: the core resends (the operation is declared repeatable), the outbox settles
        # what stays unknown by look-up
        sim.set_faults(
            FaultPlan(commit_then_drop=0.5, malformed=0.25, seed=28, paths=("/api/reg/upload",))
        )
        candidates = people(120, seed=3)
        async with open_gateway(settings=conf, host=host, sleep=sleeper) as gw:
            await enqueue(gw, "liaohe", PLC1, [OutboxItem(c) for c in candidates])
            for _ in range(10):
                report = await deliver(gw, "liaohe")
                async with gw.db.connect() as conn:
                    open_ = (
                        await conn.execute(
                            select(t.registrations.c.id).where(
                                t.registrations.c.status.notin_(["accepted", "rejected"])
                            )
                        )
                    ).all()
                if not open_:
                    break
            assert not open_, report
            registration_faults = dict(sim.faults.counts) if sim.faults else {}
            sim.set_faults(FaultPlan.uniform(0.2, seed=22))
            sim.set_stream_faults(StreamFaults(duplicate=0.3, shuffle=0.5, seed=22))
            sim.grade_all()
            for night in range(2):
                if night:
                    mutate(sim, night)
                for _ in range(5):  # a failed stream resumes from its checkpoint next run
                    sync = await run_sync(gw)
                    if sync.ok:
                        break
                assert sync.ok, sync.as_dict()
                assert sync.totals()["quarantined"] == 0
            async with gw.db.connect() as conn:
                regs = (await conn.execute(select(t.registrations))).mappings().all()
                scores = (await conn.execute(select(t.scores))).mappings().all()
                certs = (await conn.execute(select(t.certificates))).mappings().all()
            hashed = {c.id_number: gw.hash_id(c.id_number) for c in candidates}

    assert len(sim.truth.registrations) == 120
    assert registration_faults.get("commit_then_drop", 0) > 0
    # the upload was committed, its answer lost; the core's resends were refused as replays
    # (same nonce) and the outbox settled every candidate by look-up instead of resending
    assert sim.hits["upload"] > 1 and sim.truth.registration_requests == 1
    assert max(sim.attempts.values()) == 1 and sim.hits["query"] >= 120
    assert {r["status"] for r in regs} == {"accepted"}
    assert {r["org_registration_id"] for r in regs} == {
        r.registration_id for r in sim.truth.registrations.values()
    }
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
    assert sim.faults is not None and sum(sim.faults.counts.values()) >= 10
    assert sleeper.waits, "the core's retry layer and job polling wait with the injected sleep"
