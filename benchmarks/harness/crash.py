"""The crash harness: real ``xgate submit`` and ``xgate sync`` processes SIGKILLed at seeded
moments, rerun to completion, and the result compared with the organizations' ground truth.

Both reference organizations run in this process's event loop; the commands are processes of
their own, exactly as staff and cron start them. Each trial picks (from a seeded generator)
a command, then a moment: either the k-th request the command makes reaching an organization
(a tripwire in the simulators' hit counters kills the process while that request is being
handled, so the organization may commit what the client never hears about), or a delay after
start (the process may be anywhere: importing, in a database transaction, between pages).
The command is then run again until it succeeds. Between trials the organizations move on:
new candidates to submit, grading, certificates, corrections and revocations.

After every trial: every submitted candidate is registered exactly once at the organization
(Beifang: every candidate item it processed that was not an idempotent replay created a
registration; Liaohe: no candidate row was processed twice), every registration here is
accepted with the organization's own reference, the exam records equal the ground truth
(score values, one revision row per revision, certificate status), and the credit ledger
verifies. ``run_trials`` raises ``AssertionError`` naming the first difference.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from xgate_simulators.beifang import BeifangSimulator
from xgate_simulators.liaohe import LiaoheSimulator

from benchmarks.harness.gateway import DATA, KEYS, keys_file
from benchmarks.harness.soak import ORGANIZATIONS, revisions_seen, write_candidates
from gateway.credit.verify import verify_report
from gateway.store import open_database
from gateway.store import tables as t

XGATE = str(Path(sys.executable).with_name("xgate"))
Simulator = BeifangSimulator | LiaoheSimulator


class Tripwire(Counter[str]):
    """A simulator's hit counter that SIGKILLs the watched process at its k-th request
    (counted over every simulator sharing this tripwire)."""

    def __init__(self, shared: dict[str, Any]) -> None:
        super().__init__()
        self.shared = shared

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        s = self.shared
        if s.get("pid") and s.get("at") is not None:
            s["seen"] += 1
            if s["seen"] == s["at"]:
                os.kill(s["pid"], signal.SIGKILL)
                s["killed"] = True


@dataclass
class CrashConfig:
    trials: int = 20
    seed: int = 2026
    people: int = 120  # candidates per submission trial
    page_size: int = 25
    reruns: int = 6
    reader: str = "inline"  # the syncs' sync_reader (gateway.reader_process)


@dataclass
class Trial:
    number: int
    command: str
    moment: str
    killed: bool
    reruns: int


@dataclass
class CrashReport:
    trials: list[Trial] = field(default_factory=list)
    submitted: dict[str, int] = field(default_factory=dict)

    @property
    def killed(self) -> int:
        return sum(t.killed for t in self.trials)

    def summary(self) -> str:
        kinds = Counter(f"{t.command}/{t.moment.split('@')[0]}" for t in self.trials)
        what = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        return (
            f"{len(self.trials)} trials ({what}), {self.killed} processes killed mid-run, "
            f"{sum(t.reruns for t in self.trials)} reruns; submitted "
            + ", ".join(f"{o} {n}" for o, n in sorted(self.submitted.items()))
        )


def write_config(
    folder: Path,
    sims: dict[str, Simulator],
    db_url: str,
    schema: str | None,
    page_size: int,
    extra: tuple[str, ...] = (),
    *,
    reader: str = "inline",
) -> Path:
    lines = [
        f'database_url = "{db_url}"',
        f'sync_reader = "{reader}"',
        f'catalogue_file = "{DATA / "catalogue.toml"}"',
        f'rules_file = "{DATA / "credit-rules.toml"}"',
        f'fees_file = "{DATA / "fees.toml"}"',
        f'eligibility_file = "{DATA / "eligibility.toml"}"',
    ]
    if schema:
        lines.append(f'database_schema = "{schema}"')
    for name, sim in sims.items():
        section = ORGANIZATIONS[name].section(sim, page_size)
        lines.append(f"[organizations.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in section.items()]
        lines += [
            f"[organizations.{name}.http]",
            "attempts = 3",
            "wait_base = 0.05",
            "wait_max = 0.2",
        ]
    lines += extra
    path = folder / "xgate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _run(
    config: Path, args: list[str], shared: dict[str, Any], at: int | None, delay: float | None
) -> int:
    env = {**os.environ, "XGATE_CONFIG": str(config), "XGATE_KEYS": str(keys_file())}
    proc = await asyncio.create_subprocess_exec(
        XGATE,
        *args,
        env=env,
        cwd=config.parent,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    shared.update(pid=proc.pid, at=at, seen=0, killed=False)
    timer = None
    if delay is not None:
        timer = asyncio.get_running_loop().call_later(delay, _kill, proc)
    try:
        _, err = await proc.communicate()
    finally:
        shared.update(pid=None, at=None)
        if timer is not None:
            timer.cancel()
    if proc.returncode not in (0, 1, -signal.SIGKILL):
        raise AssertionError(
            f"xgate {' '.join(args)} failed ({proc.returncode}): "
            f"{err.decode(errors='replace')[-1500:]}"
        )
    return proc.returncode


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)


async def run_trials(
    folder: Path,
    db_url: str,
    schema: str | None,
    config: CrashConfig,
    progress: Callable[[Trial], None] | None = None,
) -> CrashReport:
    rng = random.Random(config.seed)
    shared: dict[str, Any] = {"pid": None, "at": None, "seen": 0}
    sims: dict[str, Simulator] = {
        name: ORGANIZATIONS[name].make(config.seed + i) for i, name in enumerate(ORGANIZATIONS)
    }
    for sim in sims.values():
        sim.hits = Tripwire(shared)
    report = CrashReport()
    submitted: dict[str, list[str]] = {name: [] for name in sims}
    people_seed = config.seed * 100
    async with sims["beifang"].running(), sims["liaohe"].running():
        xgate_toml = write_config(
            folder, sims, db_url, schema, config.page_size, reader=config.reader
        )
        await _run(xgate_toml, ["db", "upgrade"], {}, None, None)  # commands never create one
        for number in range(1, config.trials + 1):
            # the organizations move on; what the trial runs follows from what is there
            if number % 2 == 1 or not any(submitted.values()):
                org = rng.choice(sorted(sims))
                people_seed += 1
                book = folder / f"trial{number}.xlsx"
                submitted[org] += write_candidates(
                    book, ORGANIZATIONS[org], config.people, people_seed
                )
                args = [
                    "submit",
                    str(book),
                    "--org",
                    org,
                    "--plan",
                    ORGANIZATIONS[org].plan,
                    "--yes",
                    "--json",
                ]
                command = f"submit {org}"
            else:
                _evolve(sims, rng)
                args, command = ["sync", "--json"], "sync"
            if rng.random() < 0.6:
                # a submission makes 3 or more requests, a sync 8 or more
                at, delay = rng.randint(1, 3 if command != "sync" else 8), None
                moment = f"request@{at}"
            else:
                at, delay = None, rng.uniform(0.5, 3.0)
                moment = f"time@{delay:.2f}s"
            code = await _run(xgate_toml, args, shared, at, delay)
            killed = code == -signal.SIGKILL
            reruns = 0
            while code != 0:
                reruns += 1
                if reruns > config.reruns:
                    raise AssertionError(f"trial {number}: {command} never completed")
                code = await _run(xgate_toml, args, shared, None, None)
            report.trials.append(Trial(number, command, moment, killed, reruns))
            await verify(db_url, schema, sims, submitted)
            if progress is not None:
                progress(report.trials[-1])
    report.submitted = {org: len(ids) for org, ids in submitted.items()}
    return report


def _evolve(sims: dict[str, Simulator], rng: random.Random) -> None:
    """Grading, certificates, a few corrections and revocations, as between two nights."""
    for sim in sims.values():
        keys = sorted(sim.truth.scores)  # graded earlier, so a sync saw their first revision
        sim.grade_all()
        if isinstance(sim, BeifangSimulator):
            sim.issue_passed()
        for key in rng.sample(keys, min(3, len(keys))):
            sim.correct_score(*key, theory=Decimal(rng.randint(30, 100)))
        valid = sorted(n for n, c in sim.truth.certificates.items() if c.status == "valid")
        for cert in rng.sample(valid, min(2, len(valid))):
            sim.revoke(cert, "复核撤销")


async def verify(
    db_url: str, schema: str | None, sims: dict[str, Simulator], submitted: dict[str, list[str]]
) -> None:
    db = await open_database(db_url, schema=schema)
    try:
        async with db.connect() as conn:
            regs = (await conn.execute(select(t.registrations))).mappings().all()
            scores = (await conn.execute(select(t.scores))).mappings().all()
            revisions = (
                await conn.execute(select(func.count()).select_from(t.score_revisions))
            ).scalar_one()
            certs = (await conn.execute(select(t.certificates))).mappings().all()
            over_cap = (
                await conn.execute(
                    select(t.credit_ledger.c.account_id, t.credit_ledger.c.course_code)
                    .group_by(t.credit_ledger.c.account_id, t.credit_ledger.c.course_code)
                    .having(func.sum(t.credit_ledger.c.credits) > 8)
                )
            ).all()
            verdict = await verify_report(conn)
    finally:
        await db.dispose()
    for name, sim in sims.items():
        truth = sim.truth
        plan = ORGANIZATIONS[name].plan
        assert truth.registered(plan) == set(submitted[name]), (
            f"{name}: {len(truth.registered(plan))} registered of {len(submitted[name])} submitted"
        )
        assert len(truth.registrations) == len(submitted[name])
        if isinstance(sim, BeifangSimulator):
            processed = truth.registration_items - truth.replayed_items
            assert processed == len(truth.registrations), (
                f"beifang processed {processed} candidate items for "
                f"{len(truth.registrations)} registrations: someone was sent twice"
            )
        else:
            assert not sim.attempts or max(sim.attempts.values()) == 1, (
                "liaohe: a candidate row was uploaded twice: "
                + str([k[0] for k, n in sim.attempts.items() if n > 1][:3])
            )
        mine = [r for r in regs if r["organization"] == name]
        assert len(mine) == len(submitted[name])
        assert {r["status"] for r in mine} <= {"accepted"}, Counter(r["status"] for r in mine)
        assert sorted(r["org_registration_id"] for r in mine) == sorted(
            r.registration_id for r in truth.registrations.values()
        )
    expected_scores = {}
    expected_certs = {}
    expected_revisions = 0
    for name, sim in sims.items():
        for (plan, idn), s in sim.truth.scores.items():
            r = s.current
            expected_scores[(name, plan, KEYS.hash_id(idn))] = (
                _dec(r.theory),
                _dec(r.practical),
                _dec(r.total),
                r.absent,
                revisions_seen(s),
            )
            expected_revisions += revisions_seen(s) - 1  # superseded ones only
        for number, c in sim.truth.certificates.items():
            expected_certs[(name, number)] = (
                c.status,
                c.revoked_reason,
                KEYS.hash_id(c.id_number),
            )
    stored_scores = {
        (r["organization"], r["plan_code"], r["id_hash"]): (
            _dec(r["theory"]),
            _dec(r["practical"]),
            _dec(r["total"]),
            bool(r["absent"]),
            r["revision"],
        )
        for r in scores
    }
    assert stored_scores == expected_scores, _diff(stored_scores, expected_scores)
    assert revisions == expected_revisions, (revisions, expected_revisions)
    stored_certs = {
        (r["organization"], r["number"]): (r["status"], r["revoked_reason"], r["id_hash"])
        for r in certs
    }
    assert stored_certs == expected_certs, _diff(stored_certs, expected_certs)
    assert over_cap == []
    assert verdict.ok, verdict.problems


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).normalize()


def _diff(got: dict[Any, Any], want: dict[Any, Any]) -> str:
    missing = sorted(set(want) - set(got))[:3]
    extra = sorted(set(got) - set(want))[:3]
    wrong = [(k, got[k], want[k]) for k in sorted(set(got) & set(want)) if got[k] != want[k]]
    return f"missing {missing}, extra {extra}, different {wrong[:3]} ({len(wrong)} in all)"
