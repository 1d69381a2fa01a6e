"""``xgate demo``: the whole flow on a fresh machine, against the bundled simulators.

In a working folder (``./xgate-demo`` by default) it starts both simulated organizations on
loopback ports, checks and submits the sample candidate list (Chinese headers, ~200 students in
3 majors, a few deliberate mistakes that are reported and skipped), lets the organizations grade,
runs the nightly sync with certificate issuance, converts credit, and prints a summary.

The simulators keep their state in the folder (``simulators/*.state``), so a second run meets
the same organizations: everything is already settled, and it changes nothing.

It lives with the simulators, not in the core: ``gateway`` never imports a simulator; the
``xgate demo`` command imports this module only when it runs.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select

from gateway.keys import generate as generate_keys
from gateway.keys import write as write_keys
from gateway.nightly import run_nightly
from gateway.runtime import Gateway, open_gateway
from gateway.settings import load_settings
from gateway.store import tables as t

DEMO_SEED = 2026
DEMO_CONSOLE_USER = "demo"
DATA_FILES = (
    "catalogue.toml",
    "credit-rules.toml",
    "fees.toml",
    "eligibility.toml",
    "candidates.xlsx",
    "roster.xlsx",
)


def demo_data() -> Path:
    """The demo's data files: ``examples/data`` in a checkout, packaged data in a wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "data", package.parents[1] / "data"):
        if (candidate / "catalogue.toml").exists():
            return candidate
    raise FileNotFoundError("the demo data (examples/data) is not installed")


@dataclass
class PlanLine:
    organization: str
    plan: str
    certificate: str
    registered: int = 0
    rejected: int = 0
    sat: int = 0
    passed: int = 0
    certificates: int = 0
    credits: Decimal = Decimal(0)


@dataclass
class DemoSummary:
    directory: str
    database: str
    first_run: bool
    lines: list[PlanLine] = field(default_factory=list)
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    submitted: int = 0
    credits_converted: Decimal = Decimal(0)
    ledger_entries: int = 0
    truth: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: int = 0
    sync_ok: bool = True
    seconds: float = 0.0
    console_user: str = ""
    console_password: str = ""
    roster: dict[str, int] = field(default_factory=dict)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    learner: dict[str, str] = field(default_factory=dict)  # first run: a code to try self-service

    @property
    def matches_truth(self) -> bool:
        return all(v["database"] == v["organization"] for v in self.truth.values())

    @property
    def ok(self) -> bool:
        return self.sync_ok and self.matches_truth


def ensure_keys(directory: Path) -> Path:
    """The demo's own key file in its folder, created on the first run (0600)."""
    path = directory / "xgate.keys"
    if not path.exists():
        write_keys(generate_keys(), path)
    return path


def write_config(directory: Path, urls: dict[str, str]) -> Path:
    from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from xgate_simulators.liaohe import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

    path = directory / "xgate.toml"
    db = (directory / "xgate.db").resolve()
    keys = ensure_keys(directory)
    path.write_text(
        f"""# Written by `xgate demo` for its simulated organizations (ports change every run).
database_url = "sqlite+aiosqlite:///{db.as_posix()}"
keys_file = "{keys.resolve().as_posix()}"
catalogue_file = "{(directory / "catalogue.toml").resolve().as_posix()}"
rules_file = "{(directory / "credit-rules.toml").resolve().as_posix()}"
fees_file = "{(directory / "fees.toml").resolve().as_posix()}"
eligibility_file = "{(directory / "eligibility.toml").resolve().as_posix()}"

[console]
upload_dir = "{(directory / "uploads").resolve().as_posix()}"

[organizations.beifang]
plugin = "beifang"
base_url = "{urls["beifang"]}"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"
page_size = 50

[organizations.liaohe]
plugin = "liaohe"
base_url = "{urls["liaohe"]}"
app_key = "{DEFAULT_APP_KEY}"
app_secret = "{DEFAULT_APP_SECRET}"
page_size = 50
poll_interval = 0.02
""",
        encoding="utf-8",
    )
    return path


