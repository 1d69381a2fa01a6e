"""Sync throughput: xgate against dlt, the general loader, and against a bare fetch.

    .venv/bin/python -m benchmarks.sync_throughput --records 200000 [--db postgresql]
        [--rounds 3] [--no-dlt] [--explain] [--profile] [--reader process|inline]

One Beifang simulator (in its own process) holds N graded candidates. Every round, against the
same simulator and each into a fresh database of the same kind:

* the bare reference: an httpx fetch of every page (``bare-fetch``), one ``validate_json`` pass
  and a bare ``executemany`` upsert per page (``benchmarks.harness.reference``);
* xgate: a full ``run_sync`` (every page validated, upserted with history, learning accounts
  created and credit reconciled with the demo rules, the cursor checkpointed), its pages read
  by a reader process (``sync_reader = "process"``; ``--reader inline`` reads them in the
  gateway's process); its CPU includes the reader process's;
* dlt 1.31's ``rest_api`` source, merge on the natural key (``benchmarks.harness.dlt_contender``;
  needs the ``bench`` extra, left out with ``--no-dlt`` or when not installed).

xgate and dlt swap places every round; the minimum and the median of each are printed, the
minimum counts (on a shared machine the fastest run is the least disturbed). The last line is
``ratio=<xgate/dlt> target=0.5``; the line before it compares xgate with the bare fetch (target
3.0; the last line when dlt is not installed). ``--explain`` (PostgreSQL) prints
``EXPLAIN (ANALYZE)`` of a page's score look-up on the synced table under a generic and a custom
plan (``benchmarks.harness.plans``). On PostgreSQL (127.0.0.1:5432, user postgres) every side
uses a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.harness import dlt_contender, plans, reference
from benchmarks.harness.gateway import KEYS, beifang_orgs, database, gateway
from benchmarks.harness.profiling import profiled
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.harness.simserver import simulators
from gateway.store import tables as t
from gateway.sync import run_sync

TARGET = 0.5  # xgate's time / dlt's
FETCH_TARGET = 3.0  # xgate's time / the bare fetch of the same pages


@contextlib.contextmanager
def python_defaults() -> Iterator[None]:
    """The bare reference and dlt run as they would in a process of their own: with CPython's
    collector thresholds, not the ones an xgate gateway set for this process on opening
    (``gateway.heap.working``); xgate's rounds keep xgate's."""
    kept = gc.get_threshold()
    gc.set_threshold(*CPYTHON_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*kept)


CPYTHON_GC_THRESHOLD = (700, 10, 10)


async def reference_round(
    url: str, page_size: int, backend: str, folder: Path
) -> tuple[dict[str, float], int]:
    """The three bare parts once: seconds of each, and the number of pages."""
    with Timer() as fetch_t:
        raw = await reference.fetch(url, page_size)
    with Timer() as validate_t:
        pages = reference.validate(raw)
    rows = reference.rows_of(pages, "bf0", KEYS.hash_id)
    if backend == "sqlite":
        rows = reference.for_sqlite(rows)
        path = folder / f"reference-{uuid.uuid4().hex[:8]}.db"
        try:
            with Timer() as upsert_t:
                reference.upsert(path, rows)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        async with database(backend, folder) as (_, ref_schema):
            assert ref_schema is not None
            with Timer() as upsert_t:
                await reference.upsert_postgresql(ref_schema, rows)
    return (
        {"fetch": fetch_t.seconds, "validate": validate_t.seconds, "upsert": upsert_t.seconds},
        len(raw),
    )


async def gateway_round(
    url: str,
    records: int,
    page_size: int,
    backend: str,
    folder: Path,
    credit: bool,
    profile: bool,
    explain: bool = False,
    reader: str = "process",
) -> tuple[float, float]:
    """One full sync into a fresh database; wall and CPU seconds (the gateway's process and
    its reader processes, ``gateway.reader_process``)."""
    async with (
        database(backend, folder) as (db_url, schema),
        gateway(
            db_url,
            schema,
            beifang_orgs([url], page_size=page_size),
            credit=credit,
            sync_reader=reader,
        ) as gw,
    ):
        with profiled(profile), Timer() as gateway_t:
            report = await run_sync(gw)
            children = children_cpu(gw.reader_pids())
        async with gw.db.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(t.scores))).scalar()
        if explain and schema is not None:
            print(await plans.explain_lookups(schema, page_size))
    if not report.ok or stored != records:
        raise RuntimeError(
            f"the sync did not store every record: {stored} of {records}; {report.as_dict()}"
        )
    return gateway_t.seconds, gateway_t.cpu + children


def children_cpu(pids: Sequence[int]) -> float:
    """CPU seconds the reader processes used so far (Linux ``/proc``; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def dlt_round(
    url: str, records: int, page_size: int, backend: str, folder: Path
) -> tuple[float, float]:
    """One full dlt load into a fresh database; wall and CPU seconds."""
    async with database(backend, folder) as (_, schema):
        with warnings.catch_warnings(), Timer() as dlt_t:
            warnings.simplefilter("ignore")  # dlt's own SQLAlchemy deprecation warnings
            stored = dlt_contender.run(
                url, page_size, KEYS.lookup_key.hex(), backend, folder, schema
            )
    if stored != records:
        raise RuntimeError(f"dlt did not store every record: {stored} of {records}")
    return dlt_t.seconds, dlt_t.cpu


async def measure(
    records: int,
    page_size: int,
    backend: str,
    folder: Path,
    credit: bool = True,
    profile: bool = False,
    rounds: int = 1,
    with_dlt: bool = True,
    explain: bool = False,
    reader: str = "process",
) -> dict[str, Any]:
    """The bare reference, dlt and xgate against one simulator (its order cache warm for all),
    ``rounds`` times; the two contenders swap places every round. Minimum and median count."""
    refs: list[dict[str, float]] = []
    runs: list[float] = []
    dlts: list[float] = []
    cpu: dict[str, list[float]] = {"xgate": [], "dlt": []}
    if with_dlt:
        dlt_contender.warm()
    with simulators(records=records) as served:
        url = served.urls[0]
        for i in range(rounds):
            with python_defaults():
                ref, n_pages = await reference_round(url, page_size, backend, folder)
            refs.append(ref)
            order = ("xgate", "dlt") if i % 2 == 0 else ("dlt", "xgate")
            for who in order:
                if who == "dlt" and with_dlt:
                    with python_defaults():
                        wall, used = await dlt_round(url, records, page_size, backend, folder)
                    dlts.append(wall)
                    cpu["dlt"].append(used)
                elif who == "xgate":
                    wall, used = await gateway_round(
                        url,
                        records,
                        page_size,
                        backend,
                        folder,
                        credit,
                        profile,
                        explain and i == 0,
                        reader,
                    )
                    runs.append(wall)
                    cpu["xgate"].append(used)
    best = {k: min(r[k] for r in refs) for k in ("fetch", "validate", "upsert")}
    parts = sum(best.values())
    return {
        "records": records,
        "pages": n_pages,
        "gateway": min(runs),
        "gateway_median": statistics.median(runs),
        "dlt": min(dlts) if dlts else None,
        "dlt_median": statistics.median(dlts) if dlts else None,
        **best,
        "parts": parts,
        "ratio": min(runs) / parts,
        "ratio_fetch": min(runs) / best["fetch"],
        "ratio_dlt": min(runs) / min(dlts) if dlts else None,
        "rounds": refs,
        "runs": runs,
        "dlts": dlts,
        "cpu": cpu,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--no-credit",
        action="store_true",
        help="run without credit rules (no accounts, no conversion)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the gateway's sync")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="reference, xgate and dlt (alternating) this many times; minimum and median",
    )
    parser.add_argument("--no-dlt", action="store_true", help="leave dlt out")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="PostgreSQL: EXPLAIN (ANALYZE) a page's score look-up, generic and custom plan",
    )
    parser.add_argument(
        "--reader",
        choices=("process", "inline"),
        default="process",
        help="xgate's sync_reader: pages read by a reader process (default) or in-process",
    )
    args = parser.parse_args(argv)
    with_dlt = not args.no_dlt and dlt_contender.available()
    print(f"# sync throughput on {args.db}, sync_reader={args.reader}; {machine()}")
    if not with_dlt and not args.no_dlt:
        print('# dlt is not installed (pip install -e ".[bench]"): compared with bare parts only')
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        r = asyncio.run(
            measure(
                args.records,
                args.page_size,
                args.db,
                Path(tmp),
                credit=not args.no_credit,
                profile=args.profile,
                rounds=args.rounds,
                with_dlt=with_dlt,
                explain=args.explain,
                reader=args.reader,
            )
        )
    _print(r)
    if r["ratio_dlt"] is not None:
        print(f"against the bare fetch: {ratio_line(r['ratio_fetch'], FETCH_TARGET)}")
        print(ratio_line(r["ratio_dlt"], TARGET))
    else:
        print(ratio_line(r["ratio_fetch"], FETCH_TARGET))
    return 0


