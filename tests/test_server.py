"""The gateway's own API: organization webhooks land in the records like a sync page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from xgate_simulators.beifang import (
    DEFAULT_WEBHOOK_SECRET,
    BeifangSimulator,
)

from gateway.server import build_app
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.beifang_support import beifang_orgs
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


def orgs(url: str) -> dict[str, Any]:
    return {**beifang_orgs(url, webhook_secret=DEFAULT_WEBHOOK_SECRET), "fake": {"plugin": "fake"}}


async def count(gw: Any, table: Any) -> int:
    async with gw.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_webhooks_apply_records_and_bad_requests_get_clear_errors(make_gateway) -> None:
    # webhook signatures carry the organization's time; the gateway checks it against its own
    sim = BeifangSimulator(seed=4, start=datetime.now(UTC))
    sim.add_registrations("BF-2026-HGJL-2", [(n, f"生{i}") for i, n in enumerate(make_ids(5, 51))])
    async with (
        sim.running() as sim_url,
        make_gateway(
            orgs=orgs(sim_url),
            catalogue_file=DATA / "catalogue.toml",
            rules_file=DATA / "credit-rules.toml",
        ) as gw,
    ):
        server = TestServer(build_app(gw), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        try:
            sim.webhook_url = f"{base}/webhooks/beifang"
            sim.grade_all()
            sim.issue_passed()
            await sim.flush_webhooks()
            assert sim.webhook_deliveries and all(s == 200 for _, s in sim.webhook_deliveries), (
                sim.webhook_deliveries
            )
            assert await count(gw, t.scores) == 5
            assert await count(gw, t.certificates) == len(sim.truth.certificates)
            assert await count(gw, t.credit_ledger) > 0
            assert await count(gw, t.ledger_checkpoints) > 0  # signed while the server runs
            async with gw.db.connect() as conn:
                states = (await conn.execute(select(t.sync_runs.c.status))).scalars().all()
            assert states and set(states) == {"ok"}  # every webhook run is finished
            # the nightly sync later reads the same records and finds nothing new
            report = await run_sync(gw, organizations=["beifang"])
            assert report.totals()["new"] == 0 and report.totals()["changed"] == 0

            async with httpx.AsyncClient(base_url=base) as client:
                headers, body = sim.signed_event(
                    {"id": "evt_x", "type": "score.updated", "data": []}
                )
                forged = {**headers}
                sig = next(k for k in forged if "signature" in k.lower())
                forged[sig] = "t=1,v1=" + "0" * 64
                r = await client.post("/webhooks/beifang", content=body, headers=forged)
                assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
                r = await client.post("/webhooks/nobody", content=b"{}")
                assert r.status_code == 404 and "nobody" in r.json()["error"]["message"]
                r = await client.post("/webhooks/fake", content=b"{}")
                assert r.status_code == 404 and r.json()["error"]["code"] == "no_webhooks"
                r = await client.post("/webhooks/beifang", content=b"x" * (1024 * 1024 + 1))
                assert r.status_code == 413
                r = await client.get("/health")
                assert r.json()["status"] == "ok" and "organizations" not in r.json()
        finally:
            await server.close()
