"""No change: the nightly run after a night when nothing happened at the organizations.

    .venv/bin/python -m benchmarks.no_change --orgs 3 --records 20000

``--orgs`` Beifang simulators (a process of their own) hold ``--records`` score records
each. A first sync reads everything; a second one, with nothing new, must cost one request
per organization stream (the stored cursor says "after the last record"; the organization
answers with an empty page) and next to no time. A third sync in a fresh gateway (a new
``xgate sync`` process, as cron starts it) adds one token request per organization, which is
printed apart. Ratio = most page requests any stream made / 1. Target 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness.gateway import beifang_orgs, database, gateway
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.simserver import simulators
from gateway.sync import SyncReport, run_sync

TARGET = 1.0


def _check(report: SyncReport) -> None:
    if not report.ok or report.totals()["new"] or report.totals()["changed"]:
        raise RuntimeError(f"a sync with nothing new changed something: {report.as_dict()}")


async def measure(orgs: int, records: int, page_size: int, folder: Path) -> dict[str, float]:
    with simulators(orgs=orgs, records=records) as served:
        sections = beifang_orgs(served.urls, page_size=page_size)
        async with database("sqlite", folder) as (url, schema):
            async with gateway(url, schema, sections, sync_concurrency=orgs) as gw:
                with Timer() as first_t:
                    first = await run_sync(gw)
                if not first.ok:
                    raise RuntimeError(f"the first sync failed: {first.as_dict()}")
                with Timer() as warm_t:
                    warm = await run_sync(gw)
                _check(warm)
            async with gateway(url, schema, sections, sync_concurrency=orgs) as gw:
                with Timer() as cold_t:
                    cold = await run_sync(gw)
                _check(cold)
    per_stream = [s.requests for s in warm.streams]
    cold_requests = sum(s.requests for s in cold.streams)
    return {
        "first": first_t.seconds,
        "first_requests": sum(s.requests for s in first.streams),
        "warm": warm_t.seconds,
        "cold": cold_t.seconds,
        "streams": len(per_stream),
        "max_requests": max(per_stream),
        "cold_requests": cold_requests,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args(argv)
    print(f"# no change; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        r = asyncio.run(measure(args.orgs, args.records, args.page_size, Path(tmp)))
    print(
        f"orgs={args.orgs} records/org={args.records}: first sync {r['first']:.2f}s "
        f"({r['first_requests']} requests)"
    )
    print(
        f"second sync, nothing new: {r['warm'] * 1000:.0f} ms, {r['streams']} streams, at most "
        f"{r['max_requests']} request(s) per stream"
    )
    print(
        f"same in a fresh gateway (new process): {r['cold'] * 1000:.0f} ms, "
        f"{r['cold_requests']} requests (one token per organization included)"
    )
    print(ratio_line(r["max_requests"] / 1, TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
