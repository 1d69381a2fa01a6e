"""The crash harness with several workers: ``xgate worker`` processes on PostgreSQL SIGKILLed
at seeded moments, restarted, and the ground truth checked after every trial.

Three (``workers``) real ``xgate worker`` processes run for the whole harness. Each trial
first changes the organizations' world as ``crash.run_trials`` does (odd trials: a staff
``xgate submit``, itself killed at a seeded request so its registrations are left to the
workers; even trials: grading, certificates, corrections, revocations), then queues the
nightly work with ``xgate jobs queue nightly`` and, while the workers run it, kills one worker
at a seeded moment of one of three kinds:

- ``request@k``: the worker that sent the k-th request to an organization, while the
  organization handles it (so the organization may commit what the worker never hears);
- ``transaction@n``: a worker whose PostgreSQL connection is inside a write transaction
  (a page being applied, an outbox transition), at the n-th sighting;
- ``lock@n``: a worker holding a stream's or outbox's advisory lock, at the n-th sighting.

Which worker process owns a connection is read from ``/proc`` (the socket's local port, then
the process holding that socket), so the harness kills exactly the worker doing the thing.
A killed worker is started again at once; its job is requeued by the others once its
heartbeat is stale. When the queue is empty, ``crash.verify`` checks the ground truth: nobody
registered twice, every page applied once (one revision row per revision), certificates
right, no credit twice, the ledger verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from benchmarks.harness.crash import (
    XGATE,
    CrashConfig,
    CrashReport,
    Simulator,
    Trial,
    Tripwire,
    _evolve,
    _run,
    verify,
    write_config,
)
from benchmarks.harness.gateway import keys_file
from benchmarks.harness.soak import ORGANIZATIONS, write_candidates
from gateway.jobs.engine import SCHEMA_LOCK, open_app
from gateway.jobs.queue import queue_now
from gateway.runtime import open_gateway
from gateway.settings import load_settings

PEER: ContextVar[int | None] = ContextVar("crash_peer_port", default=None)
MOMENTS = ("request", "transaction", "lock")
#: fast heartbeats so a killed worker's job is requeued within seconds; no schedules
WORKER_SETTINGS = (
    "[schedule]",
    'sync = ""',
    'reconcile = ""',
    'weekly_report = ""',
    "[worker]",
    "heartbeat = 0.25",
    "stalled_after = 1.5",
    "attempts = 20",
    "retry_wait = 0",
)
IN_WRITE_TRANSACTION = """
SELECT client_port FROM pg_stat_activity
 WHERE backend_xid IS NOT NULL AND client_port IS NOT NULL
   AND query !~* 'procrastinate'
   AND query ~* '(scores|certificates|credit_ledger|learning_accounts|sync_cursors|registrations)'
"""
HOLDING_A_LOCK = """
SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND a.client_port IS NOT NULL
   AND NOT (l.classid = $1 AND l.objid = $2)
