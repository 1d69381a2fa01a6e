"""SIGKILL a real ``xgate sync`` process at seeded moments; the rerun ends at the ground truth.

The simulator runs in this test's event loop; the sync is a separate process. A tripwire in
the simulator kills the sync while the k-th stream page request is in flight, so each kill
lands mid-stream, deterministically. After the kills a final run completes; then the database
must hold exactly the organization's records: nothing lost, nothing duplicated, the credit
ledger intact.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, BeifangSimulator

from gateway.credit.verify import verify_report
from gateway.store import open_database
from gateway.store import tables as t
from tests.idgen import make_ids
from tests.keys_support import hash_id

pytestmark = pytest.mark.storage
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
XGATE = str(Path(sys.executable).with_name("xgate"))


class Tripwire(Counter[str]):
    """The simulator's hit counter; kills the sync process at the chosen stream request."""

    def __init__(self) -> None:
        super().__init__()
        self.pid: int | None = None
        self.at: int | None = None
        self.seen = 0

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        if key in ("scores", "certificates") and self.pid and self.at is not None:
            self.seen += 1
            if self.seen == self.at:
                os.kill(self.pid, signal.SIGKILL)


def write_config(path: Path, url: str, reader: str) -> None:
    path.write_text(
        f"""
sync_reader = "{reader}"
catalogue_file = "{DATA / "catalogue.toml"}"
rules_file = "{DATA / "credit-rules.toml"}"

[organizations.beifang]
plugin = "beifang"
base_url = "{url}"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"
page_size = 6
""",
        encoding="utf-8",
    )


async def run_sync(env: dict[str, str], cwd: Path, wire: Tripwire, at: int | None) -> int:
    proc = await asyncio.create_subprocess_exec(
        XGATE,
        "sync",
        "--json",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    wire.pid, wire.at, wire.seen = proc.pid, at, 0
    _, err = await proc.communicate()
    wire.pid = None
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()
    return proc.returncode


@pytest.mark.parametrize("reader", ["inline", "process"])
async def test_killed_sync_resumes_to_exact_ground_truth(
    db_target, tmp_path: Path, reader: str
) -> None:
    """With the reader process (``sync_reader = "process"``) the kill lands on the gateway's
    process while its reader may be pages ahead; the reader dies with it."""
    sim = BeifangSimulator(seed=17)
    wire = Tripwire()
    sim.hits = wire
    people = [(n, f"考生{i}") for i, n in enumerate(make_ids(60, seed=41))]
    sim.add_registrations("BF-2026-HGJL-2", people)
    sim.grade_all()
    sim.issue_passed()
    rng = random.Random(2026)
    async with sim.running() as url:
        write_config(tmp_path / "xgate.toml", url, reader)
        env = {
            **os.environ,
            **db_target.env(),
            "XGATE_CONFIG": str(tmp_path / "xgate.toml"),
        }
        setup = await asyncio.create_subprocess_exec(XGATE, "db", "upgrade", env=env, cwd=tmp_path)
        assert await setup.wait() == 0  # commands never create a database
        killed = 0
        for _ in range(2):
            rc = await run_sync(env, tmp_path, wire, at=rng.randint(2, 8))
            killed += rc == -signal.SIGKILL
        # a run that ends, then the organization moves on: a correction, read by killed runs
        assert await run_sync(env, tmp_path, wire, at=None) == 0
        first = next(iter(sim.truth.scores.values()))
        sim.correct_score(first.plan_code, first.id_number, theory=88, practical=91)
        # the correction's run is one scores page and one certificates page: killed at either
        rc = await run_sync(env, tmp_path, wire, at=rng.randint(1, 2))
        killed += rc == -signal.SIGKILL
        assert killed >= 2
        assert await run_sync(env, tmp_path, wire, at=None) == 0

    db = await open_database(db_target.url, schema=db_target.schema)
    try:
        async with db.connect() as conn:
            rows = list(await conn.execute(select(t.scores)))
            revisions = (
                await conn.execute(select(func.count()).select_from(t.score_revisions))
            ).scalar_one()
            certs = {r.number: r.status for r in await conn.execute(select(t.certificates))}
            dupes = (
                await conn.execute(
                    select(
                        t.credit_ledger.c.account_id,
                        t.credit_ledger.c.course_code,
                        func.sum(t.credit_ledger.c.credits),
                    )
                    .group_by(t.credit_ledger.c.account_id, t.credit_ledger.c.course_code)
                    .having(func.sum(t.credit_ledger.c.credits) > 8)
                )
            ).all()
            verdict = await verify_report(conn)
    finally:
        await db.dispose()
    truth = {hash_id(s.id_number): s for s in sim.truth.scores.values()}
    assert {r.id_hash for r in rows} == set(truth)  # nothing lost, nothing extra
    # history rows are the superseded revisions (the current one is the score row)
    expected_revisions = sum(len(s.revisions) - 1 for s in truth.values())
    assert revisions == expected_revisions  # no revision recorded twice
    for r in rows:
        want = truth[r.id_hash].current.theory
        assert (None if r.theory is None else float(r.theory)) == (
            None if want is None else float(want)
        )
    assert certs == {c.number: c.status for c in sim.truth.certificates.values()}
    assert dupes == []
    assert verdict.ok, verdict.problems
