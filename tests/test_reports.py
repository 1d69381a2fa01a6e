"""Reports: every figure cross-checked against a brute-force count over the same rows, on
SQLite and PostgreSQL; weeks in Asia/Shanghai; renderers (JSON money strings, workbook with
charts and escaped cells, CSV); the quiet week; e-mail over a loopback SMTP server."""

from __future__ import annotations

import asyncio
import json
import re
import zipfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from benchmarks.harness.school import build_school
from gateway.reports.coverage import Scope, coverage_report
from gateway.reports.documents import coverage_document, fees_document, weekly_document
from gateway.reports.fees import UNRECORDED, fees_report
from gateway.reports.period import Week, parse_week, school_year_start
from gateway.reports.sheets import coverage_sheets
from gateway.reports.weekly import weekly_report
from gateway.reports.workbook import write_coverage_xlsx, write_csv, write_weekly_xlsx
from gateway.store import tables as t

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
WEEK = Week(2026, 49)  # Monday 30 November to Sunday 6 December 2026
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def local(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).date()


async def rows(conn: Any, table: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(select(table))).mappings()]


@pytest.fixture
async def school(db: Any) -> Any:
    async with db.begin() as conn:
        await build_school(conn, students=240, scores=700, now=NOW)
    return db


# --- coverage -------------------------------------------------------------------------------


