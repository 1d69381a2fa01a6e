"""Transcripts: active credit per course, JSON and a readable, injection-safe XLSX."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from gateway.cli.output import dumps
from gateway.credit import ensure_accounts, reconcile_accounts
from gateway.credit.importer import CreditRow, import_rows
from gateway.credit.transcript import build_transcript, transcript_json, write_xlsx
from gateway.keys import lookup_hash
from gateway.masking import mask_id
from gateway.models import CreditEntryKind
from tests.credit_support import NOW, add_certificate, add_score, rules, set_certificate_status
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
NUMBER = make_ids(1, seed=9)[0]
H = lookup_hash(NUMBER, b"s")


async def seed(db) -> None:  # type: ignore[no-untyped-def]
    async with db.begin() as conn:
        await ensure_accounts(conn, [(H, mask_id(NUMBER), "王小明", "student")], now=NOW)
        await add_certificate(conn, H, "BF-T1", "HGJL", 2)
        await add_certificate(conn, H, "BF-T0", "HAZOP", 1, plan_code="P-HAZOP")
        await add_score(conn, H, "93")
        await reconcile_accounts(conn, [H], rules(), run_id=1, now=NOW)
        await import_rows(
            conn,
            [
                CreditRow(
                    2,
                    NUMBER,
                    "王小明",
                    CreditEntryKind.COURSE,
                    "GE101",
                    '=HYPERLINK("x")',
                    Decimal("2.5"),
                    NOW.date() - timedelta(days=40),
                ),
            ],
            lambda n: lookup_hash(n, b"s"),
            now=NOW,
        )
    async with db.begin() as conn:  # HAZOP revoked: its course credit is reversed
        await set_certificate_status(conn, "BF-T0", "revoked")
        await reconcile_accounts(conn, [H], rules(), run_id=2, now=NOW + timedelta(hours=1))


async def test_transcript_counts_only_active_credit(db) -> None:
    await seed(db)
    async with db.connect() as conn:
        tr = await build_transcript(conn, H, now=NOW + timedelta(days=1))
        assert await build_transcript(conn, "0" * 64) is None
    assert tr is not None
    assert [(c.course_code, c.credits, c.grade) for c in tr.courses] == [
        ("GE101", Decimal("2.50"), None),
        ("HG201", Decimal("4.00"), "优秀"),
        ("HG202", Decimal("3.00"), "优秀"),
    ]
    assert tr.total == Decimal("9.50")
    assert [e.kind.value for e in tr.entries] == [
        "conversion",
        "conversion",
        "conversion",
        "course",
        "reversal",
    ]
    assert {o["status"] for o in tr.outcomes if o["source_ref"] == "BF-T0"} == {"revoked"}
    data = json.loads(dumps(transcript_json(tr)))
    assert data["total_credits"] == "9.50" and data["account"]["id_masked"] == mask_id(NUMBER)
    assert NUMBER not in dumps(transcript_json(tr))
    assert data["entries"][-1]["reason"] == "certificate revoked"


async def test_xlsx_is_written_readable_and_safe(db, tmp_path: Path) -> None:
    await seed(db)
    async with db.connect() as conn:
        tr = await build_transcript(conn, H, now=NOW + timedelta(days=1))
    assert tr is not None
    path = tmp_path / "out" / "transcript.xlsx"
    write_xlsx(tr, path)
    book = load_workbook(path)
    assert book.sheetnames == ["成绩单", "账本"]
    sheet = book["成绩单"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    values = [str(c.value) for c in cells]
    assert mask_id(NUMBER) in values and "王小明" in values and NUMBER not in " ".join(values)
    assert 9.5 in [c.value for c in cells]
    formula = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert formula.data_type == "s" and str(formula.value).startswith("'=")
    ledger = book["账本"]
    header = [c.value for c in ledger[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ledger.iter_rows(2)]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[-1]["credits"] == -2 and rows[-1]["reverses_seq"] == 1
    assert all(len(r["hash"]) == 64 for r in rows)
