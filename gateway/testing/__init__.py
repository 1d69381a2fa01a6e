"""The conformance kit for organization plugins: the plugin contract as tests.

Subclass ``OrganizationConformance`` with two fixtures (``spec``: your ``OrganizationSpec``;
``sandbox``: a ``Sandbox`` around your fake organization) and pytest runs every check against
your plugin, built exactly as the gateway builds it. ``docs/plugins.md`` explains each rule.
"""

from gateway.testing import checks
from gateway.testing.faults import FaultyTransport
from gateway.testing.harness import KitFailure, KitSkip, Session, run_check
from gateway.testing.people import candidates
from gateway.testing.sandbox import Sandbox
from gateway.testing.suite import OrganizationConformance

__all__ = [
    "FaultyTransport",
    "KitFailure",
    "KitSkip",
    "OrganizationConformance",
    "Sandbox",
    "Session",
    "candidates",
    "checks",
    "run_check",
]