async def _count(gw: Gateway, query: Any) -> int:
    async with gw.db.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _database_state(gw: Gateway) -> tuple[int, ...]:
    """Row counts of everything the demo writes: equal before and after means no change."""
    tables = (
        t.registrations,
        t.registration_events,
        t.scores,
        t.score_revisions,
        t.certificates,
        t.certificate_events,
        t.credit_ledger,
        t.learning_accounts,
        t.issue_requests,
        t.candidates,
        t.roster_students,
        t.roster_changes,
        t.roster_imports,
    )
    return tuple([await _count(gw, select(func.count()).select_from(x)) for x in tables])


async def _scalar(conn: Any, query: Any) -> Any:
    return (await conn.execute(query)).scalar_one()


async def summarise(gw: Gateway, summary: DemoSummary) -> None:
    reg, sc, cert, led = t.registrations, t.scores, t.certificates, t.credit_ledger
    count = func.count()
    async with gw.db.connect() as conn:
        plans = (await conn.execute(select(t.exam_plans).order_by(t.exam_plans.c.code))).all()
        for p in plans:
            line = PlanLine(p.organization, p.code, p.certificate_code)
            statuses = await conn.execute(
                select(reg.c.status, count)
                .where(reg.c.organization == p.organization, reg.c.plan_code == p.code)
                .group_by(reg.c.status)
            )
            by_status: dict[str, int] = {row[0]: row[1] for row in statuses}
            line.registered = by_status.get("accepted", 0)
            line.rejected = by_status.get("rejected", 0)
            of_plan = and_(sc.c.organization == p.organization, sc.c.plan_code == p.code)
            line.sat = await _scalar(conn, select(count).where(of_plan, sc.c.absent.is_(False)))
            line.passed = await _scalar(
                conn, select(count).where(of_plan, sc.c.rule_passed.is_(True))
            )
            valid = and_(
                cert.c.organization == p.organization,
                cert.c.plan_code == p.code,
                cert.c.status == "valid",
            )
            line.certificates = await _scalar(conn, select(count).where(valid))
            credits = await _scalar(
                conn,
                select(func.coalesce(func.sum(led.c.credits), 0))
                .join(
                    cert,
                    and_(
                        cert.c.organization == led.c.source_org, cert.c.number == led.c.source_ref
                    ),
                )
                .where(cert.c.plan_code == p.code, cert.c.organization == p.organization),
            )
            line.credits = Decimal(str(credits))
            summary.lines.append(line)
        rejected = await conn.execute(
            select(
                reg.c.organization,
                reg.c.plan_code,
                reg.c.reason_code,
                reg.c.reason,
                t.candidates.c.name,
            )
            .join(t.candidates, t.candidates.c.id == reg.c.candidate_id)
            .where(reg.c.status == "rejected")
            .order_by(reg.c.id)
        )
        summary.rejected = [dict(r._mapping) for r in rejected]
        total = await _scalar(conn, select(func.coalesce(func.sum(led.c.credits), 0)))
        summary.credits_converted = Decimal(str(total))
        summary.ledger_entries = await _scalar(conn, select(count).select_from(led))


async def check_truth(gw: Gateway, sims: dict[str, Any], summary: DemoSummary) -> None:
    reg, sc, cert = t.registrations, t.scores, t.certificates
    for name, sim in sims.items():
        truth = sim.truth
        async with gw.db.connect() as conn:
            our_plans = set(
                (
                    await conn.execute(
                        select(t.exam_plans.c.code).where(t.exam_plans.c.organization == name)
                    )
                ).scalars()
            )
        registered = [key for key in truth.registrations if key[0] in our_plans]
        accepted = await _count(
            gw, select(func.count()).where(reg.c.organization == name, reg.c.status == "accepted")
        )
        scores = await _count(gw, select(func.count()).where(sc.c.organization == name))
        certs = await _count(gw, select(func.count()).where(cert.c.organization == name))
        pairs = {
            "registrations": (accepted, len(registered)),
            "scores": (scores, len(truth.scores)),
            "certificates": (certs, len(truth.certificates)),
        }
        for what, (in_db, at_org) in pairs.items():
            summary.truth[f"{name} {what}"] = {"database": in_db, "organization": at_org}


