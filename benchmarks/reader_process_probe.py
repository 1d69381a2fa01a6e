"""Probe (not a feature): how fast would a sync be with its reader in a process of its own?

    .venv/bin/python -m benchmarks.reader_process_probe --records 50000 [--rounds 3]

docs/benchmarks.md ("What would move it now") proposes a *reader process* for issue 14: the
adapter's stream (HTTP, JSON, the wire mapping and the model) in a child process sending
pickled pages to the process that stores them, so that the two halves of a sync, each about
1.1-1.5 s of one core at 50,000 records, run on two cores instead of one. This probe measures
that shape with the real pieces and nothing else changed: a forked child opens a gateway for
the same Beifang simulator and sends each page of ``scores`` (pickled) down a pipe; the parent
runs the real ``run_sync`` on a fresh SQLite database with the stream read from the pipe
(``gateway.sync._open_stream`` replaced for the run). Against it, the same sync as shipped, and
dlt, alternating. What a real reader process would also need (settings and keys in the child,
the token, HTTP counters and failure decisions sent back, dying with the parent, a fork
server) is listed in docs/benchmarks.md; none of it is here, so the time is a lower bound.

The last line is ``ratio=<probe/dlt> target=0.5``; without dlt (the ``bench`` extra) it is
``ratio=<probe/shipped> target=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import pickle
import statistics
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.harness import dlt_contender
from benchmarks.harness.gateway import KEYS, beifang_orgs, database, gateway
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.simserver import simulators
from gateway import sync
from gateway.contract import Page

TARGET = 0.5


def _child(url: str, page_size: int, out: Connection) -> None:
    """The reader: fetch and map every scores page, send each pickled; ``b""`` at the end."""

    async def read() -> None:
        with tempfile.TemporaryDirectory(prefix="xgate-probe-") as tmp:
            async with (
                database("sqlite", Path(tmp)) as (db_url, schema),
                gateway(db_url, schema, beifang_orgs([url], page_size=page_size)) as gw,
            ):
                org = gw.organization("bf0")
                async for page in sync._open_stream(org, "scores", None):
                    out.send_bytes(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL))
        out.send_bytes(b"")

    asyncio.run(read())
    out.close()


async def _from_pipe(source: Connection) -> AsyncIterator[Page[Any]]:
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.run_in_executor(None, source.recv_bytes)
        if not data:
            return
        yield pickle.loads(data)


async def probe_round(url: str, records: int, page_size: int, folder: Path) -> float:
    """Wall seconds of a full sync whose scores come from a forked reader process."""
    fork = multiprocessing.get_context("fork")
    receive, send = fork.Pipe(duplex=False)
    with Timer() as t:
        reader = fork.Process(target=_child, args=(url, page_size, send), daemon=True)
        reader.start()
        send.close()
        original = sync._open_stream

        def from_reader(org: Any, stream: str, cursor: str | None) -> AsyncIterator[Page[Any]]:
            if stream == "scores":
                return _from_pipe(receive)
            return original(org, stream, cursor)

        sync._open_stream = from_reader  # type: ignore[assignment]
        try:
            async with (
                database("sqlite", folder) as (db_url, schema),
                gateway(db_url, schema, beifang_orgs([url], page_size=page_size)) as gw,
            ):
                report = await sync.run_sync(gw)
                stored = report.totals()["new"]
        finally:
            sync._open_stream = original  # type: ignore[assignment]
            reader.join(30)
    if not report.ok or stored != records:
        raise RuntimeError(f"the probe stored {stored} of {records}: {report.as_dict()}")
    return t.seconds


async def shipped_round(url: str, records: int, page_size: int, folder: Path) -> float:
    async with (
        database("sqlite", folder) as (db_url, schema),
        gateway(db_url, schema, beifang_orgs([url], page_size=page_size)) as gw,
    ):
        with Timer() as t:
            report = await sync.run_sync(gw)
    if not report.ok or report.totals()["new"] != records:
        raise RuntimeError(f"the sync stored {report.totals()['new']} of {records}")
    return t.seconds


def dlt_round(url: str, records: int, page_size: int, folder: Path) -> float:
    from benchmarks.sync_throughput import python_defaults

    with python_defaults(), warnings.catch_warnings(), Timer() as t:
        warnings.simplefilter("ignore")
        stored = dlt_contender.run(url, page_size, KEYS.lookup_key.hex(), "sqlite", folder, None)
    if stored != records:
        raise RuntimeError(f"dlt stored {stored} of {records}")
    return t.seconds


async def measure(
    records: int, page_size: int, rounds: int, folder: Path, with_dlt: bool
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"probe": [], "shipped": []}
    if with_dlt:
        times["dlt"] = []
        dlt_contender.warm()
    with simulators(records=records) as served:
        url = served.urls[0]
        for i in range(rounds):
            order = ("probe", "shipped", "dlt") if i % 2 == 0 else ("dlt", "shipped", "probe")
            for who in order:
                if who == "probe":
                    times[who].append(await probe_round(url, records, page_size, folder))
                elif who == "shipped":
                    times[who].append(await shipped_round(url, records, page_size, folder))
                elif with_dlt:
                    times[who].append(dlt_round(url, records, page_size, folder))
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with_dlt = dlt_contender.available()
    print(f"# reader-process probe on sqlite; {machine()}")
    if not with_dlt:
        print('# dlt is not installed (pip install -e ".[bench]"): compared with the shipped sync')
    with tempfile.TemporaryDirectory(prefix="xgate-probe-") as tmp:
        times = asyncio.run(measure(args.records, args.page_size, args.rounds, Path(tmp), with_dlt))
    best = {k: min(v) for k, v in times.items()}
    print(
        f"records={args.records} rounds={args.rounds} min (median): "
        + " ".join(f"{k}={best[k]:.2f}s ({statistics.median(v):.2f}s)" for k, v in times.items())
    )
    if not with_dlt:
        print(ratio_line(best["probe"] / best["shipped"], 1.0))
        return 0
    print(f"shipped sync against dlt: {ratio_line(best['shipped'] / best['dlt'], TARGET)}")
    print(ratio_line(best["probe"] / best["dlt"], TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
