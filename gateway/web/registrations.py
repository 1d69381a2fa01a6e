"""Registrations per exam plan: a filterable list, exported as xlsx or csv.

Fees and waivers are shown to the roles that handle money (admin, staff, finance) only.
Exports hold masked ID numbers, and every cell is escaped against formula injection with the
same ``safe_value`` the results workbook uses.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from aiohttp import web
from openpyxl import Workbook

from gateway import overview
from gateway.intake.results import safe_value
from gateway.models import RegistrationStatus
from gateway.web import render, state, trail
from gateway.web.routes import EVERYONE, FEES, route

COLUMNS = (
    "plan_code",
    "organization",
    "name",
    "id_masked",
    "student_number",
    "major",
    "class_name",
    "status",
    "reason",
    "updated_at",
)
FEE_COLUMNS = ("fee", "fee_waived")
STATUSES = [s.value for s in RegistrationStatus]


def _filters(request: web.Request) -> tuple[str | None, str | None]:
    plan = request.query.get("plan") or None
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        status = None
    return plan, status


def _columns(request: web.Request) -> tuple[str, ...]:
    user = state.user(request)
    return COLUMNS + (FEE_COLUMNS if user and user.role in FEES else ())


async def _rows(request: web.Request, limit: int | None) -> list[dict[str, Any]]:
    plan, status = _filters(request)
    async with state.gateway(request).db.connect() as conn:
        return await overview.registrations(conn, plan, status, limit)


@route("GET", "/registrations", EVERYONE, name="registrations", nav="nav.registrations", order=30)
async def registrations(request: web.Request) -> web.StreamResponse:
    plan, status = _filters(request)
    async with state.gateway(request).db.connect() as conn:
        plans = await overview.plan_codes(conn)
    return await render.page(
        request,
        "registrations.html",
        rows=await _rows(request, overview.MAX_ROWS),
        columns=_columns(request),
        plans=plans,
        statuses=STATUSES,
        plan=plan or "",
        chosen_status=status or "",
    )


@route("GET", "/api/registrations", EVERYONE, name="api_registrations")
async def api_registrations(request: web.Request) -> web.StreamResponse:
    cols = _columns(request)
    rows = [{c: r[c] for c in cols} for r in await _rows(request, overview.MAX_ROWS)]
    return render.api_json({"registrations": rows})


def _export_body(fmt: str, cols: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(cols)
        for r in rows:
            writer.writerow(
                [safe_value(render.local_time(r[c]) if c == "updated_at" else r[c]) for c in cols]
            )
        return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("registrations")
    ws.append(list(cols))
    for r in rows:
        ws.append(
            [safe_value(render.local_time(r[c]) if c == "updated_at" else r[c]) for c in cols]
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@route("GET", "/registrations/export", EVERYONE, name="registrations_export")
async def export(request: web.Request) -> web.StreamResponse:
    fmt = "csv" if request.query.get("format") == "csv" else "xlsx"
    cols = _columns(request)
    rows = await _rows(request, None)
    plan, status = _filters(request)
    await trail.record(
        request,
        "registrations.export",
        f"{plan or '*'}/{status or '*'}",
        detail=f"{len(rows)} rows {fmt}",
    )
    name = f"registrations-{plan or 'all'}.{fmt}"
    ctype = (
        "text/csv"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return web.Response(
        body=_export_body(fmt, cols, rows),
        content_type=ctype,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )
