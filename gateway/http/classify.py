"""What kind of request and what kind of failure: the facts the retry decision rests on.

Kept apart from the transport so the rules (which methods are reads, which failures happened
before the request left, which statuses are worth another try) read as a table, and so
``docs/http.md`` can point at one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

#: Methods without side effects at the organization: retried freely.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Headers that make a write safe to repeat (the organization de-duplicates by them).
IDEMPOTENCY_HEADERS = ("Idempotency-Key", "X-Idempotency-Key")

#: Request extension naming the adapter operation; matched against ``OrganizationSpec.repeatable``.
OPERATION_EXTENSION = "xgate_operation"

#: Statuses worth another try. 500 joins them only when the policy says so (``retry_500``).
RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: Statuses by which the organization says "not processed, come back later": a write that got
#: one has certainly not taken effect, unlike a 500/502/504, which a proxy or a crashing
#: handler may send after the work was done.
REFUSED_STATUSES = frozenset({429, 503})

#: Statuses the layer raises ``AuthError`` for (never retried).
AUTH_STATUSES = frozenset({401, 403})

#: Failures that happened before any byte of the request left: always safe to try again.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)

#: Failures after the request (or part of it) was written: the organization may have acted.
MAYBE_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.CloseError,
)


def is_read(request: httpx.Request) -> bool:
    return request.method.upper() in READ_METHODS


def may_repeat(request: httpx.Request, repeatable: Collection[str]) -> bool:
    """Whether sending this request twice is harmless, so failures after sending may retry."""
    if is_read(request):
        return True
    if any(request.headers.get(name) for name in IDEMPOTENCY_HEADERS):
        return True
    operation = request.extensions.get(OPERATION_EXTENSION)
    return isinstance(operation, str) and operation in repeatable


def retry_statuses(retry_500: bool) -> frozenset[int]:
    return RETRY_STATUSES | {500} if retry_500 else RETRY_STATUSES


def not_sent(exc: BaseException) -> bool:
    return isinstance(exc, NOT_SENT_ERRORS)


def maybe_sent(exc: BaseException) -> bool:
    return isinstance(exc, MAYBE_SENT_ERRORS)


def retry_after(headers: httpx.Headers, wall: Callable[[], float]) -> float | None:
    """Seconds the organization asks us to wait, from either form of ``Retry-After``.

    ``wall`` is the epoch clock an HTTP-date is measured against (injected so tests are exact).
    Unparsable values are ignored (the backoff applies) rather than trusted or fatal.
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are GMT regardless
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - wall())
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
