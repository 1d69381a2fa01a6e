"""The kit's pytest plugin (entry point ``pytest11: xgate``), active wherever xgate is installed.

It adds the ``xgate_check`` fixture for plain test functions (``OrganizationConformance``
carries its own copy, so the class works even with plugin autoloading disabled) and names the
plugin API version in the report header, so a failing plugin test run says which contract it
was checked against. The kit itself is imported only when a test asks for it: every pytest run
in an environment with xgate loads this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gateway.testing.suite import Runner


def pytest_report_header(config: pytest.Config) -> str:
    from gateway.contract import PLUGIN_API_VERSION

    return f"xgate plugin API {PLUGIN_API_VERSION} (conformance kit: gateway.testing)"


@pytest.fixture
def xgate_check(request: pytest.FixtureRequest, spec: Any, sandbox: Any) -> Runner:
    """Run one check of ``gateway.testing.checks`` against the ``spec`` and ``sandbox``
    fixtures: ``xgate_check(checks.resume_from_a_stored_cursor)``."""
    from gateway.testing.suite import make_runner

    return make_runner(request, spec, sandbox)
