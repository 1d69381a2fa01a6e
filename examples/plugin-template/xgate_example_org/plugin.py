"""The entry point (``[project.entry-points."xgate.plugins"]``): what this plugin provides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway import Capability, OrganizationSpec, hookimpl
from xgate_example_org import __version__
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.settings import ExampleOrgSettings

SPEC = OrganizationSpec(
    name="example_org",  # `plugin = "example_org"` in xgate.toml
    title="Example Org",
    version=__version__,
    api_version="1.1",  # the plugin API this release is built for (gateway.PLUGIN_API_VERSION)
    capabilities=frozenset(
        {
            Capability.REGISTER,
            Capability.SCORES,
            Capability.CERTIFICATES,
            Capability.ISSUE,
            Capability.VERIFY,
        }
    ),
    settings_model=ExampleOrgSettings,
    factory=ExampleOrgAdapter,
    batch_size=50,  # candidates per registration request
    description="JSON API with an API key, Idempotency-Key on writes and high-water-mark paging.",
)


@hookimpl
def xgate_register_organizations(register: Callable[[Any], None]) -> None:
    register(SPEC)
