"""Entry point (``xgate.plugins``: ``beifang = "xgate_beifang.plugin"``): contributes the
Beifang adapter exactly as a third-party plugin would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway import Capability, OrganizationSpec, hookimpl
from xgate_beifang import __version__
from xgate_beifang.adapter import BeifangAdapter
from xgate_beifang.settings import BeifangSettings

SPEC = OrganizationSpec(
    name="beifang",
    title="北方化工技能评价中心 (Beifang Chemical Skills Assessment Centre)",
    version=__version__,
    capabilities=frozenset(
        {
            Capability.REGISTER,
            Capability.SCORES,
            Capability.CERTIFICATES,
            Capability.ISSUE,
            Capability.VERIFY,
            Capability.WEBHOOKS,
        }
    ),
    settings_model=BeifangSettings,
    factory=BeifangAdapter,
    batch_size=50,
    # Fetching a token creates nothing the college would mind twice, so the core may retry it.
    repeatable=frozenset({"token"}),
    description="OAuth2 JSON API with idempotency keys, high-water-mark cursors and webhooks.",
)


@hookimpl
def xgate_register_organizations(register: Callable[[Any], None]) -> None:
    register(SPEC)