def seed_history(beifang: Any, sample: Path) -> None:
    """Give the organization a past the college does not know about: one student of the list
    already sat the senior distillation exam through another channel, so the organization
    refuses to register them again for the same certificate (DUPLICATE_IN_OTHER_PLAN)."""
    from openpyxl import load_workbook

    wb = load_workbook(sample, read_only=True, data_only=True)
    try:
        sheet = wb.worksheets[0]
        row = next(sheet.iter_rows(min_row=9, max_row=9, values_only=True))
    finally:
        wb.close()
    name, id_number = str(row[1]).strip(), str(row[3]).strip()
    beifang.add_registrations("BF-2026-HGJL-3", [(id_number, name)])


def prepare_folder(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "simulators").mkdir(exist_ok=True)
    source = demo_data()
    for name in DATA_FILES:
        target = directory / name
        if not target.exists() and (source / name).exists():
            shutil.copyfile(source / name, target)


async def run_demo(directory: Path, *, submit: Any) -> DemoSummary:
    """Run the flow; ``submit(gw, directory)`` imports and submits the sample file and returns
    (submitted count, invalid rows)."""
    from xgate_simulators.beifang import BeifangSimulator
    from xgate_simulators.liaohe import LiaoheSimulator

    started = time.monotonic()
    prepare_folder(directory)
    sims: dict[str, Any] = {
        "beifang": BeifangSimulator(seed=DEMO_SEED),
        "liaohe": LiaoheSimulator(seed=DEMO_SEED),
    }
    states = {name: directory / "simulators" / f"{name}.state" for name in sims}
    first_run = not any([sim.load_state(states[name]) for name, sim in sims.items()])
    if first_run:
        seed_history(sims["beifang"], directory / "candidates.xlsx")
    urls: dict[str, str] = {}
    for name, sim in sims.items():
        urls[name] = await sim.start()
    try:
        settings = load_settings(write_config(directory, urls))
        summary = DemoSummary(str(directory.resolve()), "", first_run)
        async with open_gateway(settings=settings) as gw:
            summary.database = gw.db.path or settings.database_url
            before = await _database_state(gw)
            summary.roster = await import_demo_roster(gw, directory / "roster.xlsx")
            summary.submitted, summary.invalid_rows = await submit(gw, directory)
            for sim in sims.values():
                sim.grade_all()
            summary.sync_ok = (await run_nightly(gw, issue=True)).ok
            await summarise(gw, summary)
            await check_truth(gw, sims, summary)
            summary.console_user, summary.console_password = await console_login(gw)
            summary.coverage = await coverage_by_major(gw)
            if first_run:
                summary.learner = await demo_learner(gw)
            summary.changes = sum(
                abs(a - b) for a, b in zip(before, await _database_state(gw), strict=True)
            )
    finally:
        for name, sim in sims.items():
            await sim.stop()
            sim.save_state(states[name])
    summary.seconds = round(time.monotonic() - started, 1)
    return summary


async def console_login(gw: Gateway) -> tuple[str, str]:
    """The demo's console administrator, with a fresh password each run (printed once)."""
    from gateway.users import add_user, get_user, new_password, set_disabled, set_password

    password = new_password()
    async with gw.db.connect() as conn:
        existing = await get_user(conn, DEMO_CONSOLE_USER)
    if existing is None:
        await add_user(gw.db, DEMO_CONSOLE_USER, "admin", password)
    else:
        await set_password(gw.db, DEMO_CONSOLE_USER, password)
        await set_disabled(gw.db, DEMO_CONSOLE_USER, False)
    return DEMO_CONSOLE_USER, password


