"""Row validation: every message names the row (as Excel numbers it) and the column."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.intake import build_preview
from gateway.intake.fees import parse_yes_no
from gateway.intake.problems import ROW_MESSAGES
from gateway.models import IdType, Level, Sex
from tests.intake_support import HEADERS, check, codes, make_id, student, write_xlsx

GOOD = make_id()  # born 2005-03-01, male (odd sequence 123)
BAD_CHECK = GOOD[:17] + ("1" if GOOD[17] != "1" else "2")


def one(
    tmp_path: Path,
    row: list[Any],
    headers: list[str] = HEADERS,
    plan: str | None = None,
    **options: Any,
) -> Any:
    path = write_xlsx(tmp_path / "one.xlsx", [row], headers=headers, titles=["标题"])
    return check(path, plan, **options).rows[0]


def problem_codes(result: Any) -> list[str]:
    return [p.code for p in result.problems]


def test_valid_row_becomes_a_candidate_with_plan_and_fee(tmp_path: Path) -> None:
    r = one(tmp_path, student(sex="男"))
    assert r.status == "valid" and r.row == 3
    e = r.entry
    assert e.candidate.id_number == GOOD and e.candidate.sex is Sex.MALE
    assert e.candidate.major == "应用化工技术"
    assert e.plan.code == "BF-2026-HGJL-2" and e.level is Level.INTERMEDIATE
    assert e.fee == Decimal("320.00") and not e.fee_waived and not e.resit


# --- ID numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1.10105194912310e17, "id_excel_number"),  # a float: Excel kept 15 digits
        (210802200503011000, "id_excel_number"),  # an int ending in 000
        ("1.10105E+17", "id_excel_number"),  # scientific notation as text (from CSV)
        ("110105194912310000", "id_excel_number"),  # trailing zeros as text
        (BAD_CHECK, "id_checksum"),
        ("11010519491231002", "id_format"),
        ("110105491231002", "id_legacy_15"),
        ("210802200502301233", "id_birth_date"),
        ("", "id_missing"),
    ],
)
def test_id_number_problems(tmp_path: Path, value: Any, code: str) -> None:
    r = one(tmp_path, student(id_number=value))
    assert problem_codes(r) == [code]
    p = r.problems[0]
    assert p.field == "id_number" and p.row == 3
    assert p.message_zh.startswith("第3行「证件号码」：")
    assert p.message_en.startswith("row 3, ID number: ")
    text = p.message_zh + p.message_en
    assert BAD_CHECK not in text and "11010519491231002" not in text  # masked


def test_excel_damage_message_says_format_as_text_and_never_guesses(tmp_path: Path) -> None:
    r = one(tmp_path, student(id_number=float(int(GOOD[:15]) * 1000)))
    p = r.problems[0]
    assert "Text" in p.message_en and "文本" in p.message_zh
    assert "cannot be recovered" in p.message_en
    assert r.entry is None


def test_lowercase_x_is_accepted(tmp_path: Path) -> None:
    r = one(tmp_path, student(id_number="11010519491231002x", sex="女"))
    assert r.status == "valid" and r.entry.candidate.id_number == "11010519491231002X"


def test_other_document_types_skip_the_checksum(tmp_path: Path) -> None:
    headers = ["姓名", "证件类型", "证件号码", "证书名称", "等级"]
    r = one(tmp_path, ["Tom Lee", "护照", "E12345678", "HGJL", "中级"], headers=headers)
    assert r.status == "valid" and r.entry.candidate.id_type is IdType.PASSPORT
    r = one(tmp_path, ["Tom Lee", "驾驶证", "E12345678", "HGJL", "中级"], headers=headers)
    assert problem_codes(r) == ["id_type_unknown"]


# --- sex, birth date, mobile ------------------------------------------------------------------


def test_sex_that_contradicts_the_id_is_mapped_to_the_sex_column(tmp_path: Path) -> None:
    r = one(tmp_path, student(sex="女"))  # GOOD is male
    assert problem_codes(r) == ["sex_mismatch"]
    assert r.problems[0].field == "sex"
    assert "“女”" in r.problems[0].message_zh and "male" in r.problems[0].message_en


def test_unknown_sex(tmp_path: Path) -> None:
    assert problem_codes(one(tmp_path, student(sex="未知"))) == ["sex_unknown"]


def test_personal_data_typed_into_another_column_is_masked_in_messages(tmp_path: Path) -> None:
    r = one(tmp_path, student(sex=GOOD, level="13812345678"))
    assert sorted(problem_codes(r)) == ["level_unknown", "sex_unknown"]
    text = " ".join(p.message_zh + p.message_en for p in r.problems)
    assert GOOD not in text and "13812345678" not in text
    assert GOOD[:6] + "********" + GOOD[-4:] in text and "138****5678" in text


def test_birth_date_column_is_cross_checked(tmp_path: Path) -> None:
    headers = [*HEADERS, "出生日期"]
    assert one(tmp_path, [*student(), datetime(2005, 3, 1)], headers).status == "valid"
    assert one(tmp_path, [*student(), "2005年3月1日"], headers).status == "valid"
    r = one(tmp_path, [*student(), "2005-03-02"], headers)
    assert problem_codes(r) == ["birth_date_mismatch"] and r.problems[0].field == "birth_date"
    assert problem_codes(one(tmp_path, [*student(), "去年"], headers)) == ["birth_date_invalid"]


@pytest.mark.parametrize("mobile", ["1381234567", "23812345678", "1281234567x", "138123456789"])
def test_bad_mobile(tmp_path: Path, mobile: str) -> None:
    r = one(tmp_path, student(mobile=mobile))
    assert problem_codes(r) == ["mobile_format"]
    assert mobile not in r.problems[0].message_zh + r.problems[0].message_en


@pytest.mark.parametrize(
    "mobile", ["138 1234 5678", "+86 13812345678", "138-1234-5678", 13812345678]
)
def test_mobile_spelling_variants(tmp_path: Path, mobile: Any) -> None:
    assert one(tmp_path, student(mobile=mobile)).entry.candidate.mobile == "13812345678"


def test_missing_name(tmp_path: Path) -> None:
    assert problem_codes(one(tmp_path, student(name=""))) == ["name_missing"]


# --- certificate, level, plan -----------------------------------------------------------------


def test_certificate_by_code_name_or_alias(tmp_path: Path) -> None:
    for text in ("HGJL", "hgjl", "化工精馏安全控制"):
        assert one(tmp_path, student(certificate=text)).status == "valid"
    r = one(tmp_path, student(certificate="HAZOP分析", level="初级", plan="BF-2026-HAZOP-1"))
    assert r.status == "valid" and r.entry.certificate_code == "HAZOP"


def test_certificate_not_in_catalogue(tmp_path: Path) -> None:
    r = one(tmp_path, student(certificate="工业互联网实施与运维", plan=""))
    assert problem_codes(r) == ["certificate_unknown"] and r.problems[0].field == "certificate"


def test_unknown_level(tmp_path: Path) -> None:
    assert problem_codes(one(tmp_path, student(level="特级"))) == ["level_unknown"]


def test_plan_must_match_the_rows_certificate_and_level(tmp_path: Path) -> None:
    r = one(tmp_path, student(level="初级"))  # plan BF-2026-HGJL-2 is 中级
    assert problem_codes(r) == ["plan_mismatch"]
    assert "BF-2026-HGJL-2" in r.problems[0].message_en
    r = one(tmp_path, student(plan="BF-2026-NOPE"))
    assert problem_codes(r) == ["plan_unknown"]


def test_plan_option_against_the_rows(tmp_path: Path) -> None:
    # --plan and a differing 考核批次 column
    r = one(tmp_path, student(), plan="BF-2026-SHJ-1")
    assert problem_codes(r) == ["plan_conflict"]
    # --plan without a plan column: the row's certificate must match the plan
    headers = HEADERS[:7]
    r = one(tmp_path, student()[:7], headers, plan="BF-2026-SHJ-1", allow_ineligible=True)
    assert problem_codes(r) == ["plan_mismatch"]
    r = one(tmp_path, student()[:7], headers, plan="BF-2026-HGJL-2")
    assert r.status == "valid" and r.entry.plan.code == "BF-2026-HGJL-2"


def test_plan_is_taken_from_the_catalogue_when_unique(tmp_path: Path) -> None:
    headers = HEADERS[:7]
    r = one(tmp_path, student()[:7], headers)
    assert r.entry.plan.code == "BF-2026-HGJL-2"
    r = one(tmp_path, student(level="高级")[:7], headers, require_plan=True)
    assert problem_codes(r) == ["plan_missing"]


def test_plan_of_another_organization(tmp_path: Path) -> None:
    row = student(major="电气自动化技术", certificate="PLC", level="初级", plan="LH-2026-PLC-1")
    assert one(tmp_path, row).status == "valid"
    r = one(tmp_path, row, organization="beifang", organization_names=frozenset({"beifang"}))
    assert problem_codes(r) == ["plan_other_org"]


# --- duplicates -------------------------------------------------------------------------------


def test_duplicate_reports_the_second_occurrence_naming_the_first(tmp_path: Path) -> None:
    other = make_id(seq=125)
    rows = [
        student(),
        student(name="李四", id_number=other),
        student(name="张三丰"),
        student(
            id_number=GOOD,
            major="石油化工技术",
            certificate="HAZOP",
            level="初级",
            plan="BF-2026-HAZOP-1",
        ),
    ]
    checked = check(write_xlsx(tmp_path / "dup.xlsx", rows, titles=["标题"]))
    assert codes(checked) == {5: ["duplicate"]}  # row 6: same person, another plan: fine
    p = checked.rows[2].problems[0]
    assert "第3行" in p.message_zh and "row 3" in p.message_en
    assert checked.count("valid") == 3


# --- eligibility ------------------------------------------------------------------------------


def test_eligibility_and_its_overrides(tmp_path: Path) -> None:
    row = student(major="环境工程技术")
    r = one(tmp_path, row)
    assert problem_codes(r) == ["major_ineligible"] and r.problems[0].field == "major"
    assert "--allow-ineligible" in r.problems[0].message_en
    assert problem_codes(one(tmp_path, student(major="烹饪工艺"))) == ["major_unknown"]
    r = one(tmp_path, row, allow_ineligible=True)
    assert r.status == "valid" and r.entry.eligibility_overridden
    headers = [*HEADERS, "允许跨专业报考"]
    r = one(tmp_path, [*row, "是"], headers)
    assert r.status == "valid" and r.entry.eligibility_overridden
    assert problem_codes(one(tmp_path, [*row, "否"], headers)) == ["major_ineligible"]
    assert problem_codes(one(tmp_path, [*row, "也许"], headers)) == [
        "override_value",
        "major_ineligible",
    ]
    assert one(tmp_path, student(major="")).status == "valid"  # no major: not checked


# --- fees, waiver, sitting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("是", True),
        ("Y", True),
        ("yes", True),
        ("1", True),
        ("true", True),
        (1, True),
        (True, True),
        ("否", False),
        ("N", False),
        ("", False),
        (None, False),
        (0, False),
        ("也许", None),
        (2, None),
    ],
)
def test_yes_no(value: Any, expected: bool | None) -> None:
    assert parse_yes_no(value) is expected


def test_fee_waiver_and_sitting(tmp_path: Path) -> None:
    r = one(tmp_path, student(waiver="是", sitting="补考"))
    assert r.entry.fee_waived and r.entry.resit and r.entry.candidate.fee_waiver
    assert problem_codes(one(tmp_path, student(waiver="看情况"))) == ["fee_waiver_value"]
    assert problem_codes(one(tmp_path, student(sitting="第三次"))) == ["sitting_value"]


def test_preview_totals_charged_and_waived_per_certificate_and_level(tmp_path: Path) -> None:
    rows = [
        student(id_number=make_id(seq=101)),
        student(id_number=make_id(seq=103), waiver="是"),
        student(id_number=make_id(seq=105)),
        student(
            id_number=make_id(seq=107),
            major="环境工程技术",
            certificate="SHJ",
            level="初级",
            plan="BF-2026-SHJ-1",
            waiver="Y",
        ),
        student(id_number=make_id(seq=109), mobile="1"),  # invalid: not counted
    ]
    preview = build_preview(check(write_xlsx(tmp_path / "fees.xlsx", rows)))
    lines = {(line.certificate_code, int(line.level)): line for line in preview.lines}
    hgjl, shj = lines[("HGJL", 2)], lines[("SHJ", 1)]
    assert (hgjl.count, hgjl.waived_count, hgjl.charged, hgjl.waived) == (
        3,
        1,
        Decimal("640.00"),
        Decimal("320.00"),
    )
    assert (shj.count, shj.charged, shj.waived) == (1, Decimal(0), Decimal("280.00"))
    assert (preview.charged, preview.waived) == (Decimal("640.00"), Decimal("600.00"))
    assert (preview.valid, preview.invalid) == (4, 1)
    data = preview.as_dict()
    assert data["totals"]["charged"] == "640.00" and data["rows"]["invalid"] == 1
    assert data["problems"][0]["code"] == "mobile_format"


def test_every_problem_of_a_row_is_reported_at_once(tmp_path: Path) -> None:
    r = one(tmp_path, student(id_number="123", mobile="1", level="特级", waiver="?"))
    assert sorted(problem_codes(r)) == [
        "fee_waiver_value",
        "id_format",
        "level_unknown",
        "mobile_format",
    ]


def test_every_row_message_has_both_languages() -> None:
    for code, (zh, en) in ROW_MESSAGES.items():
        assert zh and en and zh != en, code
