"""The results workbook: original rows with their outcome, problems sheet, no formula runs."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from gateway.intake import RowOutcome, results_path, write_results
from gateway.intake.results import safe_value
from tests.intake_support import HEADERS, check, make_id, student, write_xlsx


def test_safe_value_escapes_formula_starts_only_in_text() -> None:
    assert safe_value("=1+1") == "'=1+1"
    assert safe_value("+8613812345678") == "'+8613812345678"
    assert safe_value("-5") == "'-5"
    assert safe_value("@SUM(A1)") == "'@SUM(A1)"
    assert safe_value("\t=1") == "'\t=1"
    assert safe_value("张三") == "张三"
    assert safe_value(-5) == -5  # numbers stay numbers
    assert safe_value("a\x07b") == "ab"  # control characters Excel refuses


def test_results_workbook_has_every_row_with_status_and_escapes_formulas(tmp_path: Path) -> None:
    headers = [*HEADERS, "班级"]
    rows = [
        [
            *student(name='=HYPERLINK("http://evil.example","点我")', id_number=make_id(seq=101)),
            "@SUM(A1:A9)",
        ],
        [*student(name="李四", id_number=make_id(seq=103)), "+1"],
        [*student(name="王五", id_number=make_id(seq=105), mobile="12"), "-2"],
        [*student(name="赵六", id_number=make_id(seq=107)), "化工2401"],
    ]
    source = write_xlsx(tmp_path / "名单.xlsx", rows, headers=headers, titles=["报名表"])
    checked = check(source)
    outcomes = {
        3: RowOutcome("accepted", "registration R000001", "已受理 R000001"),
        4: RowOutcome("rejected", "=CMD|' /C calc'!A0", "被拒绝：=CMD", "=EVIL()"),
        6: RowOutcome("skipped", "already registered", "已报名", "already_registered"),
    }
    path = write_results(checked, outcomes)
    assert path == results_path(source) == tmp_path / "名单.results.xlsx"
    wb = load_workbook(path)  # not read-only: data_type and every cell are inspected
    ws = wb["结果 results"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][: len(headers)] == headers
    assert values[0][-3:] == ["原行号 row", "状态 status", "说明"]
    assert [v[-3] for v in values[1:]] == [3, 4, 5, 6]
    statuses = [v[-2] for v in values[1:]]
    assert statuses[0] == "accepted: registration R000001"
    assert statuses[1] == "rejected: =CMD|' /C calc'!A0"  # inside a longer text: harmless
    assert statuses[2].startswith("invalid: row 5, mobile:")
    assert statuses[3] == "skipped: already registered"
    # formula-looking cells are stored as plain strings with a leading apostrophe
    name_cell = ws.cell(row=2, column=1)
    assert name_cell.value == '\'=HYPERLINK("http://evil.example","点我")'
    assert name_cell.data_type == "s"
    class_cells = [ws.cell(row=r, column=len(headers)) for r in (2, 3, 4)]
    assert [c.value for c in class_cells] == ["'@SUM(A1:A9)", "'+1", "'-2"]
    assert all(
        c.data_type == "s" for row in ws.iter_rows() for c in row if isinstance(c.value, str)
    )
    assert not any(c.data_type == "f" for sheet in wb for row in sheet.iter_rows() for c in row)
    # the original ID numbers are written back as they were (text)
    assert ws.cell(row=2, column=2).value == make_id(seq=101)

    problems = [[c.value for c in row] for row in wb["问题 problems"].iter_rows()]
    assert problems[0][:3] == ["行号 row", "姓名 name", "证件号码 ID"]
    by_row = {p[0]: p for p in problems[1:]}
    assert set(by_row) == {4, 5}
    assert by_row[4][3] == "rejected" and by_row[4][5] == "'=EVIL()"
    assert by_row[5][3] == "invalid" and by_row[5][4] == "mobile"
    assert by_row[5][2] == make_id(seq=105)[:6] + "********" + make_id(seq=105)[-4:]


def test_results_of_a_csv_file_are_an_xlsx_beside_it(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text(",".join(HEADERS) + "\n" + ",".join(student()) + "\n", encoding="utf-8")
    checked = check(source)
    path = write_results(checked, {2: RowOutcome("accepted")})
    assert path == tmp_path / "list.results.xlsx"
    ws = load_workbook(path)["结果 results"]
    assert ws.cell(row=2, column=len(HEADERS) + 2).value == "accepted"
    assert ws.cell(row=2, column=len(HEADERS) + 3).value == "已受理"
    assert not list(tmp_path.glob(".xgate-*"))  # no temporary file left behind
