"""Console speed: the dashboard and a learner look-up with 100,000 learners, over HTTP.

A database gets N candidates (each with a learning account; 学号, names drawn from a small
pool so a name finds several people) and registrations for a fifth of them in mixed states;
the real console application (``build_app``) serves it on a loopback port and an API-token
client asks, several times each: ``GET /api/dashboard``, ``POST /api/learners/search`` by
学号, by name and by ID number, and ``GET /api/learners/{ref}`` (registrations, scores,
certificates, transcript). The slowest median of those is compared with the 200 ms target,
on SQLite and PostgreSQL:

    python -m benchmarks.console_lookup [N] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness.gateway import DATA, KEYS, database, keys_file
from benchmarks.harness.report import machine, ratio_line
from gateway.idnumber import check_char
from gateway.masking import mask_id
from gateway.store import tables as t

TARGET_MS = 200.0
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def _id(rng: random.Random) -> str:
    born = f"{rng.randrange(1990, 2009):04d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    first17 = (
        f"{rng.choice(('210902', '110105', '320106', '440304'))}{born}{rng.randrange(1000):03d}"
    )
    return first17 + check_char(first17)


def people(n: int, seed: int = 17) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    seen: set[str] = set()
    while len(out) < n:
        number = _id(rng)
        if number in seen:
            continue
        seen.add(number)
        out.append(
            {
                "id_hash": KEYS.hash_id(number),
                "id_type": "resident",
                "id_number": "sealed-elsewhere",  # the look-up never opens it
                "id_masked": mask_id(number),
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "student_number": f"2024{len(out):06d}",
                "major": "应用化工技术",
                "class_name": f"应化24{len(out) % 40:02d}",
                "created_at": now,
                "updated_at": now,
                "_number": number,
            }
        )
    return out


STATUSES = ("accepted", "accepted", "accepted", "rejected", "pending", "unknown")


async def register(gw: Any, count: int) -> None:
    """Registrations for the first ``count`` candidates, in a mix of states."""
    from sqlalchemy import select

    now = datetime.now(UTC)
    async with gw.db.begin() as conn:
        ids = (
            await conn.execute(select(t.candidates.c.id).order_by(t.candidates.c.id).limit(count))
        ).scalars()
        regs = [
            {
                "idempotency_key": f"bench:{cid}",
                "organization": "beifang",
                "plan_code": "BF-2026-HGJL-2",
                "candidate_id": cid,
                "status": STATUSES[cid % len(STATUSES)],
                "fee_waived": False,
                "resit": False,
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
            }
            for cid in ids
        ]
        for i in range(0, len(regs), 5000):
            await conn.execute(t.registrations.insert(), regs[i : i + 5000])


async def fill(gw: Any, rows: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    async with gw.db.begin() as conn:
        for i in range(0, len(rows), 5000):
            chunk = rows[i : i + 5000]
            await conn.execute(
                t.candidates.insert(),
                [{k: v for k, v in r.items() if k != "_number"} for r in chunk],
            )
            await conn.execute(
                t.learning_accounts.insert(),
                [
                    {
                        "id_hash": r["id_hash"],
                        "id_masked": r["id_masked"],
                        "name": r["name"],
                        "kind": "student",
                        "created_at": now,
                        "head_seq": 0,
                    }
                    for r in chunk
                ],
            )


async def timed(client: httpx.AsyncClient, method: str, url: str, rounds: int, **kw: Any) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        r = await client.request(method, url, **kw)
        times.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
    return statistics.median(times)


async def measure(backend: str, n: int, rounds: int, folder: Path) -> dict[str, float]:
    from aiohttp import web

    from gateway.runtime import open_gateway
    from gateway.server import build_app
    from gateway.settings import Settings
    from gateway.users import add_user, new_token

    async with database(backend, folder) as (url, schema):
        settings = Settings(
            database_url=url,
            database_schema=schema,
            keys_file=keys_file(),
            catalogue_file=DATA / "catalogue.toml",
            console={"upload_dir": folder / "uploads"},
        )
        async with open_gateway(settings=settings) as gw:
            rows = people(n)
            started = time.perf_counter()
            await fill(gw, rows)
            await register(gw, n // 5)
            print(f"  {backend}: {n} learners written in {time.perf_counter() - started:.1f}s")
            await add_user(gw.db, "bench", "staff", "benchmark password")
            token = await new_token(gw.db, "bench")
            runner = web.AppRunner(build_app(gw), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}"
            who = rows[n // 2]
            try:
                async with httpx.AsyncClient(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
                ) as client:
                    await client.get("/api/dashboard")  # warm-up
                    result = {
                        "dashboard": await timed(client, "GET", "/api/dashboard", rounds),
                        "by 学号": await timed(
                            client,
                            "POST",
                            "/api/learners/search",
                            rounds,
                            json={"q": who["student_number"]},
                        ),
                        "by name": await timed(
                            client, "POST", "/api/learners/search", rounds, json={"q": who["name"]}
                        ),
                        "by ID number": await timed(
                            client,
                            "POST",
                            "/api/learners/search",
                            rounds,
                            json={"q": who["_number"]},
                        ),
                    }
                    found = await client.post("/api/learners/search", json={"q": who["_number"]})
                    ref = found.json()["learners"][0]["ref"]
                    result["learner page"] = await timed(
                        client, "GET", f"/api/learners/{ref}", rounds
                    )
            finally:
                await runner.cleanup()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learners", nargs="?", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"# console look-up; {machine()}")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        for backend in backends:
            r = asyncio.run(measure(backend, args.learners, args.rounds, Path(tmp)))
            parts = ", ".join(f"{k} {v:.1f} ms" for k, v in r.items())
            print(f"{backend}, {args.learners} learners, median of {args.rounds}: {parts}")
            worst = max(worst, *r.values())
    print(f"slowest median {worst:.1f} ms against {TARGET_MS:g} ms")
    print(ratio_line(worst / TARGET_MS, 1.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
