"""The organization plugin contract: what a plugin contributes and what an adapter implements.

A plugin contributes ``OrganizationSpec`` objects through the ``xgate_register_organizations``
hook. The core validates the spec, builds the adapter's settings with the spec's own pydantic
model, builds an ``httpx.AsyncClient`` with retries and limits, and calls ``factory(settings,
context)``. Adapters are plain async objects; they never touch the database or settings files.

Versioning: ``PLUGIN_API_VERSION`` is ``MAJOR.MINOR``. A plugin declares the version it was
built for in ``OrganizationSpec.api_version``. Same major and a minor no newer than the core's:
accepted. Anything else: refused with a message naming both versions. Minor versions only add
(optional hooks, optional capabilities, optional model fields); a major version may remove.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import httpx
from pydantic import BaseModel

from gateway.models import (
    CertificateRecord,
    ExamPlan,
    IssueOutcome,
    IssueRequest,
    RegistrationOutcome,
    RegistrationRequest,
    ScoreRecord,
    Verification,
)

PLUGIN_API_VERSION = "1.1"


class Capability(StrEnum):
    REGISTER = "register"
    SCORES = "scores"
    CERTIFICATES = "certificates"
    ISSUE = "issue"
    VERIFY = "verify"
    WEBHOOKS = "webhooks"


#: The adapter methods each capability requires.
CAPABILITY_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.REGISTER: ("register", "lookup_registration"),
    Capability.SCORES: ("scores",),
    Capability.CERTIFICATES: ("certificates",),
    Capability.ISSUE: ("issue",),
    Capability.VERIFY: ("verify",),
    Capability.WEBHOOKS: ("parse_webhook",),
}

#: Streams the sync job reads, by capability.
STREAMS: dict[Capability, str] = {
    Capability.SCORES: "scores",
    Capability.CERTIFICATES: "certificates",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Invalid:
    """A record the adapter could not map: kept raw so the core can quarantine it."""

    payload: Any
    reason: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a stream.

    ``records`` hold canonical models or plain mappings in canonical field names (the core
    validates mappings, quarantining any that fail); ``Invalid`` items are quarantined as they
    are. ``next_cursor`` is the position *after* this page: the core stores it in the same
    transaction as the page's records, so resuming from it must yield every record not in
    this page or an earlier one, even if the organization changed data in between. ``None``
    means the stream is exhausted for now (the core keeps the last non-None cursor).

    ``complete`` (API 1.1), set on the *last* page of a read: the pages this call of the
    stream method yielded, from its first to this one, listed every record the organization
    holds now (a snapshot). Only then may the core conclude that a certificate missing from the
    read was withdrawn. Never set it on a read that started from a resumed cursor, a ``since``
    cursor, or one filtered in any way.
    """

    records: Sequence[T | Mapping[str, Any] | Invalid]
    next_cursor: str | None
    raw_size: int = 0
    complete: bool = False


@dataclass
class AdapterContext:
    """What the core hands an adapter. Use ``http`` for every request so retries, limits,
    timeouts and masked logging apply; use ``sleep`` and ``now`` rather than asyncio's and
    datetime's so tests can drive time."""

    organization: str
    http: httpx.AsyncClient
    logger: logging.Logger
    sleep: Callable[[float], Awaitable[None]]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    salt: str = ""


@runtime_checkable
class Adapter(Protocol):
    """Marker protocol; what an adapter must implement depends on its declared capabilities."""


@runtime_checkable
class RegisterAdapter(Protocol):
    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> Sequence[RegistrationOutcome]:
        """One outcome per request (same ``idempotency_key``). A request missing from the
        answer is treated as unknown and reconciled with ``lookup_registration``. Raise a
        transient error when the whole batch failed before anything reached the organization."""
        ...

    async def lookup_registration(
        self, plan: ExamPlan, request: RegistrationRequest
    ) -> RegistrationOutcome | None:
        """Ask the organization whether this candidate is registered for this plan; ``None``
        means certainly not (the core may then send again)."""
        ...


@runtime_checkable
class SinceAdapter(Protocol):
    """Optional (any stream adapter): a cursor that starts a stream at a moment in time, so
    ``xgate sync --since DATE`` can re-read a window without a full re-read."""

    def cursor_since(self, stream: str, since: datetime) -> str: ...


@runtime_checkable
class ScoresAdapter(Protocol):
    def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]: ...


@runtime_checkable
class CertificatesAdapter(Protocol):
    def certificates(self, cursor: str | None) -> AsyncIterator[Page[CertificateRecord]]: ...


@runtime_checkable
class IssueAdapter(Protocol):
    async def issue(self, requests: Sequence[IssueRequest]) -> Sequence[IssueOutcome]: ...


@runtime_checkable
class VerifyAdapter(Protocol):
    async def verify(self, number: str, holder_name: str | None = None) -> Verification: ...


@runtime_checkable
class WebhookAdapter(Protocol):
    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[ScoreRecord | CertificateRecord]: ...


@runtime_checkable
class ClosableAdapter(Protocol):
    """Optional (any adapter): ``aclose()`` is awaited when the gateway shuts down."""

    async def aclose(self) -> None: ...


#: The capability Protocols, by capability: ``gateway.runtime.Organization`` hands the core
#: the adapter typed by the one its operation needs (and checks it was declared).
CAPABILITY_PROTOCOLS: dict[Capability, type] = {
    Capability.REGISTER: RegisterAdapter,
    Capability.SCORES: ScoresAdapter,
    Capability.CERTIFICATES: CertificatesAdapter,
    Capability.ISSUE: IssueAdapter,
    Capability.VERIFY: VerifyAdapter,
    Capability.WEBHOOKS: WebhookAdapter,
}

#: ``factory(settings, context)``: ``settings`` is an instance of the spec's own settings
#: model; the adapter returned implements the Protocols of the declared capabilities.
AdapterFactory = Callable[[Any, AdapterContext], Adapter]


@dataclass(frozen=True)
class OrganizationSpec:
    """One organization type a plugin provides.

    ``name`` is the adapter name used in ``xgate.toml`` (``plugin = "name"``); ``settings_model``
    validates that organization's section; ``factory(settings, context)`` returns the adapter.
    ``repeatable`` lists operations that are safe to send twice (the HTTP layer then retries
    their writes even without an idempotency key).
    """

    name: str
    title: str
    version: str
    capabilities: frozenset[Capability]
    settings_model: type[BaseModel]
    factory: AdapterFactory
    api_version: str = PLUGIN_API_VERSION
    batch_size: int = 100
    repeatable: frozenset[str] = frozenset()
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "capabilities", frozenset(Capability(c) for c in self.capabilities)
        )


def api_compatible(plugin_version: str, core_version: str = PLUGIN_API_VERSION) -> bool:
    try:
        p_major, p_minor = (int(x) for x in plugin_version.split(".")[:2])
        c_major, c_minor = (int(x) for x in core_version.split(".")[:2])
    except ValueError:
        return False
    return p_major == c_major and p_minor <= c_minor


def missing_methods(adapter: object, capabilities: frozenset[Capability]) -> list[str]:
    """Methods a declared capability needs that the adapter does not provide."""
    missing = []
    for cap in sorted(capabilities):
        for method in CAPABILITY_METHODS[cap]:
            if not callable(getattr(adapter, method, None)):
                missing.append(f"{method} (for capability {cap.value!r})")
    return missing


def missing_methods_on_class(
    factory: AdapterFactory, capabilities: frozenset[Capability]
) -> list[str]:
    """Same check before instantiation when the factory is a class (``plugins check``)."""
    if isinstance(factory, type):
        return missing_methods(factory, capabilities)
    return []
