"""The conformance kit catches each broken plugin, in the rule it breaks, and says what to fix.

Each plugin in ``tests/kit_fixtures`` is the plugin template with one deliberate mistake. The
kit runs on it in a pytest session of its own (``pytester``), exactly as a plugin author runs
it; the test checks which kit tests failed and what their messages tell the author.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER = """
import pytest
from gateway.testing import OrganizationConformance
from tests.kit_fixtures import {module} as plugin


class TestPlugin(OrganizationConformance):
    @pytest.fixture
    def spec(self):
        return plugin.{spec}

    @pytest.fixture
    def sandbox(self):
        return plugin.sandbox()
"""

ALL_CHECKS = {
    "test_settings_errors_name_the_field",
    "test_declared_capabilities_are_implemented",
    "test_streams_end",
    "test_resume_from_a_stored_cursor",
    "test_snapshot_reads_list_everything",
    "test_records_validate",
    "test_registration_is_idempotent",
    "test_lost_answer_never_registers_twice",
    "test_refusals_are_outcomes",
    "test_transient_faults_are_survived",
    "test_issue_is_idempotent_per_key",
    "test_verify_answers",
    "test_webhooks_are_checked",
    "test_no_personal_data_in_logs",
}


class KitRun:
    """Outcome and message of every kit test of one run."""

    def __init__(self, pytester: pytest.Pytester, module: str, spec: str = "SPEC") -> None:
        pytester.makepyfile(test_plugin=INNER.format(module=module, spec=spec))
        recorder = pytester.inline_run("-p", "no:cacheprovider", "-p", "no:asyncio")
        self.outcome: dict[str, str] = {}
        self.message: dict[str, str] = {}
        for report in recorder.getreports("pytest_runtest_logreport"):
            name = report.nodeid.rsplit("::", 1)[-1]
            if report.when == "call" or report.outcome != "passed":
                self.outcome[name] = report.outcome
                self.message[name] = report.longreprtext

    def failed(self) -> set[str]:
        return {name for name, outcome in self.outcome.items() if outcome == "failed"}

    def skipped(self) -> set[str]:
        return {name for name, outcome in self.outcome.items() if outcome == "skipped"}


def test_the_template_passes_every_check(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "template")
    assert set(run.outcome) == ALL_CHECKS
    assert run.failed() == set()
    # the template declares no webhooks, and its certificate listing is not a snapshot
    assert run.skipped() == {"test_webhooks_are_checked", "test_snapshot_reads_list_everything"}
    assert "does not declare the 'webhooks' capability" in run.message["test_webhooks_are_checked"]


def test_page_number_helpers_keep_the_contract(pytester: pytest.Pytester) -> None:
    """gateway.PageNumbers (overlap for a list by change time, snapshot for a list of current
    certificates) passes every stream check, the snapshot one included."""
    run = KitRun(pytester, "paged_helpers")
    assert run.failed() == set(), {n: run.message[n] for n in run.failed()}
    assert "test_snapshot_reads_list_everything" not in run.skipped()
    assert "test_resume_from_a_stored_cursor" not in run.skipped()


def test_a_page_number_cursor_that_skips_records_on_resume(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "skipping_cursor")
    assert run.failed() == {"test_resume_from_a_stored_cursor"}
    message = run.message["test_resume_from_a_stored_cursor"]
    assert "[xgate conformance]" in message and "skipped 1 record(s)" in message
    assert "high-water mark" in message and "page numbers" in message
    assert "docs/plugins.md#streams-and-cursors" in message
    assert "EX-2026-CNC-2/" in message and "********" in message  # which record, masked


def test_corrections_without_a_newer_stamp_behind_a_page_number_cursor(
    pytester: pytest.Pytester,
) -> None:
    run = KitRun(pytester, "stampless_changes")
    assert run.failed() == {"test_resume_from_a_stored_cursor"}
    message = run.message["test_resume_from_a_stored_cursor"]
    assert "did not deliver the newest revision" in message
    assert "page numbers only" in message and "snapshot" in message


def test_a_sandbox_whose_change_corrects_nothing(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "idle_change")
    assert run.failed() == {"test_resume_from_a_stored_cursor"}
    assert "changed no record" in run.message["test_resume_from_a_stored_cursor"]


def test_a_resumed_read_marked_complete(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "complete_on_resume")
    assert run.failed() == {"test_snapshot_reads_list_everything"}
    message = run.message["test_snapshot_reads_list_everything"]
    assert "resumed from the cursor after page 1" in message and "withdraw" in message


def test_a_registration_that_is_not_idempotent(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "double_registration")
    assert run.failed() == {"test_registration_is_idempotent"}
    message = run.message["test_registration_is_idempotent"]
    assert "created a second registration" in message and "(EXR000001, then EXR000004)" in message
    assert "send the idempotency_key to the organization" in message
    assert "docs/plugins.md#idempotent-registration" in message


def test_a_declared_capability_without_its_method(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "capability_mismatch", "UNIMPLEMENTED")
    assert run.failed() == {"test_declared_capabilities_are_implemented"}
    message = run.message["test_declared_capabilities_are_implemented"]
    assert "declared but not implemented: parse_webhook (for capability 'webhooks')" in message
    assert "make OrganizationSpec.capabilities list exactly what the adapter implements" in message
    assert (
        "reported by test_declared_capabilities_are_implemented"
        in (run.message["test_webhooks_are_checked"])
    )


def test_an_implemented_capability_that_is_not_declared(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "capability_mismatch", "UNDECLARED")
    assert run.failed() == {"test_declared_capabilities_are_implemented"}
    message = run.message["test_declared_capabilities_are_implemented"]
    assert "implements verify but does not declare Capability.VERIFY" in message
    assert "test_verify_answers" in run.skipped()


def test_records_that_fail_validation(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "invalid_records")
    assert run.failed() == {"test_records_validate"}
    message = run.message["test_records_validate"]
    assert "scores: 3 of 12 records do not validate as ScoreRecord" in message
    assert "passed: Input should be a valid boolean" in message
    assert "yield gateway.models.ScoreRecord objects" in message
    assert "docs/plugins.md#records" in message


def test_personal_data_in_log_lines(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "leaky_logs")
    assert run.failed() == {"test_no_personal_data_in_logs"}
    message = run.message["test_no_personal_data_in_logs"]
    assert "xgate.org.example DEBUG: sending <" in message
    assert "gateway.masking.mask_id" in message


def test_settings_that_accept_typos_and_print_secrets(pytester: pytest.Pytester) -> None:
    run = KitRun(pytester, "loose_settings")
    assert run.failed() == {"test_settings_errors_name_the_field"}
    message = run.message["test_settings_errors_name_the_field"]
    assert "'kit_unknown_key') is accepted" in message and 'extra="forbid"' in message
    assert "'access_token' looks like a secret but is not SecretStr" in message


FUNCTIONS = """
import pytest
from gateway.testing import checks
from tests.kit_fixtures import skipping_cursor as plugin


@pytest.fixture
def spec():
    return plugin.SPEC


@pytest.fixture
def sandbox():
    return plugin.sandbox()


@pytest.fixture
def settings():
    return {SETTINGS}


def test_streams_end(xgate_check):
    xgate_check(checks.streams_end)


def test_resume(xgate_check):
    xgate_check(checks.resume_from_a_stored_cursor)
"""


def test_single_checks_from_plain_functions_through_the_pytest_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_functions=FUNCTIONS.replace("{SETTINGS}", '{"page_size": 3}'))
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["xgate plugin API 1.1 (conformance kit: gateway.testing)"])
    result.stdout.fnmatch_lines(["*[[]xgate conformance[]] scores: after * skipped *"])


def test_the_settings_fixture_overrides_the_sandbox_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_functions=FUNCTIONS.replace("{SETTINGS}", '{"page_size": 0}'))
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "[[]xgate conformance[]] the sandbox's settings do not validate with ExampleOrgSettings*",
            "  organizations.example.page_size: Input should be greater than or equal to 1",
            "  fix: make Sandbox.settings() return valid settings for your settings model",
        ]
    )
    assert "During handling" not in result.stdout.str()
