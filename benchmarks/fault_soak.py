"""Fault soak: submission and nightly syncs through 30% injected faults, for both reference
organizations, ending exactly at their ground truth.

    .venv/bin/python -m benchmarks.fault_soak --people 1000 --rate 0.3 [--db postgresql]

See ``benchmarks.harness.soak`` for what runs and what is compared. Every difference from
the ground truth stops the run with the first one named. The last line's ratio is the most
registrations the organizations hold per submitted candidate (target 1: nobody lost, nobody
registered twice).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness.gateway import database
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.soak import ORGANIZATIONS, SoakConfig, SoakResult, run_soak


async def soak(
    organizations: list[str], backend: str, config: SoakConfig, folder: Path
) -> list[tuple[SoakResult, float]]:
    out = []
    for name in organizations:
        async with database(backend, folder) as (url, schema):
            with Timer() as t:
                result = await run_soak(name, url, schema, folder, config)
        out.append((result, t.seconds))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.30, help="share of requests faulted")
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--org", action="append", choices=sorted(ORGANIZATIONS))
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    # the simulators' own tracebacks for injected resets are noise here
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.basicConfig(level=logging.ERROR)
    config = SoakConfig(
        people=args.people, fault_rate=args.rate, nights=args.nights, seed=args.seed
    )
    print(f"# fault soak on {args.db}; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-soak-") as tmp:
        results = asyncio.run(soak(args.org or sorted(ORGANIZATIONS), args.db, config, Path(tmp)))
    for result, seconds in results:
        print(f"{result.summary()}; {seconds:.1f}s")
    worst = max(r.org_registrations / r.people for r, _ in results)
    print(ratio_line(worst, 1.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
