"""Simulated organizations in a process of their own, so they never share the gateway's core.

On a 2-core machine an in-process simulator would take CPU from the very loop being measured
and its memory would count in the gateway's peak RSS. ``python -m benchmarks.harness.simserver
--orgs 10 --records 1000 --latency 0.05`` loads the organizations, prints one JSON line
(``{"urls": [...], "records": n}``) and serves until stdin closes or it is terminated.
``simulators(...)`` does that from a benchmark and stops the process afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xgate_simulators.faults import FaultPlan

from benchmarks.harness.bulk import BulkBeifang


@dataclass(frozen=True)
class Served:
    urls: list[str]
    records: int
    process: subprocess.Popen[str]


@contextlib.contextmanager
def simulators(
    *,
    orgs: int = 1,
    records: int = 1000,
    latency: float = 0.0,
    seed: int = 0,
    certificates: bool = False,
) -> Iterator[Served]:
    """Start ``orgs`` bulk-loaded Beifang simulators (``records`` each) in a subprocess."""
    argv = [
        sys.executable,
        "-m",
        "benchmarks.harness.simserver",
        "--orgs",
        str(orgs),
        "--records",
        str(records),
        "--latency",
        str(latency),
        "--seed",
        str(seed),
    ]
    if certificates:
        argv.append("--certificates")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator process ended early (exit {proc.wait()})")
        info = json.loads(line)
        yield Served(info["urls"], info["records"], proc)
    finally:
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _serve(args: argparse.Namespace) -> None:
    sims = []
    for i in range(args.orgs):
        sim = BulkBeifang(seed=args.seed + i)
        sim.load_scores(args.records, people_seed=args.seed + i, certificates=args.certificates)
        if args.latency:
            sim.set_faults(FaultPlan(latency=args.latency))
        await sim.start()
        sims.append(sim)
    print(json.dumps({"urls": [s.url for s in sims], "records": args.records}), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # stdin closing (the parent finished or died) also stops us
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    await stop.wait()
    for sim in sims:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=1)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--certificates", action="store_true")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
