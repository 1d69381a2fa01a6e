"""Streams read by a reader process (``sync_reader = "process"``, ``gateway.reader_process``):
the same rows, reports, counters and failure decisions as reading in the gateway's process;
the child ends with the gateway, is replaced after an abandoned read, and dies with its parent.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from xgate_simulators.beifang import BeifangSimulator
from xgate_simulators.faults import FaultPlan

from gateway import sync as sync_module
from gateway.errors import ContractError, TransientError
from gateway.http.transport import RequestStats
from gateway.plugins import load_plugins
from gateway.reader_process import (
    SWITCH_INTERVAL,
    ReaderGone,
    ReaderProcess,
    _rebuild,
    _state,
)
from gateway.settings import OrganizationSettings
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.beifang_support import beifang_orgs
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
PLAN = "BF-2026-HGJL-2"
ROOT = Path(__file__).resolve().parents[1]


def orgs(url: str, page_size: int = 7) -> dict[str, Any]:
    return beifang_orgs(url, page_size=page_size)


def simulator(people: int = 30, **kw: Any) -> BeifangSimulator:
    sim = BeifangSimulator(seed=5, **kw)
    ids = make_ids(people, seed=41)
    sim.add_registrations(PLAN, [(n, f"学生{i}") for i, n in enumerate(ids)])
    sim.grade_all()
    sim.issue_passed()
    return sim


@pytest.fixture(autouse=True)
def _switch_interval() -> Iterator[None]:
    """A reader shortens the process's switch interval: every test here gets it back."""
    kept = sys.getswitchinterval()
    yield
    sys.setswitchinterval(kept)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("reader", ["inline", "process"])
async def test_a_sync_stores_the_same_and_counts_the_same(make_gateway, reader: str) -> None:
    sys.setswitchinterval(0.005)
    switch = {"inline": 0.005, "process": SWITCH_INTERVAL}
    sim = simulator()
    async with sim.running() as url:
        async with make_gateway(orgs=orgs(url), sync_reader=reader) as gw:
            report = await run_sync(gw)
            children = gw.reader_pids()
            async with gw.db.connect() as conn:
                rows = await conn.execute(
                    sql_select(t.scores.c.id_hash, t.scores.c.theory, t.scores.c.practical)
                )
                scores = {r.id_hash: (Decimal(r.theory), Decimal(r.practical)) for r in rows}
                certificates = (
                    await conn.execute(sql_select(func.count()).select_from(t.certificates))
                ).scalar()
            truth = {
                gw.hash_id(s.id_number): (s.current.theory, s.current.practical)
                for s in sim.truth.scores.values()
            }
        # read by another process (one per organization), which ended with the gateway
        assert len(children) == (1 if reader == "process" else 0)
        # and only a gateway with readers hands the interpreter lock over sooner
        assert sys.getswitchinterval() == pytest.approx(switch[reader])
        assert os.getpid() not in children
        assert all(gone(c) for c in children)
    assert report.ok, report.as_dict()
    assert scores == truth
    assert certificates == len(sim.truth.certificates)
    totals = report.totals()
    assert totals["new"] == len(truth) + len(sim.truth.certificates)
    # the child's requests are counted in the run's report: the token and every page
    assert sum(s.requests for s in report.streams) == sum(sim.hits.values())


@pytest.mark.parametrize("reader", ["inline", "process"])
async def test_a_broken_stream_gets_the_same_decision(make_gateway, reader: str) -> None:
    """A certificates stream whose pages are all malformed: the scores stream is stored,
    the certificates stream fails as a contract breach after its attempts, wherever it was
    read."""
    sim = simulator(faults=FaultPlan(malformed=1.0, paths=("/v1/certificates",)))
    async with sim.running() as url, make_gateway(orgs=orgs(url), sync_reader=reader) as gw:
        report = await run_sync(gw)
        async with gw.db.connect() as conn:
            stored = (await conn.execute(sql_select(func.count()).select_from(t.scores))).scalar()
    scores, certificates = report.streams
    assert (scores.status, scores.new) == ("ok", len(sim.truth.scores))
    assert stored == len(sim.truth.scores)
    assert (certificates.status, certificates.failure) == ("failed", "contract")
    assert certificates.error == "ContractError: /v1/certificates: the answer is not valid JSON"
    assert certificates.requests == sync_module.STREAM_ATTEMPTS  # one page request each


