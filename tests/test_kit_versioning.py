"""The plugin API versioning policy, as docs/plugins.md states it: same major, and a minor no
newer than the core's, is accepted; anything else is refused naming both versions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import gateway
from gateway import hookimpl
from gateway.contract import PLUGIN_API_VERSION, api_compatible
from gateway.plugins import load_plugins
from gateway.testing import KitFailure, checks, run_check
from tests.kit_fixtures.template import SPEC, sandbox


@pytest.mark.parametrize(
    ("plugin", "core", "accepted"),
    [
        ("1.0", "1.0", True),
        ("1.0", "1.3", True),  # built for an older minor: the core only added since
        ("1.2", "1.3", True),
        ("1.3", "1.3", True),
        ("1.4", "1.3", False),  # needs something this core does not have yet
        ("1.1", "1.0", False),
        ("2.0", "1.9", False),  # another major may have removed what the plugin uses
        ("0.9", "1.0", False),
        ("1", "1.0", False),
        ("one.zero", "1.0", False),
    ],
)
def test_compatibility_rule(plugin: str, core: str, accepted: bool) -> None:
    assert api_compatible(plugin, core) is accepted


def test_the_core_speaks_1_1() -> None:
    assert gateway.PLUGIN_API_VERSION == PLUGIN_API_VERSION == "1.1"
    assert SPEC.api_version == "1.1"  # the template is built for it


def _plugin(api_version: str) -> object:
    class Versioned:
        @staticmethod
        @hookimpl
        def xgate_register_organizations(register: Callable[[Any], None]) -> None:
            register(
                dataclasses.replace(
                    SPEC, name=f"v{api_version.replace('.', '_')}", api_version=api_version
                )
            )

    return Versioned()


def test_a_plugin_for_a_newer_minor_or_another_major_is_refused_naming_both() -> None:
    host = load_plugins(
        lambda: [],
        extra=[
            ("older", _plugin("1.0")),
            ("current", _plugin("1.1")),
            ("newer", _plugin("1.2")),
            ("next", _plugin("2.0")),
        ],
    )
    assert set(host.specs) == {"v1_0", "v1_1"}  # a 1.0 plugin still loads under 1.1
    messages = {e.plugin: str(e) for e in host.errors}
    assert set(messages) == {"newer", "next"}
    assert "built for plugin API 1.2, but this xgate provides 1.1" in messages["newer"]
    assert "built for plugin API 2.0, but this xgate provides 1.1" in messages["next"]


@pytest.mark.storage
async def test_a_1_0_plugin_still_syncs(make_gateway: Any) -> None:
    """A plugin built for 1.0 (no Page.complete, no incremental helpers) still loads and its
    streams are read as before: nothing missing from its reads is ever withdrawn."""
    from gateway.sync import run_sync

    class OldFake:
        @staticmethod
        @hookimpl
        def xgate_register_organizations(register: Callable[[Any], None]) -> None:
            register(dataclasses.replace(_fake_spec(), name="oldfake", api_version="1.0"))

    async with make_gateway(
        orgs={"o": {"plugin": "oldfake", "name": "o"}}, extra=[("oldfake", OldFake())]
    ) as gw:
        assert gw.host.spec("oldfake").spec.api_version == "1.0"
        first = await run_sync(gw)
        assert first.ok and first.totals()["withdrawn"] == 0


def _fake_spec() -> Any:
    from tests.plugins_fixtures import fakeorg

    found: list[Any] = []
    fakeorg.xgate_register_organizations(found.append)
    return found[0]


def test_the_kit_refuses_an_incompatible_spec_naming_both() -> None:
    spec = dataclasses.replace(SPEC, api_version="2.0")
    with pytest.raises(KitFailure) as failure:
        run_check(checks.declared_capabilities_are_implemented, spec, sandbox())
    assert "built for plugin API 2.0, this xgate provides 1.1" in str(failure.value)
    assert 'api_version="1.1"' in str(failure.value)
