"""``xgate check`` and ``xgate submit`` as staff run them: output, files and exit codes
(0 all fine, 1 some rows not fine, 2 the file itself is unusable, 3 configuration)."""

from __future__ import annotations

import asyncio
import json
import random
import runpy
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.plugins import load_plugins
from gateway.store import open_database
from gateway.store import tables as t
from tests.intake_support import DATA, HEADERS, csv_bytes, make_id, student, write_xlsx
from tests.plugins_fixtures import fakeorg

runner = CliRunner()


@pytest.fixture
def xgate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``xgate`` in-process with a settings file in a fresh folder; the organization
    ``beifang`` is served by the fake plugin."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "xgate.toml"
    config.write_text(
        f'database_url = "sqlite+aiosqlite:///{tmp_path / "xgate.db"}"\n'
        f'catalogue_file = "{DATA / "catalogue.toml"}"\n'
        f'fees_file = "{DATA / "fees.toml"}"\n'
        f'eligibility_file = "{DATA / "eligibility.toml"}"\n'
        '[organizations.beifang]\nplugin = "fake"\nname = "beifang"\n',
        encoding="utf-8",
    )
    fakeorg.ORGS.clear()
    monkeypatch.setattr(
        "gateway.runtime.load_plugins",
        lambda: load_plugins(lambda: [], extra=[("fake", fakeorg)]),
    )

    def invoke(*args: str, input: str | None = None, conf: Path | None = config) -> Any:
        prefix = ["--config", str(conf)] if conf else []
        return runner.invoke(app, [*prefix, *args], input=input)

    return invoke


def good_file(tmp_path: Path) -> Path:
    rows = [student(name=f"学生{i}", id_number=make_id(seq=101 + 2 * i)) for i in range(3)]
    return write_xlsx(tmp_path / "名单.xlsx", rows, titles=["报名表"])


def mixed_file(tmp_path: Path) -> Path:
    rows = [
        student(name="甲", id_number=make_id(seq=101)),
        student(name="乙", id_number=float(int(make_id(seq=103)[:15]) * 1000)),
        student(name="丙", id_number=make_id(seq=105), waiver="是"),
    ]
    return write_xlsx(tmp_path / "名单.xlsx", rows, titles=["报名表"])


def registrations(tmp_path: Path) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        db = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'xgate.db'}")
        try:
            async with db.connect() as conn:
                rows = await conn.execute(select(t.registrations).order_by(t.registrations.c.id))
                return [dict(r) for r in rows.mappings()]
        finally:
            await db.dispose()

    return asyncio.run(go())


# --- check -------------------------------------------------------------------------------------


def test_check_valid_file_exits_0_and_writes_nothing(xgate: Any, tmp_path: Path) -> None:
    path = good_file(tmp_path)
    result = xgate("check", str(path))
    assert result.exit_code == 0, result.output
    assert "3 rows: 3 valid" in result.output and "960.00" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xgate.toml", "名单.xlsx"]


