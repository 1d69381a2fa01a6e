"""Memory: peak RSS of ``xgate sync`` over 1,000,000 records against 100,000.

    .venv/bin/python -m benchmarks.memory --large 1000000 --small 100000

Each size: a Beifang simulator (a process of its own) holding N score records, and a real
``xgate sync --json`` (a process of its own, fresh SQLite database) whose peak RSS the kernel
reports through ``wait4`` (with ``--reader process``, the larger of the sync's process and its
reader process: the kernel reports the largest descendant, not the sum). A sync holds at most
a transaction's pages and the pages read ahead (32 each, ``gateway.sync.GROUP_PAGES``), so its
memory must not grow with the stream.
Ratio = peak RSS (large) / peak RSS (small). Target <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness.command import run_xgate, write_config
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.simserver import simulators

TARGET = 1.2


def peak_rss(records: int, page_size: int, folder: Path, reader: str) -> tuple[int, float]:
    """(peak RSS in KiB, seconds) of one full ``xgate sync`` of ``records`` records."""
    with simulators(records=records) as served:
        db = folder / f"mem-{records}.db"
        config = write_config(
            folder, served.urls, f"sqlite+aiosqlite:///{db}", page_size=page_size, reader=reader
        )
        created = run_xgate(config, "db", "upgrade")  # commands never create a database
        if created.returncode != 0:
            raise RuntimeError(f"xgate db upgrade failed: {created.stderr[-800:]}")
        with Timer() as t:
            done = run_xgate(config, "sync", "--json")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"xgate sync failed ({done.returncode}): {done.stderr[-800:]}")
    totals = json.loads(done.stdout)["totals"]
    if totals["records"] != records:
        raise RuntimeError(f"xgate sync read {totals['records']} of {records} records")
    return done.max_rss_kib, t.seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--reader", choices=("inline", "process"), default="inline")
    args = parser.parse_args(argv)
    print(f"# memory, sync_reader={args.reader}; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        small, small_s = peak_rss(args.small, args.page_size, Path(tmp), args.reader)
        print(
            f"records={args.small} peak_rss={small / 1024:.1f}MiB time={small_s:.1f}s", flush=True
        )
        large, large_s = peak_rss(args.large, args.page_size, Path(tmp), args.reader)
        print(f"records={args.large} peak_rss={large / 1024:.1f}MiB time={large_s:.1f}s")
    print(ratio_line(large / small, TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