def _print(r: dict[str, Any]) -> None:
    n = r["records"]
    line = (
        f"records={n} pages={r['pages']} rounds={len(r['runs'])} min (median): "
        f"xgate={r['gateway']:.2f}s ({r['gateway_median']:.2f}s; {n / r['gateway']:.0f} rec/s)"
    )
    if r["dlt"] is not None:
        line += f" dlt={r['dlt']:.2f}s ({r['dlt_median']:.2f}s; {n / r['dlt']:.0f} rec/s)"
    print(line + f" bare-fetch={r['fetch']:.2f}s")
    print(
        f"reference parts={r['parts']:.2f}s: fetch={r['fetch']:.2f}s "
        f"validate={r['validate']:.2f}s upsert={r['upsert']:.2f}s "
        f"(xgate/parts={r['ratio']:.3f})"
    )
    cpu = r["cpu"]
    line = f"process CPU, min: xgate={min(cpu['xgate']):.2f}s"
    if cpu["dlt"]:
        line += (
            f" dlt={min(cpu['dlt']):.2f}s "
            f"(xgate/dlt={min(cpu['xgate']) / min(cpu['dlt']):.3f}; xgate's reader included, "
            "the simulator's CPU not)"
        )
    print(line)
    for i, (ref, run) in enumerate(zip(r["rounds"], r["runs"], strict=True), 1):
        dlt = ""
        if r["dlts"]:
            dlt = f" dlt={r['dlts'][i - 1]:.2f}s (cpu {cpu['dlt'][i - 1]:.2f}s)"
        print(
            f"  round {i}: xgate={run:.2f}s (cpu {cpu['xgate'][i - 1]:.2f}s){dlt} "
            f"fetch={ref['fetch']:.2f}s validate={ref['validate']:.2f}s upsert={ref['upsert']:.2f}s"
        )


if __name__ == "__main__":
    sys.exit(main())
