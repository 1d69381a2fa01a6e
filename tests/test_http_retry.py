"""Retries, Retry-After, write safety and error mapping of the core's HTTP layer."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest

from gateway.errors import (
    AuthError,
    OutcomeUnknown,
    RateLimitedError,
    TransientError,
)
from tests.test_http_support import Script, client_for

WALL = 1_700_000_000.0


async def test_two_503s_then_success_waits_twice(no_sleep) -> None:
    script = Script([503, 503, 200])
    async with client_for(script, no_sleep) as client:
        response = await client.get("/v1/scores")
    assert response.status_code == 200
    assert response.json() == {"status": 200}
    assert len(script.calls) == 3
    assert len(no_sleep.waits) == 2
    assert client.stats.requests == 1
    assert client.stats.retries == 2
    assert client.stats.failures == 0
    assert client.stats.waited == pytest.approx(sum(no_sleep.waits))


async def test_429_retry_after_seconds_is_waited_exactly(no_sleep) -> None:
    script = Script([(429, {"Retry-After": "2"}), 200])
    async with client_for(script, no_sleep) as client:
        response = await client.get("/v1/scores")
    assert response.status_code == 200
    assert no_sleep.waits == [2.0]


async def test_retry_after_http_date_is_honoured(no_sleep) -> None:
    when = formatdate(WALL + 7, usegmt=True)
    script = Script([(503, {"Retry-After": when}), 200])
    async with client_for(script, no_sleep, wall=lambda: WALL) as client:
        assert (await client.get("/v1/scores")).status_code == 200
    assert no_sleep.waits == [7.0]


async def test_retry_after_is_capped_by_wait_max(no_sleep) -> None:
    far = formatdate(WALL + 3600, usegmt=True)
    script = Script([(429, {"Retry-After": far}), (429, {"Retry-After": "500"}), 200])
    async with client_for(script, no_sleep, wall=lambda: WALL, wait_max=30) as client:
        assert (await client.get("/v1/scores")).status_code == 200
    assert no_sleep.waits == [30.0, 30.0]


async def test_retry_after_in_the_past_means_no_wait(no_sleep) -> None:
    past = formatdate(WALL - 60, usegmt=True)
    script = Script([(503, {"Retry-After": past}), 200])
    async with client_for(script, no_sleep, wall=lambda: WALL) as client:
        assert (await client.get("/v1/scores")).status_code == 200
    assert no_sleep.waits == [0.0]


async def test_connect_error_is_retried(no_sleep) -> None:
    script = Script([httpx.ConnectError, httpx.ConnectTimeout, 200])
    async with client_for(script, no_sleep) as client:
        assert (await client.get("/v1/scores")).status_code == 200
    assert len(script.calls) == 3
    assert len(no_sleep.waits) == 2


async def test_read_timeout_on_a_read_is_retried(no_sleep) -> None:
    script = Script([httpx.ReadTimeout, httpx.RemoteProtocolError, 200])
    async with client_for(script, no_sleep) as client:
        assert (await client.get("/v1/scores")).status_code == 200
    assert len(script.calls) == 3


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_business_statuses_are_returned_untouched_without_retry(no_sleep, status) -> None:
    script = Script([status, 200])
    async with client_for(script, no_sleep) as client:
        response = await client.post("/v1/plans/p1/registrations", json={"a": 1})
    assert response.status_code == status
    assert len(script.calls) == 1
    assert no_sleep.waits == []
    assert client.stats.failures == 0


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_refusal_raises_once_and_touches_only_that_organization(
    no_sleep, status
) -> None:
    refused = Script([status])
    healthy = Script([200])
    async with (
        client_for(refused, no_sleep, organization="a", breaker_threshold=1) as a,
        client_for(healthy, no_sleep, organization="b") as b,
    ):
        with pytest.raises(AuthError) as caught:
            await a.get("/v1/scores")
        assert caught.value.organization == "a"
        assert str(status) in str(caught.value)
        # an adapter refreshing its token catches AuthError and tries again: not blocked
        with pytest.raises(AuthError):
            await a.get("/v1/scores")
        assert (await b.get("/v1/scores")).status_code == 200
    assert len(refused.calls) == 2
    assert no_sleep.waits == []
    assert a.breaker.state == "closed"  # credentials refused: the organization is up
    assert a.stats.failures == 2
    assert b.stats.failures == 0


async def test_token_refresh_pattern_works_through_the_layer(no_sleep) -> None:
    """The pattern the reference adapter uses: on AuthError refresh once and resend."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "fresh", "expires_in": 60})
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != "Bearer fresh":
            return httpx.Response(401)
        return httpx.Response(200, json={"items": []})

    async with client_for(httpx.MockTransport(handler), no_sleep) as client:
        token = "stale"
        try:
            response = await client.get("/v1/scores", headers={"Authorization": f"Bearer {token}"})
        except AuthError:
            token = (await client.post("/oauth/token", data={"x": "y"})).json()["access_token"]
            response = await client.get("/v1/scores", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"items": []}
    assert seen == ["Bearer stale", "Bearer fresh"]


