"""The assembled gateway: settings, plugins, database and one adapter per organization.

Commands open a ``Gateway`` with ``open_gateway``; tests build one from explicit parts.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway import heap
from gateway.catalogue import Catalogue, load_catalogue
from gateway.contract import (
    Adapter,
    AdapterContext,
    Capability,
    CertificatesAdapter,
    ClosableAdapter,
    IssueAdapter,
    OrganizationSpec,
    Page,
    RegisterAdapter,
    ScoresAdapter,
    SinceAdapter,
    VerifyAdapter,
    WebhookAdapter,
    missing_methods,
)
from gateway.errors import ConfigurationError, PluginError
from gateway.http import OrgClient, build_client
from gateway.keys import Keys, bind, load, resolve_path
from gateway.masking import add_secrets
from gateway.plugins import LoadedSpec, PluginHost, load_plugins
from gateway.privacy import seal_pending
from gateway.reader_process import ReaderProcess
from gateway.settings import (
    OrganizationSettings,
    Settings,
    load_settings,
    plugin_settings,
    secret_values,
)
from gateway.store import Database, open_database

log = logging.getLogger("xgate")


@dataclass
class Organization:
    """One configured organization, its plugin spec, adapter and HTTP client.

    The core reaches the adapter only through the typed views below (``registrar()``,
    ``reader(stream)``, ``issuer()``...): each checks the capability was declared and returns
    the adapter as that capability's Protocol, so a call the plugin cannot answer is a clear
    ``PluginError`` naming it, never an ``AttributeError`` deep in the sync.
    """

    name: str
    spec: OrganizationSpec
    settings: OrganizationSettings
    adapter: Adapter
    client: OrgClient

    def can(self, capability: Capability) -> bool:
        return capability in self.spec.capabilities

    def _lacks(self, capability: Capability) -> PluginError:
        return PluginError(
            self.spec.name,
            f"organization {self.name!r} cannot {capability.value}: the plugin does not "
            "declare or implement that capability",
        )

    def registrar(self) -> RegisterAdapter:
        if self.can(Capability.REGISTER) and isinstance(self.adapter, RegisterAdapter):
            return self.adapter
        raise self._lacks(Capability.REGISTER)

    def reader(self, stream: str) -> Callable[[str | None], AsyncIterator[Page[Any]]]:
        """The adapter's ``scores`` or ``certificates`` method."""
        a = self.adapter
        if stream == "scores" and self.can(Capability.SCORES) and isinstance(a, ScoresAdapter):
            return a.scores
        if (
            stream == "certificates"
            and self.can(Capability.CERTIFICATES)
            and isinstance(a, CertificatesAdapter)
        ):
            return a.certificates
        raise self._lacks(Capability(stream))

    def since(self) -> SinceAdapter | None:
        """The adapter as a ``SinceAdapter`` when it can start a stream at a date."""
        return self.adapter if isinstance(self.adapter, SinceAdapter) else None

    def issuer(self) -> IssueAdapter:
        if self.can(Capability.ISSUE) and isinstance(self.adapter, IssueAdapter):
            return self.adapter
        raise self._lacks(Capability.ISSUE)

    def verifier(self) -> VerifyAdapter:
        if self.can(Capability.VERIFY) and isinstance(self.adapter, VerifyAdapter):
            return self.adapter
        raise self._lacks(Capability.VERIFY)

    def webhooks(self) -> WebhookAdapter:
        if self.can(Capability.WEBHOOKS) and isinstance(self.adapter, WebhookAdapter):
            return self.adapter
        raise self._lacks(Capability.WEBHOOKS)


