"""The fault soak in the normal suite: 1,000 candidates submitted and three nights of syncs
through 30% injected faults, for each reference organization, on SQLite.

``run_soak`` compares the database with the simulator's ground truth itself and raises on the
first difference; here we also check that the faults really happened, that the core's retry
layer (not luck) absorbed them, and that no candidate was ever sent to the organization
twice. ``python -m benchmarks.fault_soak`` runs the same at any size, on PostgreSQL too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness.gateway import database
from benchmarks.harness.soak import SoakConfig, run_soak

pytestmark = pytest.mark.slow
PEOPLE = 1000
ALWAYS = {"error_5xx", "rate_limit", "reset", "commit_then_drop", "malformed"}


@pytest.mark.parametrize("organization", ["beifang", "liaohe"])
async def test_soak_ends_exactly_at_the_ground_truth(organization: str, tmp_path: Path) -> None:
    config = SoakConfig(people=PEOPLE, fault_rate=0.30, seed=7, page_size=100)
    async with database("sqlite", tmp_path) as (url, schema):
        result = await run_soak(organization, url, schema, tmp_path, config)

    assert result.org_registrations == PEOPLE  # nobody lost, nobody registered twice
    assert result.scores == PEOPLE and result.certificates > PEOPLE // 2
    assert result.corrections > 0 and result.revoked > 0
    assert set(result.faults) >= ALWAYS, result.faults
    assert sum(result.faults.values()) >= 0.15 * result.requests_seen, result.summary()
    assert result.retries > 0 and result.waits > 0
    assert result.sync_runs >= config.nights
