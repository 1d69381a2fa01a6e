"""Running one conformance check: a sandbox, adapters built as the gateway builds them, a loop.

Each check gets a fresh ``Session``: the sandbox is started inside the check's own event loop,
and every adapter the check asks for is built by ``gateway.runtime.build_organization`` (the
same code path as ``xgate sync``) with an HTTP client whose network is the sandbox behind a
``FaultyTransport``. Waits are recorded, never slept, so checks take milliseconds. Checks report
problems by raising ``KitFailure`` with what is wrong and how to fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from gateway.contract import CAPABILITY_METHODS, Capability, OrganizationSpec, missing_methods
from gateway.errors import ConfigurationError, PluginError
from gateway.http import OrgClient
from gateway.keys import lookup_hash
from gateway.masking import mask_text
from gateway.models import Candidate, ExamPlan
from gateway.plugins import LoadedSpec
from gateway.runtime import build_organization
from gateway.settings import HttpPolicy, OrganizationSettings
from gateway.testing.faults import FaultyTransport
from gateway.testing.sandbox import Sandbox
from gateway.testing.sleep import RecordingSleep

DOCS = "docs/plugins.md"
KIT_LOOKUP_KEY = b"xgate-conformance-kit-lookup-key!"  # fixed: the kit is not a deployment
T = TypeVar("T")

#: The core's resilience, tightened for tests: enough attempts to outlast injected faults, a
#: breaker that never opens on them, and waits that are recorded rather than slept.
KIT_POLICY = HttpPolicy(
    attempts=4, wait_base=0.01, wait_max=0.05, total_budget=60.0, breaker_threshold=1000
)


class KitFailure(AssertionError):
    """A conformance problem: what is wrong, how to fix it, where the contract says so."""

    def __init__(self, problem: str, *, fix: str = "", see: str = "") -> None:
        text = problem
        if fix:
            text += f"\n  fix: {fix}"
        if see:
            text += f"\n  see: {DOCS}#{see}"
        super().__init__(mask_text(text))


class KitSkip(Exception):
    """The check does not apply to this plugin (a capability it does not declare)."""


@dataclass
class Built:
    """One adapter with its client and the fault injector under that client."""

    adapter: Any
    client: OrgClient
    faults: FaultyTransport


class Session:
    """What a check works with: the spec, the sandbox, and adapters built on demand."""

    def __init__(
        self, spec: OrganizationSpec, sandbox: Sandbox, overrides: dict[str, Any] | None = None
    ) -> None:
        self.spec = spec
        self.sandbox = sandbox
        self.overrides = dict(overrides or {})
        self.organization = sandbox.organization
        self._sleep = RecordingSleep()
        self.waits: list[float] = self._sleep.waits
        self.built: list[Built] = []
        self._network: httpx.AsyncHTTPTransport | None = None

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    def settings(self) -> dict[str, Any]:
        return {**self.sandbox.settings(), **self.overrides}

    def build(self, *, flaky: bool = False) -> Built:
        """A new adapter (as a restarted process would have), through the core's factory path.

        Declared capabilities are checked by ``test_declared_capabilities_are_implemented``
        alone, so one missing method does not fail every other check too.
        """
        inner = self.sandbox.transport
        if inner is None:  # one real transport per session: each builds an SSL context (slow)
            if self._network is None:
                self._network = httpx.AsyncHTTPTransport()
            inner = self._network
        faults = FaultyTransport(inner, owns_inner=False, flaky=flaky)
        loaded = LoadedSpec(
            spec=dataclasses.replace(self.spec, capabilities=frozenset()),
            plugin=self.spec.name,
            distribution=None,
        )
        try:
            org_settings = OrganizationSettings(
                plugin=self.spec.name, http=KIT_POLICY, **self.settings()
            )
            org = build_organization(
                self.organization,
                loaded,
                org_settings,
                sleep=self.sleep,
                transport=faults,
            )
        except ConfigurationError as exc:
            raise KitFailure(
                f"the sandbox's settings do not validate with {self.spec.settings_model.__name__}:"
                f" {exc}",
                fix="make Sandbox.settings() return valid settings for your settings model",
                see="settings",
            ) from None
        except PluginError as exc:
            raise KitFailure(
                f"the adapter factory failed: {exc.detail}",
                fix="OrganizationSpec.factory(settings, context) must return the adapter",
                see="the-adapter",
            ) from None
        built = Built(org.adapter, org.client, faults)
        self.built.append(built)
        return built

    def adapter(self, *, flaky: bool = False) -> Any:
        return self.build(flaky=flaky).adapter

    def implements(self, capability: Capability) -> bool:
        """Declared and every method present (on a probe adapter)."""
        if capability not in self.spec.capabilities:
            return False
        probe = self.built[0].adapter if self.built else self.adapter()
        return not missing_methods(probe, frozenset({capability}))

    def require(self, *capabilities: Capability) -> None:
        for capability in capabilities:
            if capability not in self.spec.capabilities:
                raise KitSkip(f"the plugin does not declare the {capability.value!r} capability")
            if not self.implements(capability):
                methods = ", ".join(CAPABILITY_METHODS[capability])
                raise KitSkip(
                    f"{capability.value!r} is declared but {methods} is missing "
                    "(reported by test_declared_capabilities_are_implemented)"
                )

    def streams(self) -> list[str]:
        out = [c.value for c in (Capability.SCORES, Capability.CERTIFICATES) if self.implements(c)]
        if not out:
            raise KitSkip("the plugin declares no stream (scores, certificates)")
        return out

    def key(self, plan: ExamPlan, candidate: Candidate, kind: str = "register") -> str:
        """The idempotency key the core would give this person and plan."""
        from gateway.idempotency import issue_key
        from gateway.outbox import idempotency_key

        make = issue_key if kind == "issue" else idempotency_key
        return make(self.organization, plan.code, lookup_hash(candidate.id_number, KIT_LOOKUP_KEY))

    async def aclose(self) -> None:
        for built in self.built:
            close = getattr(built.adapter, "aclose", None)
            if callable(close):
                with contextlib.suppress(Exception):  # a close error must not hide the verdict
                    await close()
            await built.client.aclose()
        self.built.clear()
        if self._network is not None:
            await self._network.aclose()
            self._network = None


Check = Callable[[Session], Awaitable[None]]


async def call(what: str, awaitable: Awaitable[T], *, fix: str = "") -> T:
    """Await an adapter call against a healthy sandbox: any exception is the plugin's fault."""
    try:
        return await awaitable
    except (KitFailure, KitSkip):
        raise
    except NotImplementedError:
        raise KitFailure(
            f"{what} raised NotImplementedError",
            fix="implement it, or remove the capability from OrganizationSpec.capabilities",
            see="capabilities",
        ) from None
    except Exception as exc:
        raise KitFailure(
            f"{what} raised {type(exc).__name__}: {exc} (the sandbox is healthy here)",
            fix=fix or "map the organization's answer; raise only for real failures",
            see="errors",
        ) from None


def run_check(
    check: Check,
    spec: OrganizationSpec,
    sandbox: Sandbox,
    overrides: dict[str, Any] | None = None,
) -> None:
    """Run one check in a fresh event loop with a started sandbox; raise its verdict."""

    async def main() -> None:
        session = Session(spec, sandbox, overrides)
        await sandbox.start()
        try:
            await check(session)
        except NotImplementedError as exc:
            if str(exc).startswith("Sandbox."):
                raise KitFailure(
                    f"the sandbox lacks what this check needs: {exc}",
                    fix="implement that method on your Sandbox subclass",
                    see="the-sandbox",
                ) from None
            raise
        finally:
            try:
                await session.aclose()
            finally:
                await sandbox.stop()

    asyncio.run(main())
