"""``OrganizationConformance``: the conformance checks as a pytest test class to subclass.

A plugin author writes::

    from gateway.testing import OrganizationConformance

    class TestMyOrg(OrganizationConformance):
        @pytest.fixture
        def spec(self):
            return SPEC                      # the plugin's OrganizationSpec

        @pytest.fixture
        def sandbox(self):
            return MyOrgSandbox()            # a gateway.testing.Sandbox subclass, not started

An optional ``settings`` fixture returns keys merged over ``sandbox.settings()``. The checks are
synchronous tests that run their own event loop, so the kit needs no asyncio plugin and works
with any ``asyncio_mode``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gateway.contract import OrganizationSpec
from gateway.testing import checks
from gateway.testing.harness import Check, KitFailure, KitSkip, run_check
from gateway.testing.sandbox import Sandbox

Runner = Callable[[Check], None]


def make_runner(request: pytest.FixtureRequest, spec: Any, sandbox: Any) -> Runner:
    """The function tests call with a check; turns verdicts into clean pytest outcomes."""
    if not isinstance(spec, OrganizationSpec):
        raise pytest.UsageError(
            f"the `spec` fixture must return a gateway.OrganizationSpec, got {type(spec).__name__}"
        )
    if not isinstance(sandbox, Sandbox):
        raise pytest.UsageError(
            "the `sandbox` fixture must return a gateway.testing.Sandbox, got "
            f"{type(sandbox).__name__}"
        )
    overrides: dict[str, Any] = {}
    try:
        value = request.getfixturevalue("settings")
    except pytest.FixtureLookupError:
        value = None
    if isinstance(value, Mapping):
        overrides = dict(value)

    def run(check: Check) -> None:
        skipped = failed = None
        try:
            run_check(check, spec, sandbox, overrides)
        except KitSkip as exc:
            skipped = str(exc)
        except KitFailure as exc:
            failed = str(exc)
        # outside the except blocks, so the report is the message alone, with no chained trace
        if skipped is not None:
            pytest.skip(skipped)
        if failed is not None:
            pytest.fail(f"[xgate conformance] {failed}", pytrace=False)

    return run


class OrganizationConformance:
    """Every rule of the plugin contract, one test each; see ``docs/plugins.md``."""

    @pytest.fixture
    def xgate_check(self, request: pytest.FixtureRequest, spec: Any, sandbox: Any) -> Runner:
        return make_runner(request, spec, sandbox)

    def test_settings_errors_name_the_field(self, xgate_check: Runner) -> None:
        xgate_check(checks.settings_errors_name_the_field)

    def test_declared_capabilities_are_implemented(self, xgate_check: Runner) -> None:
        xgate_check(checks.declared_capabilities_are_implemented)

    def test_streams_end(self, xgate_check: Runner) -> None:
        xgate_check(checks.streams_end)

    def test_resume_from_a_stored_cursor(self, xgate_check: Runner) -> None:
        xgate_check(checks.resume_from_a_stored_cursor)

    def test_snapshot_reads_list_everything(self, xgate_check: Runner) -> None:
        xgate_check(checks.snapshot_reads_list_everything)

    def test_records_validate(self, xgate_check: Runner) -> None:
        xgate_check(checks.records_validate)

    def test_registration_is_idempotent(self, xgate_check: Runner) -> None:
        xgate_check(checks.registration_is_idempotent)

    def test_lost_answer_never_registers_twice(self, xgate_check: Runner) -> None:
        xgate_check(checks.lost_answer_never_registers_twice)

    def test_refusals_are_outcomes(self, xgate_check: Runner) -> None:
        xgate_check(checks.refusals_are_outcomes)

    def test_transient_faults_are_survived(self, xgate_check: Runner) -> None:
        xgate_check(checks.transient_faults_are_survived)

    def test_issue_is_idempotent_per_key(self, xgate_check: Runner) -> None:
        xgate_check(checks.issue_is_idempotent_per_key)

    def test_verify_answers(self, xgate_check: Runner) -> None:
        xgate_check(checks.verify_answers)

    def test_webhooks_are_checked(self, xgate_check: Runner) -> None:
        xgate_check(checks.webhooks_are_checked)

    def test_no_personal_data_in_logs(self, xgate_check: Runner) -> None:
        xgate_check(checks.no_personal_data_in_logs)
