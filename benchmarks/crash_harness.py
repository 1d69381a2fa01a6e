"""Crash harness: ``xgate submit`` and ``xgate sync`` SIGKILLed at seeded moments and rerun;
nothing lost, nothing duplicated, nobody registered twice.

    .venv/bin/python -m benchmarks.crash_harness --trials 20 [--seed 2026] [--db postgresql]
    .venv/bin/python -m benchmarks.crash_harness --workers 3 --trials 20   # PostgreSQL

See ``benchmarks.harness.crash`` for the trials and the checks made after each, and
``benchmarks.harness.crash_workers`` for ``--workers N``: ``xgate worker`` processes killed
inside a page transaction, between a request and its commit, or while holding a lock. The last
line's ratio is the most registrations an organization holds per submitted candidate
(target 1); any other difference from the ground truth stops the run, naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness.crash import CrashConfig, CrashReport, Trial, run_trials
from benchmarks.harness.crash_workers import WorkersConfig, run_worker_trials
from benchmarks.harness.gateway import database
from benchmarks.harness.report import Timer, machine, ratio_line


def show(trial: Trial) -> None:
    print(
        f"trial {trial.number:2d}: {trial.command:15s} kill at {trial.moment:12s} "
        f"{'killed' if trial.killed else 'finished first'}; reruns {trial.reruns}; "
        "checks passed",
        flush=True,
    )


async def crash(backend: str, config: CrashConfig, folder: Path) -> CrashReport:
    async with database(backend, folder) as (url, schema):
        if isinstance(config, WorkersConfig):
            return await run_worker_trials(folder, url, schema, config, progress=show)
        return await run_trials(folder, url, schema, config, progress=show)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--people", type=int, default=120, help="candidates per submission")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--workers", type=int, default=0, help="N xgate worker processes (PostgreSQL)"
    )
    parser.add_argument(
        "--reader",
        choices=("inline", "process"),
        default="inline",
        help="the syncs' sync_reader: pages read in-process or by a reader process",
    )
    args = parser.parse_args(argv)
    if args.workers:
        args.db = "postgresql"
    # the simulators log the connections the killed processes dropped: expected here
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.basicConfig(level=logging.ERROR)
    workers = f", {args.workers} workers" if args.workers else ""
    print(f"# crash harness on {args.db}{workers}, sync_reader={args.reader}; {machine()}")
    config: CrashConfig = CrashConfig(
        trials=args.trials, seed=args.seed, people=args.people, reader=args.reader
    )
    if args.workers:
        config = WorkersConfig(
            trials=args.trials, seed=args.seed, people=args.people, workers=args.workers
        )
    with tempfile.TemporaryDirectory(prefix="xgate-crash-") as tmp, Timer() as t:
        report = asyncio.run(crash(args.db, config, Path(tmp)))
    print(f"{report.summary()}; {t.seconds:.0f}s; every check passed after every trial")
    # verify() after each trial already proved registrations == submitted for both
    print(ratio_line(1.0, 1.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
