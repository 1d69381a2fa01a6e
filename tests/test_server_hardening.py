"""``xgate serve`` under abuse: floods, oversized and deeply nested bodies, malformed
signature headers, replays. A small version of benchmarks/webhook_flood.py runs here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from xgate_simulators.beifang import DEFAULT_WEBHOOK_SECRET, BeifangSimulator

from gateway.jsonlimits import nesting_depth, too_deep
from gateway.masking import mask_text
from gateway.server import build_app
from gateway.store import tables as t
from tests.idgen import make_ids
from tests.test_server import orgs

pytestmark = pytest.mark.storage
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


async def runs(gw: Any) -> int:
    async with gw.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.sync_runs))).scalar())


def test_nesting_depth_is_linear_and_skips_strings() -> None:
    assert nesting_depth(b'{"a": [1, {"b": "[[[[["}]}') == 3
    assert too_deep(b"[" * 100_000) and not too_deep(b"[" * 64 + b"]" * 64)


def test_masking_covers_separators_and_glued_prefixes() -> None:
    assert mask_text("210802-20070823-5449") == "210802********5449"
    assert mask_text("ID210802200708235449") == "ID210802********5449"
    assert mask_text("id:210802 20070823 5449") == "id:210802********5449"


async def test_abuse_gets_clear_answers_and_a_replay_changes_nothing(make_gateway: Any) -> None:
    sim = BeifangSimulator(seed=4, start=datetime.now(UTC))
    sim.add_registrations("BF-2026-HGJL-2", [(n, f"生{i}") for i, n in enumerate(make_ids(3, 52))])
    async with (
        sim.running() as sim_url,
        make_gateway(orgs=orgs(sim_url), catalogue_file=DATA / "catalogue.toml") as gw,
    ):
        server = TestServer(build_app(gw, console=False), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                headers, body = sim.signed_event({"id": "evt_1", "type": "x", "data": []})
                sig = next(k for k in headers if "signature" in k.lower())
                long_t = {**headers, sig: "t=" + "9" * 5000 + ",v1=" + "0" * 64}
                r = await client.post("/webhooks/beifang", content=body, headers=long_t)
                assert r.status_code == 401
                assert r.json()["error"]["message"] == "the webhook signature does not verify"
                deep = b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
                headers_deep, _ = sim.signed_event({"id": "evt_2", "type": "x", "data": []})
                r = await client.post("/webhooks/beifang", content=deep, headers=headers_deep)
                assert r.status_code == 400 and r.json()["error"]["code"] == "too_deep"
                assert "Traceback" not in r.text and "Recursion" not in r.text
                before = await runs(gw)
                first = await client.post("/webhooks/beifang", content=body, headers=headers)
                assert first.status_code == 200 and await runs(gw) == before + 1
                for _ in range(3):  # replays inside the signature's time window
                    again = await client.post("/webhooks/beifang", content=body, headers=headers)
                    assert again.status_code == 200 and again.json()["duplicate"] is True
                assert await runs(gw) == before + 1
        finally:
            await server.close()


async def test_a_flood_of_unsigned_large_posts_is_bounded(make_gateway: Any) -> None:
    """200 concurrent unsigned 512 KiB posts: each refused 401, 413 or 503, none applied."""
    settings = {"webhook_concurrency": 4}
    async with make_gateway(orgs=orgs("http://127.0.0.1:9"), **settings) as gw:
        gw.settings.organizations["beifang"].model_extra["webhook_secret"] = DEFAULT_WEBHOOK_SECRET
        server = TestServer(build_app(gw, console=False), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        body = b'{"data": []}' + b" " * (512 * 1024)
        try:
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                answers = await asyncio.gather(
                    *(client.post("/webhooks/beifang", content=body) for _ in range(200))
                )
            codes = {r.status_code for r in answers}
            assert codes <= {401, 503} and 401 in codes, codes
            assert await runs(gw) == 0
        finally:
            await server.close()
