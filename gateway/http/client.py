"""Building the per-organization client (placeholder until the resilient layer lands)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

from gateway.settings import HttpPolicy


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    failures: int = 0


class OrgClient(httpx.AsyncClient):
    """An httpx client that knows its organization and counts what it did."""

    organization: str
    stats: RequestStats


def build_client(
    organization: str,
    policy: HttpPolicy,
    *,
    base_url: str = "",
    repeatable: frozenset[str] = frozenset(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    secrets: Iterable[str] = (),
) -> OrgClient:
    timeout = httpx.Timeout(policy.timeout, connect=policy.connect_timeout)
    client = OrgClient(base_url=base_url, timeout=timeout, transport=transport)
    client.organization = organization
    client.stats = RequestStats()
    return client
