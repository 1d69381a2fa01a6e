"""Broken on purpose: the spec and the adapter disagree (kit rule: declared capabilities are
implemented). ``UNIMPLEMENTED`` declares webhooks without ``parse_webhook`` (built by a factory
function, so the load-time class check cannot see it); ``UNDECLARED`` implements ``verify``
but does not declare it."""

from __future__ import annotations

import dataclasses
from typing import Any

from fake_example_org import ExampleOrgSandbox
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC
from xgate_example_org.settings import ExampleOrgSettings

from gateway import AdapterContext, Capability


def make_adapter(settings: ExampleOrgSettings, context: AdapterContext) -> Any:
    return ExampleOrgAdapter(settings, context)


UNIMPLEMENTED = dataclasses.replace(
    TEMPLATE_SPEC,
    factory=make_adapter,
    capabilities=TEMPLATE_SPEC.capabilities | {Capability.WEBHOOKS},
)
UNDECLARED = dataclasses.replace(
    TEMPLATE_SPEC, capabilities=TEMPLATE_SPEC.capabilities - {Capability.VERIFY}
)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox()