async def submit_sample(gw: Gateway, directory: Path) -> tuple[int, list[dict[str, Any]]]:
    """Check the sample list and submit it as staff would, one organization at a time.

    The file mixes plans of both organizations; each submission takes the rows of its own
    organization's plans (what ``xgate submit --org`` does with a column of plans). Returns the
    number of rows sent and the rows the check refused, with their reasons.
    """
    from gateway.intake import IntakeOptions, check_file, load_rules, write_results
    from gateway.intake.audit import file_sha256
    from gateway.intake.submit import organization_names, submit_checked

    path = directory / "candidates.xlsx"
    rules = load_rules(gw.settings)
    overall = check_file(path, rules, IntakeOptions(require_plan=True))
    invalid = [
        {"row": p.row, "field": p.field, "code": p.code, "message": p.message_en}
        for p in overall.problems()
    ]
    sha = file_sha256(path)
    sent = 0
    outcomes = {}
    for org in gw.organization_names():
        names = organization_names(gw, org)
        checked = check_file(
            path,
            rules,
            IntakeOptions(organization=org, organization_names=names, require_plan=True),
        )
        checked.rows = [
            r for r in checked.rows if not any(p.code == "plan_other_org" for p in r.problems)
        ]
        report = await submit_checked(
            gw, checked, organization=org, operator="xgate demo", file_sha256=sha
        )
        sent += sum(1 for o in report.outcomes.values() if o.status in ("accepted", "rejected"))
        outcomes.update(report.outcomes)
    write_results(overall, outcomes)
    return sent, invalid


async def import_demo_roster(gw: Gateway, path: Path) -> dict[str, int]:
    """Import the demo college's roster as the registrar's export would be imported: all or
    nothing, and a second run (the same file) writes nothing."""
    from datetime import UTC, datetime

    from gateway.intake.audit import file_sha256
    from gateway.roster import import_roster, read_roster

    parsed = read_roster(path)
    if parsed.problems:
        raise RuntimeError(f"the demo roster has problems: {parsed.problems[0].message_en}")
    async with gw.db.begin() as conn:
        done = await import_roster(
            conn,
            parsed.rows,
            gw.hash_id,
            file_name=path.name,
            file_sha256=file_sha256(path),
            operator="xgate demo",
            now=datetime.now(UTC),
        )
    return {"rows": done.rows, "added": done.added, "changed": done.changed}


async def coverage_by_major(gw: Gateway) -> list[dict[str, Any]]:
    """Coverage per major of the enrolled students (the report ``xgate report coverage``)."""
    from gateway.reports.coverage import coverage_report

    async with gw.db.connect() as conn:
        report = await coverage_report(conn, list_students=False)
    lines = [*report.majors]
    return [
        {
            "department": x.department,
            "major": x.major,
            "enrolled": x.counts.enrolled,
            "certified": x.counts.certified,
            "share": x.counts.share,
            "passed": x.counts.passed,
            "registered": x.counts.registered,
            "never": x.counts.never,
        }
        for x in lines
    ]


async def demo_learner(gw: Gateway) -> dict[str, str]:
    """An activation code for the first enrolled student holding a valid certificate, so the
    demo's learner self-service can be tried at once (``xgate serve``, then ``/activate``)."""
    from gateway.learner_access import invite

    r, c = t.roster_students, t.certificates
    async with gw.db.connect() as conn:
        row = (
            await conn.execute(
                select(r.c.id_hash, r.c.student_number, c.c.organization, c.c.number)
                .join(c, c.c.id_hash == r.c.id_hash)
                .where(r.c.status == "enrolled", c.c.status == "valid")
                .order_by(r.c.student_number, c.c.number)
                .limit(1)
            )
        ).first()
    if row is None:
        return {}
    made = await invite(gw.db, row.id_hash, by="xgate demo")
    return {
        "student_number": row.student_number,
        "name": made.name or "",
        "code": made.code,
        "organization": row.organization,
        "certificate": row.number,
    }