async def test_an_abandoned_read_kills_the_child_and_the_next_read_forks_another(
    make_gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that fails mid-stream abandons the read: the child, perhaps mid-page, is
    killed; the stream's retry reads from the last committed cursor through a new child.
    (150 pages of 2: more than the pipe and the read-ahead hold, so the read is unfinished
    when its second transaction fails.)"""
    sim = simulator(people=300)
    applied = sync_module.apply_pages
    calls = {"n": 0}
    children: list[list[int]] = []

    async def failing_once(gw: Any, *args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        children.append(gw.reader_pids())
        if calls["n"] == 2:
            raise TransientError("the database went away for a moment")
        return await applied(gw, *args, **kw)

    monkeypatch.setattr(sync_module, "apply_pages", failing_once)
    async with (
        sim.running() as url,
        make_gateway(orgs=orgs(url, page_size=2), sync_reader="process") as gw,
    ):
        report = await run_sync(gw)
        async with gw.db.connect() as conn:
            stored = (await conn.execute(sql_select(func.count()).select_from(t.scores))).scalar()
    assert report.ok, report.as_dict()
    assert stored == len(sim.truth.scores)
    first, abandoned = children[0], children[1]
    assert len(first) == 1 and first == abandoned
    assert gone(first[0])
    later = {c for pids in children[2:] for c in pids}
    assert later and first[0] not in later


def test_a_child_failure_is_rebuilt_with_its_type_and_attributes() -> None:
    exc = ContractError("beifang: /v1/scores: a page without data", payload={"x": 1})
    back = _rebuild(_state(exc))
    assert type(back) is ContractError
    assert str(back) == str(exc)
    assert vars(back) == vars(exc)

    class Local(Exception):  # not importable by name: reported, never lost
        pass

    lost = _rebuild(_state(Local("boom")))
    assert isinstance(lost, ReaderGone)
    assert "Local" in str(lost) and "boom" in str(lost)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal")
def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    """``kill -9`` of the gateway's process takes its reader process with it."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from gateway.plugins import load_plugins
        from gateway.reader_process import ReaderProcess
        from gateway.settings import OrganizationSettings
        from gateway.http.transport import RequestStats

        async def main():
            settings = OrganizationSettings.model_validate(
                {{"plugin": "beifang", "base_url": "http://127.0.0.1:9",
                  "client_id": "a", "client_secret": "b"}}
            )
            reader = ReaderProcess("bf", load_plugins().spec("beifang"), settings)
            await reader._start()
            print(reader.pid, flush=True)
            sys.stdin.readline()
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert parent.stdout is not None and parent.stdin is not None
    child = int(parent.stdout.readline())
    watch = os.pidfd_open(child)
    try:
        assert not gone(child)
        parent.stdin.write("\n")
        parent.stdin.flush()
        assert parent.wait(30) == -9
        ready, _, _ = select.select([watch], [], [], 30)  # readable when the child has ended
        assert ready == [watch]
    finally:
        os.close(watch)


async def test_a_signal_to_the_child_is_not_the_gateways() -> None:
    """The gateway's own signal handling (asyncio's, for SIGTERM) stays the gateway's: a
    SIGTERM to the child ends the child and wakes nothing in the gateway."""
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    loop.add_signal_handler(signal.SIGTERM, fired.append, "gateway")
    sim = simulator()
    try:
        async with sim.running() as url:
            settings = OrganizationSettings.model_validate(orgs(url)["beifang"])
            reader = ReaderProcess("bf", load_plugins().spec("beifang"), settings)
            try:
                pages = [p async for p in reader.read("scores", None, RequestStats())]
                assert sum(len(p.records) for p in pages) == len(sim.truth.scores)
                pipe = reader._pages._transport.get_extra_info("pipe")  # type: ignore[union-attr]
                assert fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) >= 1 << 20  # a page fits
                child = reader.pid  # set up, and waiting for the next read
                assert child is not None
                watch = os.pidfd_open(child)
                try:
                    os.kill(child, signal.SIGTERM)
                    ready, _, _ = select.select([watch], [], [], 30)
                    assert ready == [watch]  # ended by it: no inherited handler caught it
                finally:
                    os.close(watch)
                for _ in range(3):  # a wake-up byte in the loop's pipe would be read by now
                    await asyncio.sleep(0)
                assert fired == []
            finally:
                reader.stop(kill=True)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
