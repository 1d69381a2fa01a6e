"""Three trials of the crash harness in the normal suite (``python -m
benchmarks.crash_harness --trials 20`` runs the full one): real ``xgate submit`` and ``xgate
sync`` processes SIGKILLed at seeded moments and rerun; after each trial the harness compares
the database and both organizations with their ground truth and fails on the first
difference (nothing lost, nothing duplicated, nobody registered twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness.crash import CrashConfig, run_trials
from benchmarks.harness.gateway import database

pytestmark = pytest.mark.slow


async def test_killed_commands_rerun_to_the_exact_ground_truth(tmp_path: Path) -> None:
    config = CrashConfig(trials=3, seed=12, people=60)
    async with database("sqlite", tmp_path) as (url, schema):
        report = await run_trials(tmp_path, url, schema, config)

    assert [t.command.split()[0] for t in report.trials] == ["submit", "sync", "submit"]
    # seed 12 kills each command while one of its requests is at the organization
    assert report.killed == 3, [vars(t) for t in report.trials]
    assert all(t.reruns >= 1 for t in report.trials)
    assert sum(report.submitted.values()) == 2 * config.people
