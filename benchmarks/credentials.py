"""Credentials: signing, serving the status list, verifying, at a college's or a province's size.

    .venv/bin/python -m benchmarks.credentials --credentials 20000

``--credentials`` learners each hold one certificate and get one signed OpenBadgeCredential
(issued one learner per transaction, as staff or the console would). A tenth of the
certificates are then revoked, and the status list, whose bits are computed from the records on
every request, is built and signed ``--rounds`` times; finally ``--verify`` credentials are
checked offline (DID document and status list from files), as an outside verifier would.
Ratio = seconds to build and sign the status list / 1 (target: under a second, so
``xgate serve`` can answer verifiers without a cache).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from benchmarks.harness.gateway import database, gateway
from benchmarks.harness.report import Timer, machine, ratio_line
from gateway.credentials.check import verify_file
from gateway.credentials.issue import issue_badges
from gateway.credentials.signing import college_key, did_document
from gateway.credentials.status import signed_list
from gateway.credit import ensure_accounts
from gateway.store import tables as t

TARGET = 1.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _seed(gw: Any, n: int) -> list[str]:
    people = [f"{i:064x}" for i in range(1, n + 1)]
    async with gw.db.begin() as conn:
        await ensure_accounts(conn, [(h, "m", f"学员{i}", "student") for i, h in enumerate(people)])
        await conn.execute(
            t.certificates.insert(),
            [
                {
                    "organization": "beifang",
                    "number": f"BF-{i:08d}",
                    "certificate_code": "HGJL",
                    "certificate_name": "化工精馏安全控制",
                    "level": 2,
                    "id_hash": h,
                    "issued_on": date(2026, 1, 10),
                    "status": "valid",
                    "org_updated_at": NOW,
                    "updated_at": NOW,
                }
                for i, h in enumerate(people)
            ],
        )
    return people


async def measure(n: int, rounds: int, verify: int, folder: Path) -> dict[str, float]:
    async with database("sqlite", folder) as (url, schema):
        conf = {"public_url": "http://127.0.0.1:9"}
        async with gateway(url, schema, {}, credentials=conf) as gw:
            people = await _seed(gw, n)
            files = []
            with Timer() as issue_t:
                for i, h in enumerate(people):
                    issued = (await issue_badges(gw, h))[0]
                    if i < verify:
                        path = folder / f"c{i}.json"
                        path.write_text(json.dumps(issued.file()))
                        files.append(path)
            async with gw.db.begin() as conn:
                await conn.execute(
                    update(t.certificates)
                    .where(t.certificates.c.id % 10 == 0)
                    .values(status="revoked")
                )
            key = college_key(gw.keys)
            best = float("inf")
            for _ in range(rounds):
                with Timer() as list_t:
                    async with gw.db.connect() as conn:
                        token = await signed_list(conn, gw.settings.credentials, key, 1)
                best = min(best, list_t.seconds)
            (folder / "status.jwt").write_text(token)
            (folder / "did.json").write_text(json.dumps(did_document(gw.settings.credentials, key)))
            with Timer() as verify_t:
                verdicts = [
                    await verify_file(
                        f,
                        did_document=str(folder / "did.json"),
                        status_list=str(folder / "status.jwt"),
                    )
                    for f in files
                ]
    bad = [v for v in verdicts if v.status not in ("valid", "revoked")]
    if bad:
        raise RuntimeError(f"verification failed: {bad[0].problems}")
    return {
        "issue": issue_t.seconds,
        "list": best,
        "verify": verify_t.seconds,
        "verified": len(files),
        "revoked_seen": sum(v.status == "revoked" for v in verdicts),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--credentials", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verify", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        m = asyncio.run(measure(args.credentials, args.rounds, args.verify, Path(tmp)))
    n = args.credentials
    print(f"machine: {machine()}")
    print(
        f"issued {n} credentials in {m['issue']:.2f}s ({n / m['issue']:.0f}/s, one learner per "
        "transaction)"
    )
    print(f"status list over {n} credentials (10% revoked), built and signed: {m['list']:.3f}s")
    print(
        f"verified {m['verified']:.0f} offline in {m['verify']:.2f}s "
        f"({m['verified'] / max(m['verify'], 1e-9):.0f}/s; {m['revoked_seen']:.0f} revoked)"
    )
    print(ratio_line(m["list"] / 1.0, TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