async def test_post_without_key_read_timeout_is_outcome_unknown_after_one_call(no_sleep) -> None:
    script = Script([httpx.ReadTimeout, 201])
    async with client_for(script, no_sleep) as client:
        with pytest.raises(OutcomeUnknown) as caught:
            await client.post("/v1/plans/p1/registrations", json={"id": 1})
    assert len(script.calls) == 1
    assert no_sleep.waits == []
    assert caught.value.sent is True
    assert caught.value.organization == "org"
    assert client.stats.failures == 1


@pytest.mark.parametrize(
    "error", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout, httpx.WriteError]
)
async def test_post_without_key_failing_after_send_is_outcome_unknown(no_sleep, error) -> None:
    script = Script([error, 201])
    async with client_for(script, no_sleep) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post("/v1/plans/p1/registrations", json={"id": 1})
    assert len(script.calls) == 1


async def test_post_with_idempotency_key_is_retried_with_the_same_body(no_sleep) -> None:
    script = Script([httpx.ReadTimeout, 503, 201])
    async with client_for(script, no_sleep) as client:
        response = await client.post(
            "/v1/plans/p1/registrations",
            json={"candidates": [{"name": "张三"}]},
            headers={"Idempotency-Key": "xg1-abc"},
        )
    assert response.status_code == 201
    assert len(script.calls) == 3
    assert len(set(script.bodies)) == 1 and script.bodies[0]
    assert {c.headers["Idempotency-Key"] for c in script.calls} == {"xg1-abc"}


async def test_post_of_a_repeatable_operation_is_retried(no_sleep) -> None:
    script = Script([httpx.RemoteProtocolError, 200])
    async with client_for(
        script, no_sleep, repeatable=frozenset({"upload_registrations"})
    ) as client:
        response = await client.post(
            "/api/reg/upload",
            files={"file": ("reg.csv", "姓名\n张三\n".encode("gb18030"))},
            extensions={"xgate_operation": "upload_registrations"},
        )
    assert response.status_code == 200
    assert len(script.calls) == 2
    assert script.bodies[0] == script.bodies[1] and "张三".encode("gb18030") in script.bodies[0]


async def test_post_of_an_undeclared_operation_is_not_retried(no_sleep) -> None:
    script = Script([httpx.ReadTimeout, 200])
    async with client_for(script, no_sleep, repeatable=frozenset({"other"})) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post("/api/x", extensions={"xgate_operation": "upload_registrations"})
    assert len(script.calls) == 1


async def test_post_connect_failure_is_retried_because_nothing_was_sent(no_sleep) -> None:
    script = Script([httpx.ConnectError, 201])
    async with client_for(script, no_sleep) as client:
        assert (await client.post("/v1/plans/p1/registrations", json={})).status_code == 201
    assert len(script.calls) == 2


async def test_post_never_connecting_is_transient_and_not_sent(no_sleep) -> None:
    script = Script([httpx.ConnectError])
    async with client_for(script, no_sleep, attempts=3) as client:
        with pytest.raises(TransientError) as caught:
            await client.post("/v1/plans/p1/registrations", json={})
    assert type(caught.value) is TransientError
    assert caught.value.sent is False
    assert len(script.calls) == 3
    assert len(no_sleep.waits) == 2


