"""Network faults injected *under* the core's resilient transport.

The kit puts a ``FaultyTransport`` between the core's ``ResilientTransport`` and the sandbox,
so an adapter meets failures exactly where production meets them: the retries, typed errors and
idempotency rules of ``gateway.http`` apply unchanged, and a plugin passes only if it lets them
work (uses ``context.http``, lets the layer's errors propagate, marks writes repeatable
honestly).

Faults are deterministic (every other logical request fails its first attempt), so a failing
kit run fails the same way when it is run again.
"""

from __future__ import annotations

from collections import Counter

import httpx

from gateway.http.classify import READ_METHODS

#: Read faults in rotation: each is one the core's layer retries for reads.
READ_FAULTS = ("503", "connect", "502", "read-reset", "429")


class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards to ``inner``, failing attempts on purpose.

    ``flaky``: the first attempt of every other request fails; reads get 503, 502, 429
    (``Retry-After: 0``), a connection refused or a connection reset, writes only a connection
    refused (nothing sent, so the layer retries any write). ``lose_answers``: the next N writes
    reach the organization, which acts on them, and then the answer is lost (a reset after
    the organization answered), the case that makes naive retries register someone twice.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, owns_inner: bool, flaky: bool = False
    ) -> None:
        self.inner = inner
        self.owns_inner = owns_inner
        self.flaky = flaky
        self.lose_answers = 0
        self.requests = 0  # logical requests (first attempts)
        self.attempts = 0
        self.writes = 0
        self.injected: Counter[str] = Counter()
        self._seen: dict[int, httpx.Request] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        first = id(request) not in self._seen
        is_write = request.method.upper() not in READ_METHODS
        if first:
            self._seen[id(request)] = request  # kept alive, so ids are never reused
            self.requests += 1
            self.writes += is_write
        if first and is_write and self.lose_answers > 0:
            self.lose_answers -= 1
            response = await self.inner.handle_async_request(request)
            await response.aread()
            await response.aclose()
            self.injected["answer lost after the organization acted"] += 1
            raise httpx.ReadError("connection reset after the answer was sent", request=request)
        if first and self.flaky and self.requests % 2 == 1:
            return self._fail(request, is_write)
        return await self.inner.handle_async_request(request)

    def _fail(self, request: httpx.Request, is_write: bool) -> httpx.Response:
        fault = "connect" if is_write else READ_FAULTS[(self.requests // 2) % len(READ_FAULTS)]
        self.injected[fault] += 1
        if fault == "connect":
            raise httpx.ConnectError("connection refused (injected)", request=request)
        if fault == "read-reset":
            raise httpx.ReadError("connection reset (injected)", request=request)
        headers = {"Retry-After": "0"} if fault == "429" else {}
        return httpx.Response(int(fault), headers=headers, text="injected", request=request)

    async def aclose(self) -> None:
        if self.owns_inner:
            await self.inner.aclose()
