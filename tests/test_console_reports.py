"""Reports in the console: pages with server-rendered SVG charts and the same tables as the
CLI, downloads (XLSX with native charts, CSV), JSON twins; viewer and up (fees: finance and up)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from benchmarks.harness.school import build_school
from tests.console_support import Clock, console, sign_in

pytestmark = pytest.mark.storage
NOW = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)


async def test_report_pages_charts_and_downloads(make_gateway: Any, tmp_path: Path) -> None:
    async with console(make_gateway, tmp_path, Clock(NOW)) as client:
        async with client.gw.db.begin() as conn:
            await build_school(conn, students=120, scores=300, now=NOW)
        await sign_in(client, "viewer")
        page = await client.get("/reports/coverage")
        assert page.status == 200
        html = await page.text()
        assert "<svg" in html and "应用化工技术" in html and 'id="download-xlsx"' in html
        assert "<script" not in html  # the chart is plain SVG
        filtered = await (await client.get("/reports/coverage?major=环境工程技术")).text()
        assert "环境工程技术" in filtered and "应用化工技术</td>" not in filtered
        download = await client.get("/reports/coverage.xlsx")
        assert download.status == 200
        body = await download.read()
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            assert any(n.startswith("xl/charts/") for n in z.namelist())
        assert "未获证学生" in load_workbook(io.BytesIO(body)).sheetnames
        csv = await client.get("/reports/coverage.csv")
        assert (await csv.read()).decode("utf-8-sig").startswith("院系,专业,年级,班级")
        weekly = await client.get("/reports/weekly?week=2026-W49")
        text = await weekly.text()
        assert weekly.status == 200 and "<polyline" in text and "2026-W49" in text
        assert (await client.get("/reports/weekly?week=49")).status == 400
        data = await (await client.get("/api/reports/weekly?week=2026-W49")).json()
        assert data["week"] == "2026-W49" and isinstance(data["this_week"]["fees_charged"], str)
        book = await client.get("/reports/weekly.xlsx?week=2026-W49")
        assert load_workbook(io.BytesIO(await book.read())).sheetnames[0] == "封面"
        # fees and waivers name who was waived and why (低保, 建档立卡): not for a viewer
        for path in ("/reports/fees", "/reports/fees.xlsx", "/api/reports/fees"):
            assert (await client.get(path)).status == 403, path
        assert 'href="/reports/fees"' not in await (await client.get("/reports/weekly")).text()
        client.session.cookie_jar.clear()
        await sign_in(client, "finance")
        assert 'href="/reports/fees"' in await (await client.get("/reports/coverage")).text()
        fees = await client.get("/reports/fees?org=liaohe")
        assert fees.status == 200 and "减免学生名单" in await fees.text()
        money = await (await client.get("/api/reports/fees")).json()
        assert re.match(r"^\d+\.\d{2}$", money["totals"]["charged"])
        quiet = await (await client.get("/reports/weekly?week=2026-W30")).text()
        assert 'id="quiet"' in quiet
