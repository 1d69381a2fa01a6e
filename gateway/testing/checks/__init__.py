"""The conformance checks, one async function per rule of the plugin contract.

Each takes a ``Session`` and raises ``KitFailure`` (what is wrong, how to fix it, where the
contract says so) or ``KitSkip`` (the rule does not apply). ``OrganizationConformance`` runs
them as test methods; ``xgate_check(check)`` runs one from a plain test function.
"""

from gateway.testing.checks.capabilities import declared_capabilities_are_implemented
from gateway.testing.checks.certificates import (
    issue_is_idempotent_per_key,
    verify_answers,
    webhooks_are_checked,
)
from gateway.testing.checks.privacy import no_personal_data_in_logs
from gateway.testing.checks.registration import (
    lost_answer_never_registers_twice,
    refusals_are_outcomes,
    registration_is_idempotent,
)
from gateway.testing.checks.resilience import transient_faults_are_survived
from gateway.testing.checks.settings import settings_errors_name_the_field
from gateway.testing.checks.snapshots import snapshot_reads_list_everything
from gateway.testing.checks.streams import (
    records_validate,
    resume_from_a_stored_cursor,
    streams_end,
)

__all__ = [
    "declared_capabilities_are_implemented",
    "issue_is_idempotent_per_key",
    "lost_answer_never_registers_twice",
    "no_personal_data_in_logs",
    "records_validate",
    "refusals_are_outcomes",
    "registration_is_idempotent",
    "resume_from_a_stored_cursor",
    "settings_errors_name_the_field",
    "snapshot_reads_list_everything",
    "streams_end",
    "transient_faults_are_survived",
    "verify_answers",
    "webhooks_are_checked",
]
