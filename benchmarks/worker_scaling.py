"""Worker scaling: 1, 2 and 4 ``xgate worker`` processes syncing 20 slow organizations.

    .venv/bin/python -m benchmarks.worker_scaling [--orgs 20] [--latency 0.05] [--records 1000]

``--orgs`` bulk Beifang simulators (one process of their own) answer every request after
``--latency`` seconds and hold ``--records`` graded candidates each. For each worker count, a
fresh PostgreSQL schema; the workers (real processes, ``--concurrency`` jobs each) are started
and registered before the clock starts; ``xgate jobs queue sync`` (called in-process) queues
one job per organization stream; the clock stops when no job waits or runs. Every record must
be stored and no job failed.

Throughput is records per second. The machine's CPU use during each run (``/proc/stat``) says
whether the cores bind: with N processes on a 2-core machine, once the cores are busy more
workers only queue for CPU. Ratio = 2 x time(2 workers) / time(1 worker): 1.0 is perfectly
linear from one worker to two; target <= 1.5.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from benchmarks.harness.crash import XGATE
from benchmarks.harness.crash_workers import _connect_args
from benchmarks.harness.gateway import DATA, database, keys_file
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.simserver import simulators
from gateway.jobs.engine import open_app
from gateway.jobs.queue import queue_now
from gateway.runtime import open_gateway
from gateway.settings import load_settings

TARGET = 1.5


@dataclass
class Run:
    workers: int
    seconds: float
    records: int
    jobs: int
    cpu_busy: float  # share of the machine's CPU time that was busy during the run
    worker_cpu: float  # CPU seconds the worker processes used during the run
    postgres_cpu: float  # CPU seconds of the postgres processes (other users' too)
    worker_rss_mb: float  # largest worker's resident memory at the end
    simulator_cpu: float  # CPU seconds of the simulators' process (one process, all 20)

    @property
    def throughput(self) -> float:
        return self.records / self.seconds


def write_config(folder: Path, urls: list[str], url: str, schema: str, page_size: int) -> Path:
    lines = [
        f'database_url = "{url}"',
        f'database_schema = "{schema}"',
        f'catalogue_file = "{DATA / "catalogue.toml"}"',
        f'rules_file = "{DATA / "credit-rules.toml"}"',
        "[schedule]",
        'sync = ""',
        'reconcile = ""',
        'weekly_report = ""',
    ]
    for i, org_url in enumerate(urls):
        lines += [
            f"[organizations.bf{i}]",
            'plugin = "beifang"',
            f'base_url = "{org_url}"',
            f'client_id = "{DEFAULT_CLIENT_ID}"',
            f'client_secret = "{DEFAULT_CLIENT_SECRET}"',
            f"page_size = {page_size}",
        ]
    path = folder / "xgate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each live process has used so far."""
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings by the processes alive at the second (a process started
    in between counts whole; one that ended in between is lost: a lower bound)."""
    return sum(max(0.0, used - before.get(pid, 0.0)) for pid, used in after.items())


def postgres_pids() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm", encoding="ascii") as fh:
                if fh.read().strip() == "postgres":
                    found.append(int(entry))
    return found


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@contextlib.asynccontextmanager
async def workers(config: Path, n: int, concurrency: int) -> AsyncIterator[list[int]]:
    env = {**os.environ, "XGATE_CONFIG": str(config), "XGATE_KEYS": str(keys_file())}
    procs = [
        await asyncio.create_subprocess_exec(
            XGATE,
            "worker",
            "--concurrency",
            str(concurrency),
            env=env,
            cwd=config.parent,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await proc.wait()


async def _until(conn: asyncpg.Connection, query: str, done: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await conn.fetchval(query) != done:
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for: {query}")
        await asyncio.sleep(0.02)


async def run_once(
    n: int,
    urls: list[str],
    folder: Path,
    records: int,
    page_size: int,
    concurrency: int,
    simulator_pid: int,
) -> Run:
    async with database("postgresql", folder) as (url, schema):
        assert schema is not None
        config = write_config(folder, urls, url, schema, page_size)
        settings = load_settings(config, keys_file=keys_file())
        conn = await asyncpg.connect(**_connect_args(url, schema))
        try:
            async with (
                open_gateway(settings=settings) as gw,
                open_app(settings, schedules=False) as app,
                workers(config, n, concurrency) as pids,
            ):
                await _until(conn, "SELECT count(*) FROM procrastinate_workers", n, 300)
                busy0, total0 = cpu_ticks()
                mine0, pg0 = process_cpu(pids), process_cpu(postgres_pids())
                sim0 = process_cpu([simulator_pid])
                with Timer() as t:
                    jobs = await queue_now(app, gw, "sync")
                    await _until(
                        conn,
                        "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
                        0,
                        1800,
                    )
                busy1, total1 = cpu_ticks()
                mine1, pg1 = process_cpu(pids), process_cpu(postgres_pids())
                sim1 = process_cpu([simulator_pid])
                rss = max(rss_mb(pid) for pid in pids)
            stored = await conn.fetchval("SELECT count(*) FROM scores")
            failed = await conn.fetchval(
                "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'"
            )
        finally:
            await conn.close()
    if stored != len(urls) * records or failed:
        raise RuntimeError(f"{n} workers: {stored} records stored, {failed} jobs not succeeded")
    busy = (busy1 - busy0) / max(1, total1 - total0)
    return Run(
        n,
        t.seconds,
        stored,
        len(jobs),
        busy,
        cpu_between(mine0, mine1),
        cpu_between(pg0, pg1),
        rss,
        cpu_between(sim0, sim1),
    )


async def measure(
    counts: list[int], orgs: int, latency: float, records: int, page_size: int, concurrency: int
) -> list[Run]:
    runs = []
    with (
        simulators(orgs=orgs, records=records, latency=latency) as served,
        tempfile.TemporaryDirectory(prefix="xgate-scale-") as tmp,
    ):
        for n in counts:
            run = await run_once(
                n, served.urls, Path(tmp), records, page_size, concurrency, served.process.pid
            )
            print(
                f"{n} worker(s): {run.seconds:6.2f} s, {run.throughput:7.0f} records/s, "
                f"{run.jobs} jobs, machine CPU busy {run.cpu_busy:.0%}, workers' CPU "
                f"{run.worker_cpu:.1f} s, postgres CPU {run.postgres_cpu:.1f} s (all users), "
                f"simulators' CPU {run.simulator_cpu:.1f} s, worker RSS {run.worker_rss_mb:.0f} MB",
                flush=True,
            )
            runs.append(run)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--records", type=int, default=1000, help="per organization")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args(argv)
    print(f"# worker scaling on postgresql; {machine()}")
    print(
        f"# {args.orgs} organizations x {args.records} records, {args.page_size} a page, "
        f"{args.latency * 1000:.0f} ms latency; {args.concurrency} jobs per worker"
    )
    runs = asyncio.run(
        measure(
            args.workers, args.orgs, args.latency, args.records, args.page_size, args.concurrency
        )
    )
    by = {r.workers: r for r in runs}
    if 1 in by and 2 in by:
        print(ratio_line(2 * by[2].seconds / by[1].seconds, TARGET))
    else:
        print(ratio_line(1.0, TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
