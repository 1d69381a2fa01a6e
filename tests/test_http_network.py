"""The layer over real loopback sockets: failures classified as the network produces them."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from xgate_simulators.faults import FaultPlan, fault_middleware

from gateway.errors import OutcomeUnknown, TransientError
from gateway.http import build_client
from gateway.settings import HttpPolicy


class Org:
    """A tiny organization that commits every POST it receives (ground truth: ``committed``)."""

    def __init__(self) -> None:
        self.plan: FaultPlan | None = None
        self.committed: list[bytes] = []
        self.gets = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[fault_middleware(lambda: self.plan)])
        app.router.add_post("/v1/registrations", self.register)
        app.router.add_get("/v1/scores", self.scores)
        return app

    async def register(self, request: web.Request) -> web.Response:
        self.committed.append(await request.read())
        return web.json_response({"ok": True}, status=201)

    async def scores(self, request: web.Request) -> web.Response:
        self.gets += 1
        return web.json_response({"items": [1, 2, 3]})


@pytest.fixture
async def org() -> AsyncIterator[tuple[Org, str]]:
    state = Org()
    runner = web.AppRunner(state.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_commit_then_drop_is_outcome_unknown_and_committed_once(org, no_sleep) -> None:
    state, url = org
    state.plan = FaultPlan(commit_then_drop=1.0)
    async with build_client("o", HttpPolicy(), base_url=url, sleep=no_sleep) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post("/v1/registrations", json={"id": "a"})
    assert len(state.committed) == 1  # the organization did act: resending would duplicate
    assert no_sleep.waits == []


async def test_dropped_reads_are_retried_to_success(org, no_sleep) -> None:
    state, url = org
    state.plan = FaultPlan(reset=0.3, error_5xx=0.2, seed=3)
    policy = HttpPolicy(attempts=20, total_budget=10_000)
    async with build_client("o", policy, base_url=url, sleep=no_sleep) as c:
        for _ in range(10):
            response = await c.get("/v1/scores")
            assert response.json() == {"items": [1, 2, 3]}
        retries = c.stats.retries
    assert state.plan.counts.get("reset", 0) > 0
    assert retries == sum(state.plan.counts.values())
    assert len(no_sleep.waits) == retries


async def test_refused_connection_is_retried_then_transient_not_sent(no_sleep) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = HttpPolicy(attempts=3)
    url = f"http://127.0.0.1:{port}"
    async with build_client("o", policy, base_url=url, sleep=no_sleep) as client:
        with pytest.raises(TransientError) as caught:
            await client.post("/v1/registrations", json={})
    assert type(caught.value) is TransientError
    assert caught.value.sent is False
    assert len(no_sleep.waits) == 2
