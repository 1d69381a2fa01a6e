"""Building the per-organization client the core hands to each adapter.

One ``OrgClient`` per organization, so limits, the circuit breaker and the counters of one
organization never affect another: a failing or throttled organization pauses alone.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from gateway.http.breaker import CircuitBreaker
from gateway.http.transport import RequestStats, ResilientTransport
from gateway.masking import HTTP_LOGGERS, add_secrets, mask_loggers
from gateway.settings import HttpPolicy


class OrgClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose requests go through the core's resilient transport.

    Adapters use it like any httpx client. The extra attributes are for the core: ``stats``
    for run reports, ``breaker`` to report a paused organization, ``limiter`` and ``policy``.
    """

    def __init__(self, *, organization: str, resilient: ResilientTransport, **kwargs: Any) -> None:
        super().__init__(transport=resilient, **kwargs)
        self.organization = organization
        self.resilient = resilient

    async def send(
        self, request: httpx.Request, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """httpx's ``send``; a response read whole leaves httpx's reference cycle at once.

        httpx binds a response's stream to the response (stream -> response -> stream), so
        every response is freed only by the cyclic collector, with its body: a page of 500
        records is about 170 KB. Once the body is read (not ``stream=True``), the stream is
        replaced by the body itself and the response is freed as soon as nothing uses it,
        whatever the collector's thresholds (``gateway.heap``).
        """
        response = await super().send(request, stream=stream, **kwargs)
        if not stream:
            response.stream = httpx.ByteStream(response.content)
        return response

    @property
    def stats(self) -> RequestStats:
        return self.resilient.stats

    @property
    def breaker(self) -> CircuitBreaker:
        return self.resilient.breaker

    @property
    def limiter(self) -> AsyncLimiter | None:
        limiter = self.resilient.limiter
        return limiter if isinstance(limiter, AsyncLimiter) else None

    @property
    def policy(self) -> HttpPolicy:
        return self.resilient.policy


def rate_limiter(rate_per_second: float | None) -> AsyncLimiter | None:
    """A leaky bucket for ``rate_per_second``; rates below 1/s become one request per period
    (aiolimiter cannot acquire more than its capacity, so capacity must stay >= 1)."""
    if rate_per_second is None:
        return None
    if rate_per_second >= 1:
        return AsyncLimiter(rate_per_second, 1.0)
    return AsyncLimiter(1, 1.0 / rate_per_second)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every organization's client in this process (and the
    reader processes forked from it): building one loads the CA bundle, about 20 ms of CPU,
    which ten organizations paid ten times at start-up and each reader process again. The
    context is what httpx builds by default (``httpx.create_ssl_context()``: certifi's bundle,
    or ``SSL_CERT_FILE``/``SSL_CERT_DIR``); contexts are made to be shared by connections."""
    return httpx.create_ssl_context()


def build_client(
    organization: str,
    policy: HttpPolicy,
    *,
    base_url: str = "",
    repeatable: frozenset[str] = frozenset(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    secrets: Iterable[str] = (),
    now: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    rng: random.Random | None = None,
) -> OrgClient:
    """The client for one organization.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport`` or respx);
    ``sleep`` is used for every backoff wait; ``now`` (monotonic) drives the circuit breaker's
    cool-down and ``wall`` (epoch seconds) dates in ``Retry-After``; ``rng`` makes the backoff
    jitter reproducible. ``secrets`` are added to the log masking filter.
    """
    secret_list = [s for s in secrets if s]
    add_secrets(secret_list)
    mask_loggers(*HTTP_LOGGERS, "xgate.http")
    inner = transport if transport is not None else httpx.AsyncHTTPTransport(verify=tls_context())
    resilient = ResilientTransport(
        inner,
        organization=organization,
        policy=policy,
        repeatable=repeatable,
        sleep=sleep,
        breaker=CircuitBreaker(
            organization,
            threshold=policy.breaker_threshold,
            cooldown=policy.breaker_cooldown,
            now=now,
        ),
        limiter=rate_limiter(policy.rate_per_second),
        stats=RequestStats(),
        rng=rng,
        wall=wall,
        secrets=secret_list,
    )
    timeout = httpx.Timeout(policy.timeout, connect=policy.connect_timeout)
    return OrgClient(
        organization=organization, resilient=resilient, base_url=base_url, timeout=timeout
    )
