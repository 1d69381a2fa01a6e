"""A response read whole is freed by reference counting, not left to the cyclic collector with
its body (``OrgClient.send``): a sync's pages must not pile up between collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import httpx
import pytest

from tests.test_http_support import client_for

BODY = b'{"data": [' + b",".join(b'{"n": %d}' % n for n in range(500)) + b"]}"


@pytest.fixture
def no_collector() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def test_a_read_response_is_freed_without_the_collector(no_sleep, no_collector) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    async with client_for(transport, no_sleep) as client:
        response = await client.get("/v1/scores")
        assert response.json()["data"][499] == {"n": 499}  # still readable as before
        assert await response.aread() == BODY and response.is_closed
        gone = weakref.ref(response)
        del response
        assert gone() is None  # no cycle: freed the moment the last reference went


async def test_a_streamed_response_is_left_to_httpx(no_sleep, no_collector) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    async with (
        client_for(transport, no_sleep) as client,
        client.stream("GET", "/v1/file") as response,
    ):
        assert b"".join([chunk async for chunk in response.aiter_bytes()]) == BODY