def brute_coverage(data: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """student_number -> category, for every enrolled roster student."""
    certified = {c["id_hash"] for c in data["certificates"] if c["status"] == "valid"}
    passed = {s["id_hash"] for s in data["scores"] if s["rule_passed"]}
    people = {c["id"]: c["id_hash"] for c in data["candidates"]}
    live = {"pending", "sent", "unknown", "accepted"}
    registered = {people[r["candidate_id"]] for r in data["registrations"] if r["status"] in live}
    out = {}
    for s in data["roster_students"]:
        if s["status"] != "enrolled":
            continue
        h = s["id_hash"]
        out[s["student_number"]] = (
            "certified"
            if h in certified
            else "passed"
            if h in passed
            else "registered"
            if h in registered
            else "never"
        )
    return out


async def load(conn: Any) -> dict[str, list[dict[str, Any]]]:
    names = (
        "roster_students",
        "certificates",
        "certificate_events",
        "scores",
        "score_revisions",
        "candidates",
        "registrations",
        "registration_events",
        "credit_ledger",
        "learning_accounts",
        "exam_plans",
    )
    return {n: await rows(conn, getattr(t, n)) for n in names}


@pytest.mark.storage
async def test_coverage_matches_a_brute_force_count(school: Any) -> None:
    async with school.connect() as conn:
        report = await coverage_report(conn, now=NOW)
        data = await load(conn)
    truth = brute_coverage(data)
    by_student = {s["student_number"]: s for s in data["roster_students"]}
    assert report.total.enrolled == len(truth) > 100
    assert {
        c: getattr(report.total, c) for c in ("certified", "passed", "registered", "never")
    } == (dict(Counter(truth.values())))
    assert all(v > 0 for v in Counter(truth.values()).values())  # every category occurs
    expected: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for number, category in truth.items():
        s = by_student[number]
        expected[(s["department"], s["major"], s["cohort"], s["class_name"])][category] += 1
    got = {
        (x.department, x.major, x.cohort, x.class_name): Counter(
            {c: getattr(x.counts, c) for c in ("certified", "passed", "registered", "never")}
        )
        for x in report.classes
    }
    assert {k: +v for k, v in got.items()} == dict(expected)
    majors = Counter(by_student[n]["major"] for n in truth)
    assert {x.major: x.counts.enrolled for x in report.majors} == dict(majors)
    assert {u.student_number: u.category for u in report.uncovered} == {
        n: c for n, c in truth.items() if c != "certified"
    }
    share = report.total.share
    assert share == (Decimal(report.total.certified * 100) / report.total.enrolled).quantize(
        Decimal("0.1")
    )


@pytest.mark.storage
async def test_coverage_scope_filters(school: Any) -> None:
    async with school.connect() as conn:
        everything = await coverage_report(conn, now=NOW)
        some = await coverage_report(conn, Scope(cohort=2024, major="应用化工技术"), now=NOW)
    expected = sum(
        x.counts.enrolled
        for x in everything.classes
        if x.cohort == 2024 and x.major == "应用化工技术"
    )
    assert some.total.enrolled == expected > 0
    assert {x.major for x in some.majors} == {"应用化工技术"}


# --- weekly ---------------------------------------------------------------------------------


def brute_week(data: dict[str, list[dict[str, Any]]], first: date, last: date) -> dict[str, Any]:
    """Every weekly metric for Beijing dates first..last, counted row by row."""
    inside = lambda day: first <= day <= last  # noqa: E731
    plans = {(p["organization"], p["code"]): p for p in data["exam_plans"]}
    out: Counter[str] = Counter()
    money: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for r in data["registrations"]:
        if not inside(local(r["created_at"])):
            continue
        assert (r["organization"], r["plan_code"]) in plans
        out["registrations"] += 1
        if r["status"] in ("rejected", "cancelled"):
            continue
        if r["fee_waived"]:
            money["fees_waived"] += r["fee"]
            out["waived_students"] += 1
        else:
            money["fees_charged"] += r["fee"]
    for e in data["registration_events"]:
        out["withdrawn"] += e["status"] == "cancelled" and inside(local(e["at"]))
    for s in data["scores"]:
        if inside(local(s["recorded_at"])):
            out["sat"] += not s["absent"]
            out["absent"] += bool(s["absent"])
            out["passed"] += (not s["absent"]) and bool(s["rule_passed"])
    for c in data["certificates"]:
        out["certificates_issued"] += inside(c["issued_on"])
    for e in data["certificate_events"]:
        out["certificates_revoked"] += e["status"] == "revoked" and inside(local(e["at"]))
    for e in data["credit_ledger"]:
        if inside(local(e["recorded_at"])):
            if e["kind"] == "conversion":
                money["credits_converted"] += e["credits"]
            elif e["kind"] == "reversal":
                money["credits_reversed"] -= e["credits"]
    return {**out, **money}


def figures(f: Any) -> dict[str, Any]:
    return {k: v for k, v in f.values.items() if v}


@pytest.mark.storage
async def test_weekly_figures_match_a_brute_force_count(school: Any) -> None:
    async with school.connect() as conn:
        report = await weekly_report(conn, WEEK, college="测试学院", now=NOW)
        data = await load(conn)
    week = brute_week(data, WEEK.monday, WEEK.sunday)
    assert week["registrations"] > 0 and week["sat"] > 0 and week["certificates_issued"] > 0
    assert figures(report.this_week) == {k: v for k, v in week.items() if v}
    previous = WEEK.previous()
    assert figures(report.previous_week) == {
        k: v for k, v in brute_week(data, previous.monday, previous.sunday).items() if v
    }
    year = brute_week(data, school_year_start(WEEK.sunday), WEEK.sunday)
    assert figures(report.year_to_date) == {k: v for k, v in year.items() if v}
    assert report.school_year == "2026-2027" and report.trend[0][0] == Week(2026, 36)
    assert sum(f["registrations"] for _, f in report.trend) == year["registrations"]
    orgs = {b.key[0]: b.week["registrations"] for b in report.by_organization}
    assert sum(orgs.values()) == week["registrations"] and set(orgs) == {"beifang", "liaohe"}
    assert report.attention.failed_syncs == 1 and report.attention.unsettled_total == sum(
        r["status"] in ("pending", "sent", "unknown") for r in data["registrations"]
    )
    rate = report.this_week.pass_rate
    assert rate == (Decimal(week["passed"] * 100) / week["sat"]).quantize(Decimal("0.1"))


@pytest.mark.storage
async def test_weeks_are_beijing_weeks_on_either_database(db: Any) -> None:
    """Sunday 23:59 in Beijing (15:59 UTC) is still that week; Monday 00:00 is the next."""
    boundary = WEEK.end  # Monday 7 December 00:00 Asia/Shanghai
    assert boundary == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    async with db.begin() as conn:
        await conn.execute(
            t.candidates.insert(),
            {
                "id": 1,
                "id_hash": "h" * 64,
                "id_type": "resident",
                "id_number": "x",
                "name": "甲",
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        for i, at in enumerate((boundary - timedelta(minutes=1), boundary), start=1):
            await conn.execute(
                t.registrations.insert(),
                {
                    "idempotency_key": f"k{i}",
                    "organization": "beifang",
                    "plan_code": f"P{i}",
                    "candidate_id": 1,
                    "status": "accepted",
                    "fee": Decimal("100.00"),
                    "created_at": at,
                    "updated_at": at,
                },
            )
    async with db.connect() as conn:
        this = await weekly_report(conn, WEEK, now=NOW)
        following = await weekly_report(conn, parse_week("2026-W50"), now=NOW)
    assert this.this_week["registrations"] == 1 and following.this_week["registrations"] == 1
    assert following.previous_week["fees_charged"] == Decimal("100.00")


async def test_a_quiet_week_says_so(db: Any, tmp_path: Path) -> None:
    async with db.connect() as conn:
        report = await weekly_report(conn, parse_week("2026-W30"), college="测试学院", now=NOW)
    assert report.quiet
    doc = weekly_document(report)
    assert doc["quiet"] is True and "本周无业务活动" in doc["message"]
    path = write_weekly_xlsx(report, tmp_path / "w.xlsx")
    book = load_workbook(path)
    cover = [[c for c in r if c is not None] for r in book["封面"].iter_rows(values_only=True)]
    assert ["本周概况", "本周无业务活动"] in cover and ["周次", "2026-W30"] in cover


def test_week_parsing() -> None:
    assert parse_week("2026-W49") == WEEK and parse_week("2026w49") == WEEK
    assert (WEEK.monday, WEEK.sunday) == (date(2026, 11, 30), date(2026, 12, 6))
    assert parse_week("2026-W53").monday == date(2026, 12, 28)  # 2026 has 53 ISO weeks
    assert Week(2027, 1).previous() == Week(2026, 53)
    assert school_year_start(date(2027, 7, 15)) == date(2026, 9, 1)
    assert school_year_start(date(2026, 9, 1)) == date(2026, 9, 1)
    from gateway.errors import InputError

    with pytest.raises(InputError, match="2026-W49"):
        parse_week("2025-W53")  # 2025 has 52


# --- fees -----------------------------------------------------------------------------------


@pytest.mark.storage
async def test_fees_match_a_brute_force_count(school: Any) -> None:
    async with school.connect() as conn:
        report = await fees_report(conn, now=NOW)
        one_plan = await fees_report(conn, plan="LH-PLC-1", now=NOW)
        data = await load(conn)
    people = {c["id"]: c["id_hash"] for c in data["candidates"]}
    basis = {s["id_hash"]: s["waiver_basis"] for s in data["roster_students"]}
    live = [r for r in data["registrations"] if r["status"] not in ("rejected", "cancelled")]
    charged = sum((r["fee"] for r in live if not r["fee_waived"]), Decimal(0))
    waived = [r for r in live if r["fee_waived"]]
    assert (report.charged, report.waived) == (charged, sum(r["fee"] for r in waived))
    expected_bases: Counter[str] = Counter(
        basis.get(people[r["candidate_id"]]) or UNRECORDED for r in waived
    )
    assert {b.basis: b.registrations for b in report.bases} == dict(expected_bases)
    assert len(report.students) == len(waived)
    assert {x.plan_code for x in one_plan.lines} == {"LH-PLC-1"}
    doc = fees_document(report)
    assert MONEY.match(doc["totals"]["charged"]) and MONEY.match(doc["by_plan"][0]["waived"])
    assert all(MONEY.match(s["fee"]) for s in doc["waived_students"])


# --- renderers ------------------------------------------------------------------------------


async def test_workbooks_have_chinese_headers_native_charts_and_escaped_cells(
    db: Any, tmp_path: Path
) -> None:
    async with db.begin() as conn:
        await build_school(conn, students=120, scores=300, now=NOW)
        first = (await coverage_report(conn, now=NOW)).uncovered[0].student_number
        await conn.execute(
            update(t.roster_students)
            .where(t.roster_students.c.student_number == first)
            .values(name='=HYPERLINK("http://x","点我")')
        )
    async with db.connect() as conn:
        coverage = await coverage_report(conn, now=NOW)
        weekly = await weekly_report(conn, WEEK, college="辽宁石化职业技术学院", now=NOW)
    path = write_weekly_xlsx(weekly, tmp_path / "weekly.xlsx")
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 2  # coverage by major (bars) and the weekly trend (lines)
    book = load_workbook(path)
    assert book.sheetnames[:2] == ["封面", "总览"] and "周趋势" in book.sheetnames
    assert next(book["总览"].iter_rows(values_only=True)) == (
        "指标",
        "本周",
        "上周",
        "较上周",
        "学年累计",
    )
    assert book["封面"]["A1"].value.startswith("辽宁石化职业技术学院")
    cov_path = write_coverage_xlsx(coverage, tmp_path / "coverage.xlsx")
    sheet = load_workbook(cov_path)["未获证学生"]
    names = [c.value for c in sheet["F"]]
    escaped = [n for n in names if isinstance(n, str) and "HYPERLINK" in n]
    assert escaped == ['\'=HYPERLINK("http://x","点我")']


async def test_json_and_csv(db: Any, tmp_path: Path) -> None:
    async with db.begin() as conn:
        await build_school(conn, students=120, scores=300, now=NOW)
    async with db.connect() as conn:
        coverage = await coverage_report(conn, now=NOW)
        weekly = await weekly_report(conn, WEEK, now=NOW)
    doc = json.loads(json.dumps(weekly_document(weekly)))
    week = doc["this_week"]
    assert MONEY.match(week["fees_charged"]) and MONEY.match(week["credits_converted"])
    assert isinstance(week["registrations"], int) and doc["week"] == "2026-W49"
    assert MONEY.match(doc["change"]["fees_waived"])
    cov = coverage_document(coverage)
    assert cov["total"]["enrolled"] == coverage.total.enrolled
    assert re.match(r"^\d+\.\d$", cov["total"]["coverage_percent"])
    path = write_csv(coverage_sheets(coverage)[1], tmp_path / "c.csv")
    text = path.read_text(encoding="utf-8-sig").splitlines()
    assert text[0].startswith("院系,专业,年级,班级,在读人数")
    assert len(text) == len(coverage.classes) + 1


# --- e-mail ---------------------------------------------------------------------------------


class SmtpSink:
    """Just enough SMTP on a loopback port to receive one message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.recipients: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 sink ready")
        await writer.drain()
        while line := await reader.readline():
            verb = line.decode().strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250 sink")
            elif verb == "MAIL":
                say("250 ok")
            elif verb == "RCPT":
                self.recipients.append(line.decode().strip())
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                await writer.drain()
                body = b""
                while (chunk := await reader.readline()) != b".\r\n":
                    body += chunk
                self.messages.append(body)
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:
                say("250 ok")
            await writer.drain()
        writer.close()


async def test_weekly_report_is_mailed_with_the_workbook(db: Any, tmp_path: Path) -> None:
    from email import message_from_bytes

    from gateway.reports.mail import send_report, weekly_message
    from gateway.settings import ReportEmail

    sink = SmtpSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with db.connect() as conn:
            report = await weekly_report(conn, parse_week("2026-W30"), now=NOW)
        path = write_weekly_xlsx(report, tmp_path / "weekly-2026-W30.xlsx")
        mail = ReportEmail(
            host="127.0.0.1",
            port=port,
            use_tls=False,
            sender="xgate@college.example",
            recipients=["jxjy@college.example", "dean@college.example"],
            timeout=5,
        )
        await send_report(weekly_message(report, path, mail), mail)
    finally:
        server.close()
        await server.wait_closed()
    assert len(sink.recipients) == 2 and len(sink.messages) == 1
    message = message_from_bytes(sink.messages[0])
    parts = list(message.walk())
    body = next(p for p in parts if p.get_content_type() == "text/plain")
    assert "本周无业务活动" in body.get_payload(decode=True).decode("utf-8")
    attached = [p for p in parts if p.get_filename() == "weekly-2026-W30.xlsx"]
    assert attached and attached[0].get_payload(decode=True) == path.read_bytes()


# --- the commands ---------------------------------------------------------------------------


@pytest.mark.storage
def test_report_commands(db_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from gateway.cli.main import app
    from gateway.store import open_database

    async def fill() -> None:
        database = await open_database(db_target.url, schema=db_target.schema)
        try:
            async with database.begin() as conn:
                await build_school(conn, students=120, scores=300, now=NOW)
        finally:
            await database.dispose()

    asyncio.run(fill())
    monkeypatch.chdir(tmp_path)
    env = {**db_target.env(), "XGATE_REPORT__COLLEGE": "测试学院"}

    def xgate(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    done = xgate("report", "coverage", "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["total"]["enrolled"] > 50
    done = xgate("report", "coverage", "--major", "应用化工技术", "--format", "json")
    assert [m["major"] for m in json.loads(done.output)["majors"]] == ["应用化工技术"]
    done = xgate("report", "coverage")
    assert (
        done.exit_code == 0 and "按专业" in done.output and "without a certificate" in done.output
    )
    done = xgate("report", "coverage", "--format", "csv", "--output", "cov.csv")
    assert done.exit_code == 0 and (tmp_path / "cov.csv").exists()
    done = xgate("report", "weekly", "--week", "2026-W49", "--output", "w.xlsx")
    assert done.exit_code == 0, done.output
    assert load_workbook(tmp_path / "w.xlsx")["封面"]["B2"].value == "测试学院"
    done = xgate("report", "weekly", "--week", "2026-W49", "--format", "json")
    assert json.loads(done.output)["college"] == "测试学院"
    done = xgate("report", "weekly", "--week", "49")
    assert done.exit_code == 2 and "2026-W49" in done.output
    done = xgate("report", "weekly", "--email")
    assert done.exit_code == 3 and "[report.email]" in done.output
    done = xgate("report", "fees", "--org", "liaohe", "--format", "json")
    data = json.loads(done.output)
    assert {x["organization"] for x in data["by_plan"]} == {"liaohe"}
    assert MONEY.match(data["totals"]["charged"])
    done = xgate("report", "fees", "--plan", "NO-SUCH-PLAN")  # a typo is not an empty report
    assert done.exit_code == 2 and "NO-SUCH-PLAN" in done.output, done.output
    done = xgate("report", "fees", "--format", "xlsx", "--output", "fees.xlsx")
    assert done.exit_code == 0
    assert load_workbook(tmp_path / "fees.xlsx").sheetnames == [
        "按考核批次",
        "减免依据",
        "减免学生名单",
    ]


@pytest.mark.storage
def test_report_json_file_is_private_and_an_unwritable_one_is_a_clear_error(
    db_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON report lists students (names, masked IDs): owner-only like the xlsx/csv; a path
    that cannot be written is exit 2 naming it, not a traceback."""
    from typer.testing import CliRunner

    from gateway.cli.main import app
    from gateway.store import open_database

    async def fill() -> None:
        database = await open_database(db_target.url, schema=db_target.schema)
        try:
            async with database.begin() as conn:
                await build_school(conn, students=20, scores=40, now=NOW)
        finally:
            await database.dispose()

    asyncio.run(fill())
    monkeypatch.chdir(tmp_path)
    env = db_target.env()
    done = CliRunner().invoke(app, ["report", "fees", "--format", "json", "-o", "f.json"], env=env)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))["totals"]
    (tmp_path / "blocker").write_text("a file, not a folder")
    target = "blocker/c.json"
    done = CliRunner().invoke(
        app, ["report", "coverage", "--format", "json", "-o", target], env=env
    )
    assert done.exit_code == 2, done.output
    assert "cannot write blocker/c.json" in done.output
