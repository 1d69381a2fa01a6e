"""Reports in the console: coverage, the weekly progress report, fees and waivers.

The pages show the same tables as ``xgate report`` (``gateway.reports.sheets``, Chinese
headers), charts as server-rendered SVG (``gateway.reports.svg``: no script, nothing
external), and download links for the same files the CLI writes (XLSX with native charts,
CSV) and JSON twins under ``/api/reports/``. Every role but learners may read coverage and the
weekly report (viewer and up); fees and waivers (who was waived, on what basis: 低保, 建档立卡)
only admin, staff and finance, as on the registrations page (``FEES``). Each download of a list
naming students is recorded in the audit trail.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.errors import InputError
from gateway.reports.coverage import CoverageReport, Scope, coverage_report
from gateway.reports.documents import coverage_document, fees_document, weekly_document
from gateway.reports.fees import FeesReport, fees_report
from gateway.reports.period import Week, last_full_week, parse_week
from gateway.reports.sheets import (
    METRIC_LABELS,
    TREND_METRICS,
    coverage_sheets,
    fees_sheets,
    weekly_sheets,
)
from gateway.reports.svg import bar_chart, line_chart
from gateway.reports.weekly import WeeklyReport, weekly_report
from gateway.reports.workbook import (
    write_coverage_xlsx,
    write_csv,
    write_fees_xlsx,
    write_weekly_xlsx,
)
from gateway.web import render, state, trail
from gateway.web.routes import EVERYONE, FEES, route

XLSX = render.XLSX
LISTED = 200  # rows of a student list shown on a page; the download has them all


def _scope(request: web.Request) -> Scope:
    q = request.query
    grade = q.get("grade", "").strip()
    return Scope(
        cohort=int(grade) if grade.isdigit() else None,
        department=q.get("department", "").strip()[:128] or None,
        major=q.get("major", "").strip()[:128] or None,
    )


async def _coverage(request: web.Request) -> CoverageReport:
    async with state.gateway(request).db.connect() as conn:
        return await coverage_report(conn, _scope(request), now=state.now(request))


def _week(request: web.Request) -> Week:
    text = request.query.get("week", "").strip()
    return parse_week(text) if text else last_full_week(state.now(request))


async def _weekly(request: web.Request, week: Week) -> WeeklyReport:
    gw = state.gateway(request)
    async with gw.db.connect() as conn:
        return await weekly_report(
            conn, week, college=gw.settings.report.college, now=state.now(request)
        )


async def _fees(request: web.Request) -> FeesReport:
    q = request.query
    async with state.gateway(request).db.connect() as conn:
        return await fees_report(
            conn,
            plan=q.get("plan", "").strip()[:64] or None,
            organization=q.get("org", "").strip()[:40] or None,
            now=state.now(request),
        )


def _coverage_chart(report: CoverageReport) -> str:
    return bar_chart(
        [m.major for m in report.majors],
        [m.counts.share for m in report.majors],
        title="各专业获证率 / coverage by major",
    )


# --- coverage -------------------------------------------------------------------------------


@route("GET", "/reports/coverage", EVERYONE, name="report_coverage", nav="nav.reports")
async def coverage_page(request: web.Request) -> web.StreamResponse:
    report = await _coverage(request)
    sheets = coverage_sheets(report)
    query = urlencode({k: v for k, v in request.query.items() if v})
    return await render.page(
        request,
        "report_coverage.html",
        report=report,
        by_major=sheets[0],
        by_class=sheets[1],
        by_department=sheets[2],
        students=sheets[3],
        listed=LISTED,
        chart=_coverage_chart(report),
        query=query,
        scope=report.scope,
    )


@route("GET", "/reports/coverage.xlsx", EVERYONE, name="report_coverage_xlsx")
async def coverage_xlsx(request: web.Request) -> web.StreamResponse:
    report = await _coverage(request)
    await trail.record(request, "report.coverage.download", "coverage.xlsx")
    return render.download(lambda p: write_coverage_xlsx(report, p), "coverage.xlsx", XLSX)


@route("GET", "/reports/coverage.csv", EVERYONE, name="report_coverage_csv")
async def coverage_csv(request: web.Request) -> web.StreamResponse:
    report = await _coverage(request)
    return render.download(
        lambda p: write_csv(coverage_sheets(report)[1], p), "coverage.csv", "text/csv"
    )


@route("GET", "/api/reports/coverage", EVERYONE, name="api_report_coverage")
async def api_coverage(request: web.Request) -> web.StreamResponse:
    return render.api_json(coverage_document(await _coverage(request)))


# --- weekly ---------------------------------------------------------------------------------


async def _weekly_or_error(request: web.Request, api: bool) -> WeeklyReport | web.Response:
    try:
        week = _week(request)
    except InputError as exc:
        if api:
            return render.api_error(request, 400, "bad_request", str(exc))
        return await render.page(request, "error.html", status=400, code="bad_request")
    return await _weekly(request, week)


@route("GET", "/reports/weekly", EVERYONE, name="report_weekly")
async def weekly_page(request: web.Request) -> web.StreamResponse:
    report = await _weekly_or_error(request, api=False)
    if isinstance(report, web.Response):
        return report
    sheets = weekly_sheets(report)
    trend = line_chart(
        [w.label[5:] for w, _ in report.trend],
        {METRIC_LABELS[m]: [f[m] for _, f in report.trend] for m in TREND_METRICS},
        title="本学年每周进展 / weekly trend",
    )
    coverage = bar_chart(
        [m.major for m in report.coverage_by_major],
        [m.counts.share for m in report.coverage_by_major],
        title="各专业证书覆盖率 / coverage by major",
    )
    return await render.page(
        request,
        "report_weekly.html",
        report=report,
        sheets=sheets,
        trend_chart=trend,
        coverage_chart=coverage,
        previous=report.week.previous().label,
    )


@route("GET", "/reports/weekly.xlsx", EVERYONE, name="report_weekly_xlsx")
async def weekly_xlsx(request: web.Request) -> web.StreamResponse:
    report = await _weekly_or_error(request, api=False)
    if isinstance(report, web.Response):
        return report
    name = f"weekly-{report.week.label}.xlsx"
    return render.download(lambda p: write_weekly_xlsx(report, p), name, XLSX)


@route("GET", "/api/reports/weekly", EVERYONE, name="api_report_weekly")
async def api_weekly(request: web.Request) -> web.StreamResponse:
    report = await _weekly_or_error(request, api=True)
    if isinstance(report, web.Response):
        return report
    return render.api_json(weekly_document(report))


# --- fees -----------------------------------------------------------------------------------


@route("GET", "/reports/fees", FEES, name="report_fees")
async def fees_page(request: web.Request) -> web.StreamResponse:
    report = await _fees(request)
    sheets = fees_sheets(report)
    query = urlencode({k: v for k, v in request.query.items() if v})
    return await render.page(
        request,
        "report_fees.html",
        report=report,
        by_plan=sheets[0],
        by_basis=sheets[1],
        students=sheets[2],
        listed=LISTED,
        query=query,
    )


@route("GET", "/reports/fees.xlsx", FEES, name="report_fees_xlsx")
async def fees_xlsx(request: web.Request) -> web.StreamResponse:
    report = await _fees(request)
    await trail.record(request, "report.fees.download", "fees.xlsx")
    return render.download(lambda p: write_fees_xlsx(report, p), "fees.xlsx", XLSX)


@route("GET", "/api/reports/fees", FEES, name="api_report_fees")
async def api_fees(request: web.Request) -> web.StreamResponse:
    return render.api_json(fees_document(await _fees(request)))
