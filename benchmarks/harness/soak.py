"""The fault soak: a staff submission and nightly syncs through a network that fails 30% of
the time, ending exactly at the organization's ground truth.

For one simulated organization (Beifang: JSON, idempotency keys, cursors; or Liaohe: signed
uploads, jobs, page numbers): a candidate workbook of N people goes through ``xgate submit``'s
path (``check_file`` then ``submit_checked``, run again for whatever is not settled, as staff
would run the command again); the organization grades; nightly syncs (each run again until it
succeeds, resuming from its checkpoints) read scores and certificates, with corrections and
revocations between nights. Faults: 5xx, 429 with ``Retry-After``, connection resets, answers
lost after the organization committed, stalls past the client's (small) timeout, malformed
bodies, plus repeated and shuffled records within pages. The core's waits go to an injected
sleep that records them, so only stalls cost real time (each one the client timeout).

``run_soak`` returns what happened; ``check_soak`` raises ``AssertionError`` naming the first
difference from the ground truth. Both the test and ``python -m benchmarks.fault_soak`` use them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select
from xgate_simulators.beifang import BeifangSimulator
from xgate_simulators.faults import FaultPlan
from xgate_simulators.liaohe import LiaoheSimulator
from xgate_simulators.server import StreamFaults

from benchmarks.harness.gateway import gateway
from benchmarks.harness.people import id_numbers
from gateway.credit.verify import verify_report
from gateway.intake import IntakeOptions, check_file
from gateway.intake.submit import submit_checked
from gateway.runtime import Gateway
from gateway.settings import HttpPolicy
from gateway.store import tables as t
from gateway.sync import run_sync
from gateway.testing.sleep import RecordingSleep

HEADERS = [
    "姓名",
    "证件号码",
    "性别",
    "手机号码",
    "专业",
    "证书名称",
    "等级",
    "考核批次",
    "是否家庭经济困难",
    "新考/补考",
]


@dataclass(frozen=True)
class Organization:
    """What differs between the two reference organizations."""

    name: str
    plan: str
    major: str
    certificate: str
    level: str
    make: Callable[[int], BeifangSimulator | LiaoheSimulator]
    section: Callable[[Any, int], dict[str, Any]]


ORGANIZATIONS = {
    "beifang": Organization(
        "beifang",
        "BF-2026-HGJL-2",
        "应用化工技术",
        "化工精馏安全控制",
        "中级",
        lambda seed: BeifangSimulator(seed=seed),
        lambda sim, page: {
            "plugin": "beifang",
            "base_url": sim.url,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "page_size": page,
        },
    ),
    "liaohe": Organization(
        "liaohe",
        "LH-2026-PLC-1",
        "电气自动化技术",
        "可编程控制器系统应用编程",
        "初级",
        lambda seed: LiaoheSimulator(seed=seed, disorder=0.1),
        lambda sim, page: {
            "plugin": "liaohe",
            "base_url": sim.url,
            "app_key": sim.app_key,
            "app_secret": sim.app_secret,
            "page_size": page,
            "poll_interval": 0.5,
        },
    ),
}


@dataclass(frozen=True)
class SoakConfig:
    people: int = 1000
    fault_rate: float = 0.30
    seed: int = 1
    page_size: int = 50
    nights: int = 3
    timeout: float = 0.25  # the client's read timeout; a stall lasts twice as long
    rounds: int = 25  # submissions / sync runs before giving up

    def faults(self) -> FaultPlan:
        """``fault_rate`` spread over every fault kind (stalls get a smaller share: each one
        costs the run a real client timeout)."""
        r = self.fault_rate
        return FaultPlan(
            error_5xx=r * 0.22,
            rate_limit=r * 0.22,
            retry_after=2,
            reset=r * 0.2,
            commit_then_drop=r * 0.12,
            stall=r * 0.06,
            stall_seconds=self.timeout * 2,
            malformed=r * 0.18,
            seed=self.seed,
        )

    def policy(self) -> HttpPolicy:
        """Generous retries (at 30% faults a request fails ten times in a row one time in
        170,000); the breaker is out of the way: this soak is about exactly-once, not pausing."""
        return HttpPolicy(
            attempts=10,
            timeout=self.timeout,
            connect_timeout=self.timeout,
            wait_base=0.01,
            wait_max=2,
            total_budget=600,
            breaker_threshold=100_000,
        )


@dataclass
class SoakResult:
    organization: str
    people: int
    submissions: int = 0
    sync_runs: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    stream_faults: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    waits: int = 0
    requests_seen: int = 0
    org_registrations: int = 0
    registration_items: int = 0
    replayed_items: int = 0
    scores: int = 0
    certificates: int = 0
    revoked: int = 0
    corrections: int = 0

    def summary(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return (
            f"{self.organization}: {self.people} candidates -> {self.org_registrations} "
            f"registrations at the organization ({self.registration_items} items sent, "
            f"{self.replayed_items} answered as replays) in {self.submissions} submission(s); "
            f"{self.scores} scores ({self.corrections} corrections), {self.certificates} "
            f"certificates ({self.revoked} revoked) in {self.sync_runs} sync runs; "
            f"{self.requests_seen} requests reached the organization; faults: {faults}; "
            f"core retries {self.retries}, injected waits {self.waits}"
        )


def write_candidates(path: Path, org: Organization, people: int, seed: int) -> list[str]:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    ws.append(HEADERS)
    numbers = list(id_numbers(people, seed))
    for i, number in enumerate(numbers):
        sex = "男" if int(number[16]) % 2 else "女"
        ws.append(
            [
                f"考生{i}",
                number,
                sex,
                f"139{i:08d}",
                org.major,
                org.certificate,
                org.level,
                org.plan,
                "否",
                "新考",
            ]
        )
    wb.save(path)
    return numbers


def mutate(sim: BeifangSimulator | LiaoheSimulator, night: int) -> int:
    """Corrections and revocations the organization makes between two nights."""
    keys = sorted(sim.truth.scores)
    changed = 0
    for key in keys[night::29]:  # at most one correction per person per night
        sim.correct_score(*key, practical=Decimal(35 + night))
        changed += 1
    valid = sorted(n for n, c in sim.truth.certificates.items() if c.status == "valid")
    for number in valid[night::37]:
        sim.revoke(number, f"复核撤销 {night}")
    return changed


async def _until(what: Callable[[], Awaitable[bool]], rounds: int, label: str) -> int:
    for n in range(1, rounds + 1):
        if await what():
            return n
    raise AssertionError(f"{label} did not succeed in {rounds} runs")


async def run_soak(
    organization: str, db_url: str, schema: str | None, folder: Path, config: SoakConfig
) -> SoakResult:
    org = ORGANIZATIONS[organization]
    sim = org.make(config.seed)
    sim.set_stream_faults(StreamFaults(duplicate=0.2, shuffle=0.3, seed=config.seed))
    result = SoakResult(organization, config.people)
    sleeper = RecordingSleep(yield_control=True)
    workbook = folder / f"{organization}-candidates.xlsx"
    write_candidates(workbook, org, config.people, config.seed)
    async with sim.running():
        section = {**org.section(sim, config.page_size), "http": config.policy().model_dump()}
        async with gateway(db_url, schema, {org.name: section}, sleep=sleeper) as gw:
            plan = config.faults()
            sim.set_faults(plan)
            result.submissions = await _until(
                lambda: _submit(gw, org, workbook), config.rounds, "the submission"
            )
            sim.grade_all()
            if isinstance(sim, BeifangSimulator):
                sim.issue_passed()
            for night in range(config.nights):
                if night:
                    result.corrections += mutate(sim, night)
                result.sync_runs += await _until(
                    lambda: _sync(gw), config.rounds, f"night {night + 1}'s sync"
                )
            sim.set_faults(None)
            await check_soak(gw, sim, org, config.people)
            result.retries = gw.organization(org.name).client.stats.retries
    result.faults = dict(plan.counts)
    result.stream_faults = dict(sim.stream_faults.counts) if sim.stream_faults else {}
    result.waits = len(sleeper.waits)
    result.requests_seen = sum(sim.hits.values())
    result.org_registrations = len(sim.truth.registrations)
    result.registration_items = sim.truth.registration_items
    result.replayed_items = sim.truth.replayed_items
    result.scores = len(sim.truth.scores)
    result.certificates = len(sim.truth.certificates)
    result.revoked = sum(1 for c in sim.truth.certificates.values() if c.status == "revoked")
    return result


async def _submit(gw: Gateway, org: Organization, workbook: Path) -> bool:
    from gateway.intake import load_rules

    rules = load_rules(gw.settings)
    plan = rules.catalogue.plans[org.plan]
    checked = check_file(
        workbook,
        rules,
        IntakeOptions(
            plan=plan,
            organization=org.name,
            organization_names=frozenset({org.name}),
            require_plan=True,
        ),
    )
    if checked.count("invalid"):
        raise AssertionError(f"the soak's workbook has {checked.count('invalid')} invalid rows")
    report = await submit_checked(
        gw, checked, organization=org.name, operator="soak", file_sha256="soak", plan_code=org.plan
    )
    return report.ok


async def _sync(gw: Gateway) -> bool:
    report = await run_sync(gw)
    if report.totals()["quarantined"]:
        raise AssertionError(f"records were quarantined: {report.as_dict()}")
    return report.ok


async def check_soak(
    gw: Gateway, sim: BeifangSimulator | LiaoheSimulator, org: Organization, people: int
) -> None:
    """The database equals the organization's ground truth, exactly."""
    truth = sim.truth
    # registrations: exactly one per candidate at the organization, each accepted here with
    # the organization's own reference
    assert len(truth.registrations) == people, (len(truth.registrations), people)
    assert {plan for plan, _ in truth.registrations} == {org.plan}
    async with gw.db.connect() as conn:
        regs = (await conn.execute(select(t.registrations))).mappings().all()
        scores = (await conn.execute(select(t.scores))).mappings().all()
        n_revisions = (
            await conn.execute(select(func.count()).select_from(t.score_revisions))
        ).scalar_one()
        certs = (await conn.execute(select(t.certificates))).mappings().all()
        verdict = await verify_report(conn)
    assert len(regs) == people, (len(regs), people)
    assert {r["status"] for r in regs} == {"accepted"}, Counter(r["status"] for r in regs)
    assert sorted(r["org_registration_id"] for r in regs) == sorted(
        r.registration_id for r in truth.registrations.values()
    )
    hashed = {idn: gw.hash_id(idn) for _, idn in truth.registrations}
    stored = {
        (r["plan_code"], r["id_hash"]): (
            r["theory"],
            r["practical"],
            r["total"],
            bool(r["absent"]),
            r["revision"],
        )
        for r in scores
    }
    expected = {
        (plan, hashed[idn]): (
            s.current.theory,
            s.current.practical,
            s.current.total,
            s.current.absent,
            revisions_seen(s),
        )
        for (plan, idn), s in truth.scores.items()
    }
    assert stored == expected, _first_difference(stored, expected)
    # history rows are the superseded revisions: every revision but the current one
    assert n_revisions == sum(revisions_seen(s) - 1 for s in truth.scores.values())
    stored_certs = {r["number"]: (r["status"], r["revoked_reason"], r["id_hash"]) for r in certs}
    expected_certs = {
        n: (c.status, c.revoked_reason, hashed[c.id_number]) for n, c in truth.certificates.items()
    }
    assert stored_certs == expected_certs, _first_difference(stored_certs, expected_certs)
    assert verdict.ok, verdict.problems


def revisions_seen(score: Any) -> int:
    """The revisions a sync that read after every correction records: a correction that
    leaves every value as it was is no change (the gateway keeps no revision for it)."""

    def values(r: Any) -> tuple[Any, ...]:
        return (r.theory, r.practical, r.total, r.passed, r.absent)

    revs = score.revisions
    return 1 + sum(1 for a, b in pairwise(revs) if values(a) != values(b))


def _first_difference(got: dict[Any, Any], want: dict[Any, Any]) -> str:
    missing = sorted(set(want) - set(got))[:3]
    extra = sorted(set(got) - set(want))[:3]
    wrong = [(k, got[k], want[k]) for k in sorted(set(got) & set(want)) if got[k] != want[k]]
    return f"missing {missing}, extra {extra}, different {wrong[:3]} ({len(wrong)} in all)"