async def test_post_sent_once_then_never_connecting_stays_unknown(no_sleep) -> None:
    script = Script([httpx.ReadTimeout, httpx.ConnectError])
    async with client_for(script, no_sleep, attempts=3) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post("/r", json={}, headers={"Idempotency-Key": "k"})
    assert len(script.calls) == 3


@pytest.mark.parametrize(
    ("status", "error", "sent"),
    [
        (503, TransientError, False),
        (429, RateLimitedError, False),
        (502, OutcomeUnknown, True),
        (504, OutcomeUnknown, True),
    ],
)
async def test_post_without_key_retryable_status_is_not_retried(
    no_sleep, status, error, sent
) -> None:
    script = Script([status, 201])
    async with client_for(script, no_sleep) as client:
        with pytest.raises(error) as caught:
            await client.post("/v1/plans/p1/registrations", json={})
    assert type(caught.value) is error
    assert caught.value.sent is sent
    assert len(script.calls) == 1


async def test_exhausted_503_raises_transient_after_all_attempts(no_sleep) -> None:
    script = Script([503])
    async with client_for(script, no_sleep, attempts=4) as client:
        with pytest.raises(TransientError) as caught:
            await client.get("/v1/scores")
    assert type(caught.value) is TransientError
    assert "503" in str(caught.value) and "4 attempts" in str(caught.value)
    assert len(script.calls) == 4
    assert len(no_sleep.waits) == 3
    assert client.stats.requests == 1
    assert client.stats.retries == 3
    assert client.stats.failures == 1


async def test_exhausted_429_raises_rate_limited_with_retry_after(no_sleep) -> None:
    script = Script([(429, {"Retry-After": "3"})])
    async with client_for(script, no_sleep, attempts=2) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.get("/v1/scores")
    assert caught.value.retry_after == 3.0
    assert no_sleep.waits == [3.0]
    assert len(script.calls) == 2


async def test_total_budget_stops_retrying_before_overrunning(no_sleep) -> None:
    script = Script([(503, {"Retry-After": "2"})])
    async with client_for(script, no_sleep, attempts=10, total_budget=5) as client:
        with pytest.raises(TransientError):
            await client.get("/v1/scores")
    assert no_sleep.waits == [2.0, 2.0]  # a third wait would end past the 5 s budget
    assert len(script.calls) == 3


async def test_500_is_returned_unless_the_policy_retries_it(no_sleep) -> None:
    plain = Script([500, 200])
    async with client_for(plain, no_sleep) as client:
        assert (await client.get("/v1/scores")).status_code == 500
    assert len(plain.calls) == 1
    retrying = Script([500, 200])
    async with client_for(retrying, no_sleep, retry_500=True) as client:
        assert (await client.get("/v1/scores")).status_code == 200
    assert len(retrying.calls) == 2


async def test_backoff_is_exponential_jittered_capped_and_reproducible(no_sleep) -> None:
    waits = []
    for _ in range(2):
        no_sleep.waits.clear()
        script = Script([503, 503, 503, 503, 200])
        async with client_for(
            script, no_sleep, wait_base=1, wait_max=3, rng=random.Random(7)
        ) as client:
            assert (await client.get("/v1/scores")).status_code == 200
        waits.append(list(no_sleep.waits))
    first = waits[0]
    assert waits[1] == first  # same seed, same waits
    bounds = [(0.5, 1), (1, 2), (1.5, 3), (1.5, 3)]  # steps 1, 2, 4->3, 8->3 with equal jitter
    assert len(first) == 4
    for wait, (low, high) in zip(first, bounds, strict=True):
        assert low <= wait <= high
    assert len(set(first)) == 4  # jittered, not constant


async def test_unrelated_local_errors_pass_through_unchanged(no_sleep) -> None:
    script = Script([httpx.UnsupportedProtocol])
    async with client_for(script, no_sleep) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("/v1/scores")
    assert len(script.calls) == 1
    assert client.breaker.failures == 0
