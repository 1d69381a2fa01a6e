"""Three trials of the multi-worker crash harness in the suite (``python -m
benchmarks.crash_harness --workers 3 --trials 20`` runs the full one): three real ``xgate
worker`` processes on PostgreSQL, one SIGKILLed per trial inside a write transaction, while
holding a stream's lock, or while its request is at the organization; restarted; after each
trial the harness compares the database and both organizations with their ground truth
(nobody registered twice, no page applied twice, no credit twice, the ledger verifies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness.crash_workers import WorkersConfig, kinds, run_worker_trials
from benchmarks.harness.gateway import database
from tests.conftest import PG_UP

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_UP, reason="several workers need the local PostgreSQL"),
]


async def test_killed_workers_restart_to_the_exact_ground_truth(tmp_path: Path) -> None:
    config = WorkersConfig(trials=3, seed=12, people=30, workers=3)
    async with database("postgresql", tmp_path) as (url, schema):
        report = await run_worker_trials(tmp_path, url, schema, config)

    assert [t.command.split()[0] for t in report.trials] == ["submit", "nightly", "submit"]
    # one worker killed in each trial, one of each kind of moment
    assert kinds(report) == {"transaction": 1, "lock": 1, "request": 1}, report.trials
    assert sum(report.submitted.values()) == 2 * config.people
