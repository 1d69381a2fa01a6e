"""End to end, plugin API 1.1: an organization that lists only current certificates.

The Liaohe simulator with ``current_only`` drops a certificate from its list when a score
correction turns a pass into a fail. The Liaohe plugin configured with
``certificate_listing = "current"`` reads that list as a snapshot; the core then marks the
certificate ``withdrawn``, reverses its credit with a reason, and the ledger still verifies.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from xgate_simulators.liaohe import LiaoheSimulator

from gateway.credit.verify import verify_report
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
PLAN = "LH-2026-PLC-1"


def orgs(sim: LiaoheSimulator) -> dict[str, Any]:
    return {
        "liaohe": {
            "plugin": "liaohe",
            "base_url": sim.url,
            "app_key": sim.app_key,
            "app_secret": sim.app_secret,
            "page_size": 6,
            "certificate_listing": "current",
        }
    }


async def certificate(gw: Any, number: str) -> tuple[str, list[tuple[str, str | None, int]]]:
    c, e = t.certificates, t.certificate_events
    async with gw.db.connect() as conn:
        status = (await conn.execute(select(c.c.status).where(c.c.number == number))).scalar_one()
        events = await conn.execute(
            select(e.c.status, e.c.detail, e.c.run_id)
            .join(c, c.c.id == e.c.certificate_id)
            .where(c.c.number == number)
            .order_by(e.c.id)
        )
        return status, [(r.status, r.detail, r.run_id) for r in events]


async def credit_of(gw: Any, number: str) -> tuple[Decimal, list[str]]:
    L = t.credit_ledger
    async with gw.db.connect() as conn:
        rows = (
            await conn.execute(select(L).where(L.c.source_ref == number).order_by(L.c.id))
        ).all()
    return sum((Decimal(r.credits) for r in rows), Decimal(0)), [
        r.reason for r in rows if r.kind == "reversal"
    ]


async def test_a_pass_turned_fail_is_withdrawn_with_its_credit(make_gateway) -> None:
    sim = LiaoheSimulator(seed=4, current_only=True)
    sim.add_registrations(PLAN, [(n, f"学生{i}") for i, n in enumerate(make_ids(20, seed=41))])
    sim.grade_all()
    passed = [c for c in sim.truth.certificates.values() if c.status == "valid"]
    assert len(passed) >= 3
    async with (
        sim.running(),
        make_gateway(
            orgs=orgs(sim),
            catalogue_file=DATA / "catalogue.toml",
            rules_file=DATA / "credit-rules.toml",
        ) as gw,
    ):
        first = await run_sync(gw)
        assert first.ok, first.as_dict()
        victim = passed[1]
        granted, _ = await credit_of(gw, victim.number)
        assert granted > 0

        # the public-notice correction: the pass becomes a fail, the list no longer shows it
        sim.correct_score(victim.plan_code, victim.id_number, theory=20, practical=20)
        second = await run_sync(gw)
        assert second.ok, second.as_dict()
        certs = next(s for s in second.streams if s.stream == "certificates")
        assert certs.withdrawn == 1 and certs.credits_reversed >= 1
        status, events = await certificate(gw, victim.number)
        assert status == "withdrawn"
        assert events[-1][0] == "withdrawn" and events[-1][2] == second.run_id
        net, reasons = await credit_of(gw, victim.number)
        # (the score correction itself first re-grades the credit; the withdrawal cancels it)
        assert net == 0 and reasons[-1] == "certificate withdrawn"
        # the others are untouched and keep their credit
        for other in passed:
            if other.number != victim.number:
                assert (await certificate(gw, other.number))[0] == "valid"
                assert (await credit_of(gw, other.number))[0] > 0
        async with gw.db.connect() as conn:
            assert (await verify_report(conn)).problems == []

        # the next night changes nothing
        third = await run_sync(gw)
        assert third.totals()["withdrawn"] == 0 and third.totals()["credits_reversed"] == 0