def test_check_json_lists_every_problem_and_exits_1(xgate: Any, tmp_path: Path) -> None:
    result = xgate("check", str(mixed_file(tmp_path)), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["rows"] == {
        "total": 3,
        "valid": 2,
        "invalid": 1,
        "skipped": 0,
    }
    assert [(p["row"], p["field"], p["code"]) for p in data["problems"]] == [
        (4, "id_number", "id_excel_number")
    ]
    assert data["totals"]["charged"] == "320.00" and data["totals"]["waived"] == "320.00"
    line = data["by_certificate"][0]
    assert (line["certificate_code"], line["level"], line["plan"], line["count"]) == (
        "HGJL",
        2,
        "BF-2026-HGJL-2",
        2,
    )
    assert not (tmp_path / "xgate.db").exists()


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"", "empty.csv", "file_empty"),
        (b"%PDF-1.4 ...", "a.pdf", "not_spreadsheet"),
        (b"PK\x03\x04truncated", "cut.xlsx", "xlsx_damaged"),
        (b"\xff\xfe\x00", "x.csv", "encoding_undecidable"),
    ],
)
def test_check_whole_file_problem_exits_2(
    xgate: Any, tmp_path: Path, content: bytes, name: str, code: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = xgate("check", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == code
    assert "error" in result.stderr


def test_check_header_only_and_missing_column_exit_2(xgate: Any, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_bytes(csv_bytes([], "utf-8-sig"))
    result = xgate("check", str(tmp_path / "h.csv"))
    assert result.exit_code == 2 and "no data rows" in result.stderr
    path = write_xlsx(
        tmp_path / "m.xlsx", [["张三", "HGJL", "中级"]], headers=["姓名", "证书", "等级"]
    )
    result = xgate("check", str(path))
    assert result.exit_code == 2 and "证件号码" in result.stderr


def test_check_without_a_catalogue_is_a_configuration_error(xgate: Any, tmp_path: Path) -> None:
    bare = tmp_path / "bare.toml"
    bare.write_text(f'database_url = "sqlite+aiosqlite:///{tmp_path / "x.db"}"\n')
    result = xgate("check", str(good_file(tmp_path)), conf=bare)
    assert result.exit_code == 3 and "catalogue_file" in result.stderr


def test_check_unknown_plan_option_exits_2(xgate: Any, tmp_path: Path) -> None:
    result = xgate("check", str(good_file(tmp_path)), "--plan", "NOPE")
    assert result.exit_code == 2 and "NOPE" in result.stderr


# --- submit ------------------------------------------------------------------------------------


def test_submit_dry_run_sends_and_writes_nothing(xgate: Any, tmp_path: Path) -> None:
    result = xgate("submit", str(mixed_file(tmp_path)), "--org", "beifang", "--dry-run")
    assert result.exit_code == 1  # one invalid row
    assert "dry run" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xgate.toml", "名单.xlsx"]
    assert fakeorg.org("beifang").register_calls == 0


def test_submit_asks_first_and_no_means_nothing_happens(xgate: Any, tmp_path: Path) -> None:
    path = good_file(tmp_path)
    result = xgate("submit", str(path), "--org", "beifang", input="n\n")
    assert result.exit_code == 0 and "not sent" in result.output
    assert not (tmp_path / "xgate.db").exists()
    result = xgate("submit", str(path), "--org", "beifang", "--json")
    assert result.exit_code == 2 and "--yes" in result.stderr
    result = xgate("submit", str(path), "--org", "beifang", "--operator", "王老师", input="y\n")
    assert result.exit_code == 3 and "xgate db upgrade" in result.output  # never created silently
    assert not (tmp_path / "xgate.db").exists()
    assert xgate("db", "upgrade").exit_code == 0
    result = xgate("submit", str(path), "--org", "beifang", "--operator", "王老师", input="y\n")
    assert result.exit_code == 0, result.output
    assert "accepted 3" in result.output
    assert fakeorg.org("beifang").register_calls == 1


def test_submit_yes_json_end_to_end_and_again_is_a_no_op(xgate: Any, tmp_path: Path) -> None:
    path = mixed_file(tmp_path)
    assert xgate("db", "upgrade").exit_code == 0
    result = xgate(
        "submit", str(path), "--org", "beifang", "--yes", "--json", "--operator", "王老师"
    )
    assert result.exit_code == 1  # one invalid row
    data = json.loads(result.stdout)
    assert data["counts"] == {"accepted": 2, "invalid": 1}
    assert data["operator"] == "王老师" and len(data["file_sha256"]) == 64
    results = Path(data["results_file"])
    assert results == tmp_path / "名单.beifang.results.xlsx"
    ws = load_workbook(results)["结果 results"]
    statuses = [ws.cell(row=r, column=12).value for r in (2, 3, 4)]
    assert statuses[0].startswith("accepted") and statuses[2].startswith("accepted")
    assert statuses[1].startswith("invalid: row 4, ID number: the ID number was stored by Excel")
    regs = registrations(tmp_path)
    assert len(regs) == 2 and {r["submission_id"] for r in regs} == {
        data["submissions"]["BF-2026-HGJL-2"]
    }
    calls = fakeorg.org("beifang").register_calls

    again = xgate("submit", str(path), "--org", "beifang", "--yes", "--json")
    assert again.exit_code == 1
    data = json.loads(again.stdout)
    assert data["sent"] == 0 and data["rows"]["skipped"] == 2
    assert fakeorg.org("beifang").register_calls == calls
    assert len(registrations(tmp_path)) == 2


def test_submit_configuration_and_plan_errors(xgate: Any, tmp_path: Path) -> None:
    path = good_file(tmp_path)
    result = xgate("submit", str(path), "--org", "nowhere", "--yes")
    assert result.exit_code == 3 and "nowhere" in result.stderr
    result = xgate("submit", str(path), "--org", "beifang", "--plan", "LH-2026-PLC-1", "--yes")
    assert result.exit_code == 2 and "liaohe" in result.stderr
    (tmp_path / "empty.xlsx").write_bytes(b"")
    result = xgate("submit", str(tmp_path / "empty.xlsx"), "--org", "beifang", "--yes")
    assert result.exit_code == 2
    assert not (tmp_path / "xgate.db").exists()
    assert not list(tmp_path.glob("*.results.xlsx"))


# --- the demo's sample file ------------------------------------------------------------------


def test_sample_file_has_exactly_the_planted_problems(xgate: Any) -> None:
    script = runpy.run_path(str(DATA / "make_candidates.py"))
    result = xgate("check", str(DATA / "candidates.xlsx"), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    found = {p["row"]: p["code"] for p in data["problems"]}
    script["plant_mistakes"](script["build_rows"](random.Random(script["SEED"])))
    assert found == script["PROBLEMS"]  # filled in while the mistakes are planted
    assert len(found) == 7 and 190 <= data["rows"]["total"] <= 210
    assert data["header_row"] == 3
    assert {line["plan"] for line in data["by_certificate"]} == {
        "BF-2026-HGJL-2",
        "LH-2026-PLC-1",
        "BF-2026-SHJ-1",
    }


def test_sample_file_is_generated_deterministically(tmp_path: Path) -> None:
    script = runpy.run_path(str(DATA / "make_candidates.py"))
    script["make"](tmp_path / "again.xlsx")
    assert (tmp_path / "again.xlsx").read_bytes() == (DATA / "candidates.xlsx").read_bytes()


# --- column sizes, unreadable CSV, results that cannot be written ------------------------------


def test_overlong_class_is_a_row_problem_and_is_never_sent(xgate: Any, tmp_path: Path) -> None:
    long_class = "化工" * 75  # 150 characters; the candidates.class_name column holds 128
    rows = [
        [*student(name="甲", id_number=make_id(seq=101)), "化工2301"],
        [*student(name="乙", id_number=make_id(seq=103)), long_class],
    ]
    path = write_xlsx(tmp_path / "名单.xlsx", rows, headers=[*HEADERS, "班级"])
    result = xgate("check", str(path), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["rows"] == {"total": 2, "valid": 1, "invalid": 1, "skipped": 0}
    [problem] = data["problems"]
    assert (problem["row"], problem["field"], problem["code"]) == (3, "class_name", "too_long")
    assert problem["message_zh"].startswith("第3行「班级」：内容超过128个字符（这里有150个）")
    assert problem["message_en"].startswith("row 3, class: longer than 128 characters")
    assert long_class not in result.stdout

    assert xgate("db", "upgrade").exit_code == 0
    result = xgate("submit", str(path), "--org", "beifang", "--yes", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["counts"] == {"accepted": 1, "invalid": 1}
    regs = registrations(tmp_path)
    assert len(regs) == 1
    sent = fakeorg.org("beifang").registrations
    assert set(sent) == {("BF-2026-HGJL-2", make_id(seq=101))}


def test_csv_cell_over_the_size_limit_exits_2_naming_the_row(xgate: Any, tmp_path: Path) -> None:
    rows = [
        student(name="甲", id_number=make_id(seq=101)),
        student(name="乙" * (1 << 20 | 1), id_number=make_id(seq=103)),
        student(name="丙", id_number=make_id(seq=105)),
    ]
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(rows, "utf-8"))
    for args in (["check", str(path)], ["submit", str(path), "--org", "beifang", "--yes"]):
        result = xgate(*args)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        en, zh = " ".join(result.stderr.split()), "".join(result.stderr.split())
        assert "名单.csv" in en and "row 3 (line 3 of the text)" in en
        assert "longer than 1,048,576 characters" in en
        assert "第3行（文本第3行）有一个单元格超过" in zh and "Traceback" not in result.output
    result = xgate("check", str(path), "--json")
    assert json.loads(result.stdout)["error"]["code"] == "csv_cell_too_large"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xgate.toml", "名单.csv"]
    assert fakeorg.org("beifang").register_calls == 0


@pytest.mark.parametrize("stray", [2, 3, 4])
def test_csv_stray_opening_quote_exits_2_naming_the_row(
    xgate: Any, tmp_path: Path, stray: int
) -> None:
    rows = [student(name=n, id_number=make_id(seq=101 + 2 * i)) for i, n in enumerate("甲乙丙")]
    rows[stray - 2][0] = '"' + rows[stray - 2][0]  # an unbalanced quote opens the row
    path = tmp_path / "名单.csv"
    data = csv_bytes(rows, "utf-8")
    path.write_bytes(data if stray < 4 else data.rstrip(b"\r\n"))  # last row: no final newline
    for args in (["check", str(path)], ["submit", str(path), "--org", "beifang", "--yes"]):
        result = xgate(*args)
        assert result.exit_code == 2, result.output
        en, zh = " ".join(result.stderr.split()), "".join(result.stderr.split())
        assert f'stray double quote (") in row {stray} (line {stray} of the text)' in en
        assert "remove the stray quote" in en and f"第{stray}行（文本第{stray}行）" in zh
    result = xgate("check", str(path), "--json")
    assert json.loads(result.stdout)["error"]["code"] == "csv_stray_quote"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xgate.toml", "名单.csv"]
    assert fakeorg.org("beifang").register_calls == 0


def test_csv_quoted_cells_that_are_fine_still_read(xgate: Any, tmp_path: Path) -> None:
    rows = [student(name=f"学生{i}", id_number=make_id(seq=101 + 2 * i)) for i in range(3)]
    rows[0][0] = '"张""三"'  # a properly escaped quote inside a quoted cell
    rows[1][4] = '"应用化工技术"'
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(rows, "utf-8"))
    result = xgate("check", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"]["valid"] == 3


def test_results_workbook_that_cannot_be_written_still_shows_the_summary(
    xgate: Any, tmp_path: Path
) -> None:
    path = good_file(tmp_path)
    target = tmp_path / "名单.beifang.results.xlsx"
    target.mkdir()  # something in the way: the workbook cannot replace a folder
    assert xgate("db", "upgrade").exit_code == 0
    result = xgate("submit", str(path), "--org", "beifang", "--yes")
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "submitted to beifang: accepted 3" in result.stdout
    err = " ".join(result.stderr.split())
    assert "the registrations were recorded" in err and "名单.beifang.results.xlsx" in err
    assert "run the same xgate submit again" in err and "报名已记录" in "".join(err.split())
    assert len(registrations(tmp_path)) == 3 and target.is_dir()
    assert [p.name for p in target.iterdir()] == []  # no temporary file left behind
    calls = fakeorg.org("beifang").register_calls

    result = xgate("submit", str(path), "--org", "beifang", "--yes", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["results_file"] is None
    assert "the registrations were recorded" in data["results_error"]

    target.rmdir()  # as the message says: clear the way and run submit again
    result = xgate("submit", str(path), "--org", "beifang", "--yes")
    assert result.exit_code == 0, result.output
    assert fakeorg.org("beifang").register_calls == calls  # nothing sent again
    assert len(registrations(tmp_path)) == 3
    ws = load_workbook(target)["结果 results"]
    statuses = [ws.cell(row=r, column=12).value for r in (2, 3, 4)]
    assert all(s.startswith("skipped") for s in statuses), statuses