"""


@dataclass
class WorkersConfig(CrashConfig):
    workers: int = 3
    concurrency: int = 2
    drain_timeout: float = 300.0


def _local_port_inodes() -> dict[int, str]:
    """Local TCP port -> socket inode, for every socket on this machine."""
    found: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                found[int(parts[1].rsplit(":", 1)[1], 16)] = parts[9]
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def owner_of(port: int | None, pids: list[int]) -> int | None:
    """The process among ``pids`` whose socket has local port ``port``."""
    if port is None:
        return None
    inode = _local_port_inodes().get(port)
    if inode is None:
        return None
    return next((pid for pid in pids if inode in _socket_inodes(pid)), None)


class Pool:
    """The worker processes: started, killed on purpose, started again."""

    def __init__(self, config: Path, size: int, concurrency: int) -> None:
        self.config = config
        self.size = size
        self.concurrency = concurrency
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.killed: list[int] = []
        self.started = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values() if p.returncode is None]

    async def _start(self, slot: int) -> None:
        env = {**os.environ, "XGATE_CONFIG": str(self.config), "XGATE_KEYS": str(keys_file())}
        log = open(self.config.parent / f"worker{slot}-{self.started}.log", "wb")  # noqa: SIM115
        self.started += 1
        with log:
            self.procs[slot] = await asyncio.create_subprocess_exec(
                XGATE,
                "worker",
                "--concurrency",
                str(self.concurrency),
                env=env,
                cwd=self.config.parent,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )

    async def ensure(self) -> None:
        """Every slot has a live worker; a worker that died by itself is an error."""
        for slot in range(self.size):
            proc = self.procs.get(slot)
            if proc is not None and proc.returncode is None:
                continue
            if proc is not None and proc.pid not in self.killed:
                await proc.wait()
                raise AssertionError(f"worker {proc.pid} exited by itself ({proc.returncode})")
            if proc is not None:
                await proc.wait()
            await self._start(slot)

    def kill(self, pid: int) -> None:
        self.killed.append(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    async def stop(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


class WorkerTripwire(Tripwire):
    """The staff command's tripwire (``shared["pid"]``), plus: at the k-th request while
    ``shared["worker_at"]`` is armed, kill the worker that sent it."""

    def __init__(self, shared: dict[str, Any], pool: Pool) -> None:
        super().__init__(shared)
        self.pool = pool

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        s = self.shared
        if s.get("worker_at") is None:
            return
        s["worker_seen"] += 1
        if s["worker_seen"] >= s["worker_at"]:
            pid = owner_of(PEER.get(), self.pool.pids)
            if pid is not None:
                self.pool.kill(pid)
                s["worker_at"] = None
                s["worker_killed"] = True


@web.middleware
async def _remember_peer(request: web.Request, handler: Any) -> web.StreamResponse:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    PEER.set(int(peer[1]) if peer else None)
    response: web.StreamResponse = await handler(request)
    return response


def _watch_peers(sim: Simulator) -> None:
    """Let the tripwire see which client port each request came from."""
    build = sim.build_app

    def build_app() -> web.Application:
        app = build()
        app.middlewares.insert(0, _remember_peer)
        return app

    sim.build_app = build_app  # type: ignore[method-assign]


async def _watch_database(
    conn: asyncpg.Connection, pool: Pool, kind: str, nth: int, shared: dict[str, Any]
) -> None:
    """Kill a worker seen inside a write transaction (or holding a lock) at the n-th sighting."""
    seen = 0
    while True:
        if kind == "transaction":
            rows = await conn.fetch(IN_WRITE_TRANSACTION)
        else:
            rows = await conn.fetch(HOLDING_A_LOCK, SCHEMA_LOCK >> 32, SCHEMA_LOCK & 0xFFFFFFFF)
        for row in rows:
            pid = owner_of(row["client_port"], pool.pids)
            if pid is None:
                continue
            seen += 1
            if seen >= nth:
                pool.kill(pid)
                shared["worker_killed"] = True
                return
        await asyncio.sleep(0.005)


async def _drain(conn: asyncpg.Connection, pool: Pool, timeout: float) -> int:
    """Wait until no job is waiting or running (restarting killed workers meanwhile);
    returns how many jobs failed for good."""
    deadline = time.monotonic() + timeout
    while True:
        await pool.ensure()
        left = await conn.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        )
        if left == 0:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'"
                )
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{left} job(s) still waiting or running after {timeout}s")
        await asyncio.sleep(0.05)


def _connect_args(db_url: str, schema: str | None) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    args: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "database": url.database,
    }
    if schema:
        args["server_settings"] = {"search_path": schema}
    return args


async def run_worker_trials(
    folder: Path,
    db_url: str,
    schema: str | None,
    config: WorkersConfig,
    progress: Callable[[Trial], None] | None = None,
) -> CrashReport:
    """``config.trials`` trials with ``config.workers`` workers; PostgreSQL only."""
    if db_url.startswith("sqlite"):
        raise ValueError("several workers need PostgreSQL")
    rng = random.Random(config.seed)
    shared: dict[str, Any] = {"pid": None, "at": None, "seen": 0, "worker_at": None}
    sims: dict[str, Simulator] = {
        name: ORGANIZATIONS[name].make(config.seed + i) for i, name in enumerate(ORGANIZATIONS)
    }
    report = CrashReport()
    submitted: dict[str, list[str]] = {name: [] for name in sims}
    people_seed = config.seed * 100
    for sim in sims.values():
        _watch_peers(sim)
    async with sims["beifang"].running(), sims["liaohe"].running():
        xgate_toml = write_config(
            folder, sims, db_url, schema, config.page_size, extra=WORKER_SETTINGS
        )
        pool = Pool(xgate_toml, config.workers, config.concurrency)
        for sim in sims.values():
            sim.hits = WorkerTripwire(shared, pool)
        connect = _connect_args(db_url, schema)
        conn = await asyncpg.connect(**connect)
        settings = load_settings(xgate_toml, keys_file=keys_file())
        try:
            async with open_gateway(settings=settings) as gw, open_app(settings) as app:
                await pool.ensure()  # after the database exists: commands never create one
                night = _Night(
                    conn, connect, pool, shared, config, lambda: queue_now(app, gw, "nightly")
                )
                for number in range(1, config.trials + 1):
                    command = await _change_the_world(
                        number,
                        rng,
                        sims,
                        submitted,
                        folder,
                        xgate_toml,
                        shared,
                        people_seed,
                        config.people,
                    )
                    people_seed += 1
                    trial = await night.run(number, command, rng)
                    report.trials.append(trial)
                    await verify(db_url, schema, sims, submitted)
                    if progress is not None:
                        progress(trial)
        finally:
            await pool.stop()
            await conn.close()
    report.submitted = {org: len(ids) for org, ids in submitted.items()}
    return report


async def _change_the_world(
    number: int,
    rng: random.Random,
    sims: dict[str, Simulator],
    submitted: dict[str, list[str]],
    folder: Path,
    xgate_toml: Path,
    shared: dict[str, Any],
    people_seed: int,
    people: int,
) -> str:
    """Odd trials: staff submit a list (killed at a seeded request, left to the workers);
    even trials: the organizations grade, issue, correct and revoke."""
    if number % 2 == 0 and any(submitted.values()):
        _evolve(sims, rng)
        return "nightly"
    org = rng.choice(sorted(sims))
    book = folder / f"trial{number}.xlsx"
    submitted[org] += write_candidates(book, ORGANIZATIONS[org], people, people_seed)
    args = ["submit", str(book), "--org", org, "--plan", ORGANIZATIONS[org].plan, "--yes"]
    await _run(xgate_toml, args, shared, rng.randint(1, 3), None)
    return f"submit {org}"


@dataclass
class _Night:
    """Queue the nightly work (as ``xgate jobs queue nightly`` does, in this process: a command
    would add only its start-up time), kill one worker at the trial's moment, wait for the
    queue to empty."""

    conn: asyncpg.Connection
    connect: dict[str, Any]
    pool: Pool
    shared: dict[str, Any]
    config: WorkersConfig
    queue: Callable[[], Awaitable[list[int]]]

    async def run(self, number: int, command: str, rng: random.Random) -> Trial:
        return await _one_night(self, number, command, rng)


async def _one_night(night: _Night, number: int, command: str, rng: random.Random) -> Trial:
    conn, connect, pool, shared = night.conn, night.connect, night.pool, night.shared
    moment = MOMENTS[(number - 1) % len(MOMENTS)]  # every kind, in turn
    nth = rng.randint(1, 4)
    shared["worker_killed"] = False
    watcher: asyncio.Task[None] | None = None
    watch_conn = await asyncpg.connect(**connect)
    if moment == "request":
        shared.update(worker_at=nth, worker_seen=0)
    else:
        watcher = asyncio.create_task(_watch_database(watch_conn, pool, moment, nth, shared))
    try:
        await night.queue()
        failed = await _drain(conn, pool, night.config.drain_timeout)
    finally:
        shared["worker_at"] = None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await watch_conn.close()
    if failed:
        raise AssertionError(f"trial {number}: {failed} job(s) failed for good")
    killed = bool(shared["worker_killed"])
    await pool.ensure()
    return Trial(number, command, f"{moment}@{nth}", killed, 1 if killed else 0)


def kinds(report: CrashReport) -> Counter[str]:
    return Counter(t.moment.split("@")[0] for t in report.trials if t.killed)
