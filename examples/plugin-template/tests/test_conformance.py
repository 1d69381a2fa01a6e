"""The xgate conformance kit against the fake Example Org: every rule of the plugin contract."""

from __future__ import annotations

import pytest
from fake_example_org import ExampleOrgSandbox
from xgate_example_org.plugin import SPEC

from gateway.testing import OrganizationConformance


class TestExampleOrg(OrganizationConformance):
    @pytest.fixture
    def spec(self):  # type: ignore[no-untyped-def]
        return SPEC

    @pytest.fixture
    def sandbox(self) -> ExampleOrgSandbox:
        return ExampleOrgSandbox()
