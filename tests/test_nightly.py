"""The nightly workflow (``gateway.nightly.run_nightly``) and the commands that must never
report a failure as a success."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.errors import ConfigurationError
from gateway.models import Candidate, ExamPlan, ScoreRecord
from gateway.nightly import run_nightly
from gateway.outbox import OutboxItem, deliver, enqueue
from gateway.runlog import recent_runs
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

ORGS = {"fake": {"plugin": "fake", "name": "fake"}}
PLAN = ExamPlan(code="P1", organization="fake", certificate_code="HGJL", level=2)


async def _passed_candidates(gw: Any, n: int, seed: int) -> None:
    ids = make_ids(n, seed=seed)
    await enqueue(gw, "fake", PLAN, [OutboxItem(Candidate(name="生", id_number=i)) for i in ids])
    await deliver(gw, "fake")
    fakeorg.org("fake").scores = [
        ScoreRecord(
            organization="fake",
            plan_code="P1",
            id_number=i,
            theory=80,
            practical=80,
            passed=True,
            revised_at=datetime(2026, 12, 21, tzinfo=UTC),
        )
        for i in ids
    ]


@pytest.mark.storage
async def test_sync_issue_sync_in_one_run(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        await _passed_candidates(gw, 3, seed=131)
        report = await run_nightly(gw)  # the scores arrive; nothing issued without ``issue``
        assert report.ok and not report.issuance
        report = await run_nightly(gw, issue=True)
        assert report.ok and report.issued == 3
        certs = [s for s in report.sync.streams if s.stream == "certificates"]
        assert sum(s.records for s in certs) == 3  # the second sync read what was issued
        assert report.summary().endswith("; all ok")


@pytest.mark.storage
async def test_unknown_issuance_is_not_all_ok(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        await _passed_candidates(gw, 2, seed=132)
        fakeorg.org("fake").lose_issue_answer = 1
        report = await run_nightly(gw, issue=True)
        data = report.as_dict()
        assert not report.ok and data["ok"] is False
        assert "all ok" not in report.summary() and "FAILED" in report.summary()
        assert "fake/issue: 2 outcome(s) unknown" in data["failures"]
        [run] = await recent_runs(gw, 1)
        assert run["id"] == report.run_id and run["status"] == "partial"  # never "ok"


async def test_a_database_deleted_during_the_run_is_a_failure(make_gateway, db_target) -> None:
    if db_target.backend != "sqlite":
        pytest.skip("a file database only")
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = []
        path = gw.db.path
        assert path is not None
        os.remove(path)
        with pytest.raises(ConfigurationError, match="deleted or replaced"):
            await run_nightly(gw)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("XGATE_") and key != "XGATE_KEYS":  # the session's key file stays
            monkeypatch.delenv(key)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "command",
    [
        ["sync"],
        ["issue"],
        ["runs"],
        ["quarantine", "list"],
        ["outbox"],
        ["credits", "verify"],
        ["credits", "show", "110101199003077777"],
    ],
)
def test_a_missing_database_is_exit_3_and_never_created(run, tmp_path, command) -> None:  # type: ignore[no-untyped-def]
    result = run(*command)
    assert result.exit_code == 3, result.output
    assert "xgate db upgrade" in result.stderr
    assert not (tmp_path / "xgate.db").exists()


def test_runs_show_beijing_time_to_the_second(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert run("db", "upgrade").exit_code == 0
    assert run("sync").exit_code == 0  # no organizations: an empty, successful run
    result = run("runs")
    assert result.exit_code == 0, result.output
    assert "Beijing" in result.stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", result.stdout)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", result.stdout)
    assert "…" not in result.stdout  # redirected output is never cut to 80 columns
    started = json.loads(run("runs", "--json").stdout)["runs"][0]["started_at"]
    assert started.endswith("+00:00")