def build_organization(
    name: str,
    loaded: LoadedSpec,
    org_settings: OrganizationSettings,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Organization:
    """Validate the plugin's settings, build the HTTP client and the adapter, check it.

    One function so the conformance kit (``gateway.testing``) builds adapters exactly as the
    running gateway does.
    """
    spec = loaded.spec
    plugin_conf = plugin_settings(name, org_settings, spec.settings_model)
    base_url = str(getattr(plugin_conf, "base_url", "") or "")
    client = build_client(
        name,
        org_settings.http,
        base_url=base_url,
        repeatable=spec.repeatable,
        sleep=sleep,
        transport=transport,
    )
    context = AdapterContext(
        organization=name,
        http=client,
        logger=logging.getLogger(f"xgate.org.{name}"),
        sleep=sleep,
    )
    try:
        adapter = spec.factory(plugin_conf, context)
    except Exception as exc:
        raise PluginError(
            loaded.plugin, f"adapter factory failed for {name!r}: {exc}", loaded.distribution
        ) from None
    missing = missing_methods(adapter, spec.capabilities)
    if missing:
        raise PluginError(
            loaded.plugin,
            f"adapter {spec.name!r} lacks " + ", ".join(missing),
            loaded.distribution,
        )
    return Organization(name, spec, org_settings, adapter, client)


@dataclass
class Gateway:
    settings: Settings
    host: PluginHost
    db: Database
    keys: Keys
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    transport: httpx.AsyncBaseTransport | None = None
    _orgs: dict[str, Organization] = field(default_factory=dict)
    _catalogue: Catalogue | None = None
    _readers: dict[str, ReaderProcess] = field(default_factory=dict)

    @property
    def catalogue(self) -> Catalogue:
        """The certificate catalogue and exam plans (``catalogue_file``), read once."""
        if self._catalogue is None:
            self._catalogue = load_catalogue(self.settings.catalogue_file)
        return self._catalogue

    def hash_id(self, id_number: str) -> str:
        """The keyed look-up hash of a normalised ID number (``gateway.keys``)."""
        return self.keys.hash_id(id_number)

    def organization_names(self, only: list[str] | None = None) -> list[str]:
        names = [n for n, o in self.settings.organizations.items() if o.enabled]
        if only:
            unknown = sorted(set(only) - set(self.settings.organizations))
            if unknown:
                raise ConfigurationError(
                    "unknown organization(s): "
                    + ", ".join(unknown)
                    + f" (configured: {', '.join(sorted(self.settings.organizations)) or 'none'})"
                )
            names = [n for n in names if n in only]
        return names

    def organization(self, name: str) -> Organization:
        if name in self._orgs:
            return self._orgs[name]
        try:
            org_settings = self.settings.organizations[name]
        except KeyError:
            raise ConfigurationError(f"organization {name!r} is not configured") from None
        loaded = self.host.spec(org_settings.plugin)
        org = build_organization(
            name,
            loaded,
            org_settings,
            sleep=self.sleep,
            transport=self.transport,
        )
        self._orgs[name] = org
        return org

    def stream(
        self, org: Organization, stream: str, cursor: str | None
    ) -> AsyncIterator[Page[Any]]:
        """``stream``'s pages after ``cursor``: read here, or by the organization's reader
        process when ``sync_reader = "process"`` (``gateway.reader_process``). A gateway given
        its own transport or sleep (tests, benchmarks' fault injection) always reads here: a
        child process would not share them."""
        read = org.reader(stream)  # the capability is checked here either way
        if not self.reads_in_process:
            return read(cursor)
        reader = self._readers.get(org.name)
        if reader is None:
            loaded = self.host.spec(org.settings.plugin)
            reader = self._readers[org.name] = ReaderProcess(org.name, loaded, org.settings)
        return reader.read(stream, cursor, org.client.stats)

    def reader_pids(self) -> list[int]:
        """The reader processes running now (for operators' tools and benchmarks)."""
        return [pid for r in self._readers.values() if (pid := r.pid) is not None]

    @property
    def reads_in_process(self) -> bool:
        """Whether streams are read by reader processes (see ``stream``)."""
        return (
            self.settings.sync_reader == "process"
            and self.transport is None
            and self.sleep is asyncio.sleep
            and sys.platform.startswith("linux")  # fork without surprises, the death signal
        )

    async def aclose(self) -> None:
        for reader in self._readers.values():
            reader.stop()
        self._readers.clear()
        for org in self._orgs.values():
            if isinstance(org.adapter, ClosableAdapter):
                try:
                    await org.adapter.aclose()
                except Exception as exc:  # closing must not mask the real outcome
                    log.warning("closing adapter %s failed: %s", org.name, exc)
            await org.client.aclose()
        self._orgs.clear()
        await self.checkpoint()  # every run that appended to the ledger ends with one
        await self.db.dispose()

    async def checkpoint(self) -> None:
        """Sign a ledger checkpoint if the ledger grew since the last one. Never raises (the
        work's own outcome must not be masked); ``credits verify`` reports what went wrong."""
        from gateway.credit.checkpoints import checkpoint_if_appended

        try:
            await checkpoint_if_appended(self.db, self.keys)
        except Exception as exc:
            log.warning("signing a ledger checkpoint failed: %s", exc)


@asynccontextmanager
async def open_gateway(
    config: Path | None = None,
    *,
    settings: Settings | None = None,
    host: PluginHost | None = None,
    schema: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    create: bool = True,
) -> AsyncIterator[Gateway]:
    """The assembled gateway; ``create=False`` refuses a database that does not exist yet (see
    ``open_database``), which is what every command but ``db upgrade`` and ``demo`` uses."""
    settings = settings or load_settings(config)
    add_secrets(secret_values(settings))
    host = host or load_plugins()
    for err in host.errors:
        log.error("%s", err)
    keys = load(resolve_path(settings.keys_file))  # before the database: no keys, no start
    db = await open_database(
        settings.database_url, schema=schema or settings.database_schema, create=create
    )
    try:
        async with db.begin() as conn:
            await bind(conn, keys)
        await seal_pending(db, keys)  # a database from before encryption, batch by batch
    except BaseException:
        await db.dispose()
        raise
    gw = Gateway(settings=settings, host=host, db=db, keys=keys, sleep=sleep, transport=transport)
    heap.working()  # what start-up loaded (plugins, database, models) is frozen from here
    try:
        yield gw
    finally:
        await gw.aclose()
