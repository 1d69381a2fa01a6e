"""Concurrency and rate limits, and the circuit breaker, per organization."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiolimiter import AsyncLimiter

from gateway.errors import CircuitOpenError, TransientError
from gateway.http import CircuitBreaker, rate_limiter
from tests.test_http_support import FakeClock, Script, client_for


async def test_concurrency_limit_holds(no_sleep) -> None:
    in_flight = 0
    peak = 0
    served = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak, served
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(10):  # yield so that every other request could enter if allowed
            await asyncio.sleep(0)
        in_flight -= 1
        served += 1
        return httpx.Response(200)

    async with client_for(httpx.MockTransport(handler), no_sleep, max_concurrency=3) as client:
        responses = await asyncio.gather(*(client.get(f"/v1/x/{i}") for i in range(12)))
    assert [r.status_code for r in responses] == [200] * 12
    assert served == 12
    assert peak == 3  # the limit was reached, never exceeded


async def test_limits_are_per_organization(no_sleep) -> None:
    release = asyncio.Event()
    entered: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        entered.append(request.url.host)
        if request.url.path == "/slow":
            await release.wait()
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    async with (
        client_for(transport, no_sleep, organization="a", max_concurrency=1) as a,
        client_for(transport, no_sleep, organization="b", max_concurrency=1) as b,
    ):
        slow = asyncio.ensure_future(a.get("/slow"))
        while not entered:
            await asyncio.sleep(0)
        # a's only slot is taken; b is unaffected
        assert (await b.get("/fast")).status_code == 200
        release.set()
        assert (await slow).status_code == 200


def test_rate_limiter_shapes() -> None:
    assert rate_limiter(None) is None
    fast = rate_limiter(5)
    assert isinstance(fast, AsyncLimiter)
    assert (fast.max_rate, fast.time_period) == (5, 1.0)
    slow = rate_limiter(0.25)
    assert isinstance(slow, AsyncLimiter)
    assert (slow.max_rate, slow.time_period) == (1, 4.0)


async def test_rate_limiter_is_consulted_for_every_attempt(no_sleep) -> None:
    script = Script([503, 200])
    async with client_for(script, no_sleep, rate_per_second=2) as client:
        assert client.limiter is not None
        assert client.limiter.has_capacity(2)
        assert (await client.get("/v1/scores")).status_code == 200
        # two attempts took the bucket's two tokens (it drains at 2/s: far less in this test)
        assert not client.limiter.has_capacity(1)
    assert len(script.calls) == 2


async def test_no_rate_limit_by_default(no_sleep) -> None:
    async with client_for(Script([200]), no_sleep) as client:
        assert client.limiter is None


async def test_breaker_opens_defers_then_half_opens_and_closes(no_sleep) -> None:
    clock = FakeClock()
    script = Script([503])
    async with client_for(
        script, no_sleep, attempts=2, breaker_threshold=3, breaker_cooldown=60, now=clock
    ) as client:
        for _ in range(3):
            with pytest.raises(TransientError):
                await client.get("/v1/scores")
        assert len(script.calls) == 6
        assert client.breaker.state == "open"
        with pytest.raises(CircuitOpenError) as caught:
            await client.get("/v1/scores")
        assert caught.value.organization == "org"
        assert caught.value.sent is False
        assert len(script.calls) == 6  # nothing was sent
        clock.advance(59)
        with pytest.raises(CircuitOpenError):
            await client.post("/v1/plans/p/registrations", json={})
        assert len(script.calls) == 6
        clock.advance(1)
        assert client.breaker.state == "half-open"
        script.steps = [200]
        assert (await client.get("/v1/scores")).status_code == 200
        assert client.breaker.state == "closed"
        assert (await client.get("/v1/scores")).status_code == 200
    assert client.stats.failures == 5  # three exhausted, two refused by the open circuit


async def test_failed_trial_reopens_for_another_cooldown(no_sleep) -> None:
    clock = FakeClock()
    script = Script([httpx.ConnectError])
    async with client_for(
        script, no_sleep, attempts=1, breaker_threshold=2, breaker_cooldown=30, now=clock
    ) as client:
        for _ in range(2):
            with pytest.raises(TransientError):
                await client.get("/v1/scores")
        clock.advance(30)
        with pytest.raises(TransientError):  # the trial goes out and fails
            await client.get("/v1/scores")
        assert len(script.calls) == 3
        assert client.breaker.state == "open"
        clock.advance(29)
        with pytest.raises(CircuitOpenError):
            await client.get("/v1/scores")
        assert len(script.calls) == 3
        assert client.breaker.times_opened == 2


async def test_half_open_lets_exactly_one_trial_through(no_sleep) -> None:
    clock = FakeClock()
    release = asyncio.Event()
    calls = 0
    failing = True

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if failing:
            return httpx.Response(503)
        await release.wait()
        return httpx.Response(200)

    async with client_for(
        httpx.MockTransport(handler),
        no_sleep,
        attempts=1,
        breaker_threshold=1,
        breaker_cooldown=10,
        now=clock,
    ) as client:
        with pytest.raises(TransientError):
            await client.get("/v1/scores")
        failing = False
        clock.advance(10)
        trial = asyncio.ensure_future(client.get("/v1/scores"))
        while calls < 2:
            await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):
            await client.get("/v1/scores")
        release.set()
        assert (await trial).status_code == 200
        assert client.breaker.state == "closed"
    assert calls == 2


async def test_open_breaker_of_one_organization_leaves_others_working(no_sleep) -> None:
    down = Script([503])
    up = Script([200])
    async with (
        client_for(down, no_sleep, organization="a", attempts=1, breaker_threshold=1) as a,
        client_for(up, no_sleep, organization="b", attempts=1, breaker_threshold=1) as b,
    ):
        with pytest.raises(TransientError):
            await a.get("/x")
        with pytest.raises(CircuitOpenError):
            await a.get("/x")
        assert (await b.get("/x")).status_code == 200
    assert b.breaker.state == "closed"


async def test_returned_4xx_counts_as_an_answer_and_resets_the_count(no_sleep) -> None:
    script = Script([503, 404, 503])
    async with client_for(script, no_sleep, attempts=1, breaker_threshold=2) as client:
        with pytest.raises(TransientError):
            await client.get("/x")
        assert (await client.get("/x")).status_code == 404
        with pytest.raises(TransientError):
            await client.get("/x")
        assert client.breaker.state == "closed"
        assert client.breaker.failures == 1


async def test_cancelled_trial_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("org", threshold=1, cooldown=5, now=clock)
    breaker.settle(breaker.admit(), False)
    clock.advance(5)
    trial = breaker.admit()
    assert trial is True
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    breaker.settle(trial, None)  # cancelled: no verdict
    assert breaker.admit() is True
