"""The resilient transport: retries, limits, circuit breaker and attempt logging.

It wraps the real transport (``httpx.AsyncHTTPTransport``, or a mock in tests), so every
request an adapter makes through its client passes here and adapters stay plain httpx code.
httpx documents transports as the extension point for exactly this kind of cross-cutting
behaviour; doing it here rather than around ``client.send`` means redirects, auth flows and
streaming keep working unchanged.

What the layer does with each outcome (see ``docs/http.md`` for the table):

- returns the response for every status it does not own (2xx-4xx except 401/403/429; 500
  unless ``retry_500``), so adapters map business refusals themselves;
- retries connection failures, timeouts, 429 and 502/503/504 (and 500 with ``retry_500``),
  for reads always, for writes only when repeating them is harmless;
- raises ``AuthError`` on 401/403 (an adapter that refreshes tokens catches it once), and the
  typed transient errors when it gives up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState

from gateway.errors import (
    AuthError,
    OutcomeUnknown,
    RateLimitedError,
    TransientError,
)
from gateway.http import classify
from gateway.http.breaker import CircuitBreaker
from gateway.http.logline import log_attempt, path_template
from gateway.masking import mask_text
from gateway.settings import HttpPolicy

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RequestStats:
    """What one organization's client did; sync and delivery reports print these.

    ``requests`` counts logical requests (what the adapter asked for), ``retries`` the extra
    attempts the layer made, ``failures`` requests that ended in an error raised by the layer,
    ``waited`` the seconds spent in backoff.
    """

    requests: int = 0
    retries: int = 0
    failures: int = 0
    waited: float = 0.0


class ResilientTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that makes one organization's requests resilient."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        organization: str,
        policy: HttpPolicy,
        repeatable: Collection[str] = frozenset(),
        sleep: Sleep = asyncio.sleep,
        breaker: CircuitBreaker,
        limiter: AbstractAsyncContextManager[Any] | None = None,
        stats: RequestStats | None = None,
        rng: random.Random | None = None,
        wall: Callable[[], float] = time.time,
        secrets: Collection[str] = (),
    ) -> None:
        self.inner = inner
        self.organization = organization
        self.policy = policy
        self.repeatable = frozenset(repeatable)
        self.sleep = sleep
        self.breaker = breaker
        self.limiter = limiter
        self.semaphore = asyncio.Semaphore(policy.max_concurrency)
        self.stats = stats if stats is not None else RequestStats()
        self.rng = rng if rng is not None else random.Random()
        self.wall = wall
        self.secrets = tuple(secrets)
        self.retry_statuses = classify.retry_statuses(policy.retry_500)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.stats.requests += 1
        try:
            trial = self.breaker.admit()
        except Exception:
            self.stats.failures += 1
            raise
        verdict: bool | None = None
        try:
            response = await _Exchange(self, request).run()
            verdict = True
            return response
        except AuthError:
            self.stats.failures += 1
            verdict = True  # the organization answered: it is up, only our credentials are not
            raise
        except TransientError:
            self.stats.failures += 1
            verdict = False
            raise
        finally:
            self.breaker.settle(trial, verdict)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Exchange:
    """One logical request: its attempts, and what we learnt about whether it was sent."""

    def __init__(self, transport: ResilientTransport, request: httpx.Request) -> None:
        self.t = transport
        self.request = request
        self.path = path_template(request.url.path)
        self.repeatable = classify.may_repeat(request, transport.repeatable)
        self.maybe_sent = False  # some attempt may have reached the organization
        self.attempts = 0

    async def run(self) -> httpx.Response:
        # Buffer the body so a retry can send it again (streams are single-use).
        await self.request.aread()
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=self._stop,
            wait=self._wait,
            retry=self._should_retry,
            before_sleep=self._discard,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        try:
            response: httpx.Response = await retrying(self._attempt)
        except httpx.TransportError as exc:
            mapped = self._transport_failure(exc)
            if mapped is None:
                raise  # a local mistake (bad URL scheme, protocol misuse): not the organization's
            raise mapped from exc
        status = response.status_code
        if status in classify.AUTH_STATUSES:
            await response.aclose()
            raise AuthError(
                f"{self.t.organization}: {self.request.method} {self.path}: HTTP {status} "
                "(credentials refused)",
                organization=self.t.organization,
            )
        if status in self.t.retry_statuses:
            await response.aclose()
            raise self._status_failure(response)
        return response

    async def _attempt(self) -> httpx.Response:
        self.attempts += 1
        if self.attempts > 1:
            self.t.stats.retries += 1
        limiter = self.t.limiter if self.t.limiter is not None else nullcontext()
        async with self.t.semaphore, limiter:
            started = time.perf_counter()
            try:
                response = await self.t.inner.handle_async_request(self.request)
            except httpx.TransportError as exc:
                if not classify.not_sent(exc):
                    self.maybe_sent = True
                self._log(started, error=type(exc).__name__)
                raise
        status = response.status_code
        if status in self.t.retry_statuses and status not in classify.REFUSED_STATUSES:
            self.maybe_sent = True
        self._log(started, status=status)
        return response

    def _log(self, started: float, *, status: int | None = None, error: str | None = None) -> None:
        log_attempt(
            organization=self.t.organization,
            method=self.request.method,
            path=self.path,
            attempt=self.attempts,
            duration_ms=(time.perf_counter() - started) * 1000,
            status=status,
            error=error,
        )

    # tenacity callbacks -------------------------------------------------------------------

    def _should_retry(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        if outcome.failed:
            exc = outcome.exception()
            if exc is None:
                return False
            if classify.not_sent(exc):
                return True  # nothing left this machine: repeating cannot duplicate anything
            return classify.maybe_sent(exc) and self.repeatable
        response: httpx.Response = outcome.result()
        return response.status_code in self.t.retry_statuses and self.repeatable

    def _wait(self, state: RetryCallState) -> float:
        policy = self.t.policy
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = classify.retry_after(outcome.result().headers, self.t.wall)
            if asked is not None:
                return min(asked, policy.wait_max)
        # Exponential backoff with "equal jitter": half the step fixed, half random, so
        # clients that failed together do not come back together, yet never retry instantly.
        step = min(policy.wait_max, policy.wait_base * 2.0 ** (state.attempt_number - 1))
        return step / 2 + self.t.rng.uniform(0.0, step / 2)

    def _stop(self, state: RetryCallState) -> bool:
        policy = self.t.policy
        if state.attempt_number >= policy.attempts:
            return True
        # With an injected sleep the monotonic clock does not move, so count the waits too.
        spent = max(state.seconds_since_start or 0.0, state.idle_for)
        return spent + state.upcoming_sleep > policy.total_budget

    async def _discard(self, state: RetryCallState) -> None:
        """Before waiting to retry a status, release the response we will not use."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            await outcome.result().aclose()

    async def _sleep(self, seconds: float) -> None:
        self.t.stats.waited += seconds
        await self.t.sleep(seconds)

    # mapping to typed errors ----------------------------------------------------------------

    def _where(self) -> str:
        tries = f"{self.attempts} attempt" + ("s" if self.attempts != 1 else "")
        return f"{self.t.organization}: {self.request.method} {self.path} ({tries})"

    def _transport_failure(self, exc: httpx.TransportError) -> TransientError | None:
        org = self.t.organization
        detail = mask_text(f"{type(exc).__name__}: {exc}".rstrip(": "), self.t.secrets)
        if self.maybe_sent and not classify.is_read(self.request):
            return OutcomeUnknown(
                f"{self._where()}: {detail} after the request may have been received; "
                "the outcome is unknown",
                organization=org,
            )
        if classify.not_sent(exc) or classify.maybe_sent(exc):
            return TransientError(
                f"{self._where()}: {detail}", organization=org, sent=self.maybe_sent
            )
        return None

    def _status_failure(self, response: httpx.Response) -> TransientError:
        org = self.t.organization
        status = response.status_code
        where = f"{self._where()}: HTTP {status}"
        if self.maybe_sent and not classify.is_read(self.request):
            return OutcomeUnknown(f"{where}; the outcome is unknown", organization=org)
        if status == 429:
            return RateLimitedError(
                f"{where}: rate limited",
                retry_after=classify.retry_after(response.headers, self.t.wall),
                organization=org,
            )
        return TransientError(where, organization=org, sent=self.maybe_sent)
