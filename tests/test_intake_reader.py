"""Reading candidate files: formats, encodings, header rows, and whole-file problems."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from gateway.intake import IntakeFileError, open_candidate_file
from gateway.intake.headers import ALIASES, header_key, match_header
from gateway.intake.reader import detect_encoding
from tests.intake_support import HEADERS, check, codes, csv_bytes, make_id, student, write_xlsx


def file_error(path: Path, plan: str | None = None) -> IntakeFileError:
    with pytest.raises(IntakeFileError) as err:
        check(path, plan)
    assert err.value.exit_code == 2
    return err.value


# --- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓名", "name"),
        ("Name", "name"),
        ("身份证号", "id_number"),
        ("证件号码", "id_number"),
        ("ID Number", "id_number"),
        ("id_number", "id_number"),
        ("手机", "mobile"),
        ("手机号码（必填）", "mobile"),
        ("*姓名", "name"),
        ("系部", "department"),
        ("院系", "department"),
        ("级别", "level"),
        ("考核批次", "plan"),
        ("是否家庭经济困难", "fee_waiver"),
        ("新考/补考", "sitting"),
        ("ＩＤ　ｎｕｍｂｅｒ", "id_number"),
        (" 专业 ", "major"),
        ("Certificate", "certificate"),
        ("民族", "ethnicity"),
    ],
)
def test_header_aliases(header: str, field: str) -> None:
    assert match_header(header) == field


def test_unknown_header_is_not_matched() -> None:
    assert match_header("家庭住址") is None
    assert header_key("手机号码（必填）") == "手机号码"
    assert all(key == header_key(key) for key in ALIASES)


# --- xlsx --------------------------------------------------------------------------------------


def test_header_found_below_merged_title_rows_and_blank_rows_skipped(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "名单.xlsx",
        [
            student(),
            [None] * len(HEADERS),
            ["  ", None, None],
            student(name="李四", id_number=make_id(seq=125)),
        ],
        titles=["辽宁石化职业技术学院 2026年考核报名表", "填表日期：2026-11-20"],
    )
    source = open_candidate_file(path)
    assert source.kind == "xlsx" and source.layout.header_row == 3
    rows = list(source.rows())
    assert [r.number for r in rows] == [4, 7]  # rows 5 and 6 are blank
    checked = check(path)
    assert [r.row for r in checked.rows] == [4, 7]
    assert checked.count("valid") == 2


def test_full_width_characters_and_spaces_are_normalised(tmp_path: Path) -> None:
    wide_id = make_id().translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    row = student(
        name="　王五　",
        id_number=f" {wide_id} ",
        mobile="１３８１２３４５６７８",
        level="中级　",
        plan="ＢＦ－２０２６－ＨＧＪＬ－２",
    )
    path = write_xlsx(
        tmp_path / "wide.xlsx",
        [row],
        headers=[
            "姓名",
            "身份证号",
            "性别",
            "手机",
            "专业",
            "证书",
            "级别",
            "考核批次",
            "是否家庭经济困难",
            "新考/补考",
        ],
    )
    checked = check(path)
    assert codes(checked) == {}
    entry = next(checked.valid())
    assert entry.candidate.name == "王五"
    assert entry.candidate.id_number == make_id()
    assert entry.candidate.mobile == "13812345678"
    assert entry.plan is not None and entry.plan.code == "BF-2026-HGJL-2"


def test_wrong_dimension_record_does_not_cut_columns(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "dim.xlsx", [student()])
    # Rewrite the sheet's <dimension> to claim one cell, as some exporters do.
    patched = tmp_path / "dim2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start = text.index('<dimension ref="')
                end = text.index("/>", start)
                data = (text[:start] + '<dimension ref="A1"' + text[end:]).encode()
            dst.writestr(item, data)
    checked = check(patched)
    assert checked.count("valid") == 1
    assert next(checked.valid()).candidate.mobile == "13812345678"


def test_header_on_a_later_sheet_is_found(tmp_path: Path) -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.title = "说明"
    first.append(["请在第二张表填写"])
    ws = wb.create_sheet("名单")
    ws.append(HEADERS)
    ws.append(student())
    wb.save(tmp_path / "two.xlsx")
    with open_candidate_file(tmp_path / "two.xlsx") as source:
        assert source.sheet == "名单" and source.sheet_index == 1
        assert [r.values[0] for r in source.rows()] == ["张三"]
        assert [r.values[0] for r in source.rows()] == ["张三"]  # a second pass re-reads


# --- csv and encodings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gb18030", "gb18030"),
        ("gbk", "gb18030"),
        ("utf-16", "utf-16"),
    ],
)
def test_csv_in_each_encoding(tmp_path: Path, encoding: str, expected: str) -> None:
    rows = [
        student(name="王芳" if encoding == "gbk" else "刘䶮"),  # 䶮 is not in GBK
        student(
            name="欧阳娜娜",
            id_number=make_id(seq=124),
            major="石油化工技术",
            certificate="HAZOP分析",
            level="初级",
            plan="BF-2026-HAZOP-1",
        ),
    ]
    delimiter = "\t" if encoding == "utf-16" else ","
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(rows, encoding, delimiter=delimiter))
    assert detect_encoding(path) == expected
    checked = check(path)
    assert codes(checked) == {}
    names = [e.candidate.name for e in checked.valid()]
    assert names == [rows[0][0], "欧阳娜娜"]
    assert checked.source.layout.columns["name"] == 0  # no BOM glued to the first header


def test_csv_bytes_valid_in_no_encoding_are_refused_naming_the_encodings(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(",".join(HEADERS).encode("utf-8") + b"\r\n\xff\xfe\x80\x80,\xff\r\n")
    err = file_error(path)
    assert err.code == "encoding_undecidable"
    for name in ("UTF-8", "utf-8-sig", "GB18030"):
        assert name in err.message_en


def test_mostly_utf8_with_a_stray_byte_is_not_read_as_gb18030(tmp_path: Path) -> None:
    good = csv_bytes([student(name="欧阳娜娜") for _ in range(20)], "utf-8")
    path = tmp_path / "mixed.csv"
    path.write_bytes(good + "张三".encode("gbk") + b",x\r\n")  # one GBK name inside UTF-8
    err = file_error(path)
    assert err.code == "encoding_undecidable" and "mostly UTF-8" in err.message_en


def test_text_damaged_by_an_earlier_conversion_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kunkao.csv"
    path.write_bytes(csv_bytes([student(name="锟斤拷")], "gb18030"))
    assert file_error(path).code == "encoding_damaged"
    path.write_bytes(csv_bytes([student(name="张\ufffd")], "utf-8"))
    assert file_error(path).code == "encoding_damaged"


def test_latin1_mojibake_headers_say_the_encoding_looks_wrong(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    garbled = ",".join(HEADERS).encode("gbk").decode("latin-1")
    path.write_bytes((garbled + "\r\n" + "a,b\r\n").encode("utf-8"))
    err = file_error(path)
    assert err.code == "no_header" and "garbled" in err.message_en


def test_semicolon_csv(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_bytes(csv_bytes([student()], "utf-8", delimiter=";"))
    assert check(path).count("valid") == 1


# --- whole-file problems -------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    assert file_error(tmp_path / "empty.csv").code == "file_empty"
    (tmp_path / "blank.csv").write_bytes(b"\r\n \r\n")
    assert file_error(tmp_path / "blank.csv").code == "file_empty"
    wb = Workbook()
    wb.save(tmp_path / "empty.xlsx")
    assert file_error(tmp_path / "empty.xlsx").code == "file_empty"


def test_header_only(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "header.xlsx", [], titles=["标题"])
    assert file_error(path).code == "no_rows"
    (tmp_path / "header.csv").write_bytes(csv_bytes([], "utf-8") + b",,,\r\n")
    assert file_error(tmp_path / "header.csv").code == "no_rows"


def test_not_a_spreadsheet(tmp_path: Path) -> None:
    (tmp_path / "photo.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert file_error(tmp_path / "photo.xlsx").code == "not_spreadsheet"
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    assert file_error(tmp_path / "doc.pdf").code == "not_spreadsheet"
    (tmp_path / "bin.csv").write_bytes(b"a,b\x00c\r\n")
    assert file_error(tmp_path / "bin.csv").code == "not_spreadsheet"
    with zipfile.ZipFile(tmp_path / "other.xlsx", "w") as z:
        z.writestr("hello.txt", "not a workbook")
    assert file_error(tmp_path / "other.xlsx").code == "not_spreadsheet"
    (tmp_path / "old.xls").write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504))
    assert file_error(tmp_path / "old.xls").code == "xls_legacy"
    assert file_error(tmp_path / "missing.xlsx").code == "file_missing"


def test_truncated_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "whole.xlsx", [student() for _ in range(50)])
    data = path.read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    err = file_error(cut)
    assert err.code == "xlsx_damaged" and "cut.xlsx" in err.message_en


def test_required_column_missing_names_it(tmp_path: Path) -> None:
    headers = ["姓名", "手机号码", "证书名称", "等级"]
    path = write_xlsx(
        tmp_path / "noid.xlsx", [["张三", "13812345678", "HGJL", "中级"]], headers=headers
    )
    err = file_error(path)
    assert err.code == "missing_columns"
    assert "证件号码" in err.message_zh and "ID number" in err.message_en
    # without --plan or a 考核批次 column, certificate and level are needed
    path = write_xlsx(tmp_path / "nocert.xlsx", [["张三", make_id()]], headers=["姓名", "证件号码"])
    err = file_error(path)
    assert "证书名称" in err.message_zh and "等级" in err.message_zh
    assert check(path, plan="BF-2026-HGJL-2").count("valid") == 1


def test_no_header_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "x.xlsx", [["a", "b"]], headers=["甲", "乙"])
    assert file_error(path).code == "no_header"


def test_unknown_plan_option_is_a_whole_file_problem(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "p.xlsx", [student()])
    err = file_error(path, plan="NOPE-1")
    assert err.code == "plan_unknown" and "BF-2026-HGJL-2" in err.message_en
