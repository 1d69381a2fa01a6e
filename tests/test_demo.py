"""`xgate demo`: the README's first command, end to end, twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select
from xgate_simulators.demo import run_demo, submit_sample

from gateway.store import tables as t


async def test_demo_runs_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    first = await run_demo(tmp_path, submit=submit_sample)
    assert first.ok and first.first_run
    assert first.submitted > 150 and first.invalid_rows  # deliberate mistakes reported
    assert first.credits_converted > 0 and first.ledger_entries > 0
    assert {line.organization for line in first.lines} == {"beifang", "liaohe"}
    assert (tmp_path / "candidates.results.xlsx").exists()
    assert first.roster["added"] == first.roster["rows"] > 200  # the registrar's roster
    by_major = {c["major"]: c for c in first.coverage}
    assert set(by_major) == {"应用化工技术", "电气自动化技术", "环境工程技术"}
    for c in by_major.values():  # in the denominator: students who never registered
        assert c["never"] > 0 and c["enrolled"] == (
            c["certified"] + c["passed"] + c["registered"] + c["never"]
        )
    assert sum(c["certified"] for c in first.coverage) > 0
    second = await run_demo(tmp_path, submit=submit_sample)
    assert second.ok and not second.first_run
    assert second.changes == 0 and second.submitted == 0
    assert second.roster == {"rows": first.roster["rows"], "added": 0, "changed": 0}
    assert second.coverage == first.coverage
    engine = create_engine(f"sqlite:///{tmp_path / 'xgate.db'}")
    with engine.connect() as conn:
        accepted = conn.execute(
            select(func.count()).where(t.registrations.c.status == "accepted")
        ).scalar_one()
    engine.dispose()
    truth = sum(v["organization"] for k, v in second.truth.items() if k.endswith("registrations"))
    assert accepted == truth
    # the console user the demo prints can sign in (with the latest run's password only)
    from gateway.store import open_database
    from gateway.users import authenticate

    db = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'xgate.db'}")
    try:
        user = second.console_user
        assert (await authenticate(db, user, second.console_password, "t")).user is not None
        assert first.console_password != second.console_password
        assert not (await authenticate(db, user, first.console_password, "t")).ok
    finally:
        await db.dispose()


def test_demo_command_exit_code_and_summary(tmp_path: Path) -> None:
    xgate = str(Path(sys.executable).with_name("xgate"))
    done = subprocess.run(
        [xgate, "demo", "--dir", str(tmp_path / "d"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"matches_truth": true' in done.stdout
