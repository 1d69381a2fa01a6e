"""The whole core against the Beifang simulator: sync, exam records, credit bank, history."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from xgate_simulators.beifang import BeifangSimulator

from gateway.credit.verify import verify_report
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.beifang_support import beifang_orgs
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
PLAN = "BF-2026-HGJL-2"


def orgs(url: str) -> dict[str, Any]:
    return beifang_orgs(url, page_size=9)


def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


async def db_scores(gw: Any) -> dict[str, tuple[Decimal | None, Decimal | None, int]]:
    async with gw.db.connect() as conn:
        rows = await conn.execute(
            select(t.scores.c.id_hash, t.scores.c.theory, t.scores.c.practical, t.scores.c.revision)
        )
        return {r.id_hash: (dec(r.theory), dec(r.practical), r.revision) for r in rows}


async def ledger(gw: Any) -> list[Any]:
    async with gw.db.connect() as conn:
        return list(await conn.execute(select(t.credit_ledger).order_by(t.credit_ledger.c.id)))


async def test_sync_matches_ground_truth_and_keeps_history(make_gateway) -> None:
    sim = BeifangSimulator(seed=11)
    people = [(n, f"学生{i}") for i, n in enumerate(make_ids(40, seed=31))]
    sim.add_registrations(PLAN, people)
    sim.grade_all()
    certs = sim.issue_passed()
    assert certs
    async with (
        sim.running() as url,
        make_gateway(
            orgs=orgs(url),
            catalogue_file=DATA / "catalogue.toml",
            rules_file=DATA / "credit-rules.toml",
        ) as gw,
    ):
        report = await run_sync(gw)
        assert report.ok, report.as_dict()
        truth = {gw.hash_id(s.id_number): s for s in sim.truth.scores.values()}
        got = await db_scores(gw)
        assert set(got) == set(truth)
        for h, (theory, practical, _rev) in got.items():
            assert (theory, practical) == (truth[h].current.theory, truth[h].current.practical)
        async with gw.db.connect() as conn:
            n_certs = (
                await conn.execute(select(func.count()).select_from(t.certificates))
            ).scalar()
        assert n_certs == len(sim.truth.certificates)
        entries = await ledger(gw)
        assert entries and all(e.kind == "conversion" for e in entries)
        assert {e.rule_version for e in entries} == {"2026.1"}

        # nothing changed at the organization: no new rows, one request per stream
        before = len(entries)
        again = await run_sync(gw)
        assert again.totals()["new"] == 0 and again.totals()["changed"] == 0
        assert all(s.requests == 1 for s in again.streams), [vars(s) for s in again.streams]
        assert len(await ledger(gw)) == before

        # a correction: a new revision, and the credit follows it with compensating entries
        holder = certs[0]
        sim.correct_score(holder.plan_code, holder.id_number, theory=99, practical=99)
        await run_sync(gw)
        h = gw.hash_id(holder.id_number)
        assert (await db_scores(gw))[h][2] == 2
        after_fix = await ledger(gw)
        assert any(e.kind == "reversal" for e in after_fix)
        assert any(e.grade == "优秀" for e in after_fix if e.kind == "conversion")

        # a revocation reverses every credit of that certificate
        sim.revoke(holder.number, "违规")
        await run_sync(gw)
        async with gw.db.connect() as conn:
            account = (
                await conn.execute(
                    select(t.learning_accounts.c.id).where(t.learning_accounts.c.id_hash == h)
                )
            ).scalar_one()
        net = sum(Decimal(e.credits) for e in await ledger(gw) if e.account_id == account)
        assert net == 0
        async with gw.db.connect() as conn:
            verdict = await verify_report(conn)
        assert verdict.ok, verdict.problems
