"""Column headers staff actually use, mapped to canonical field names.

Lists come from several systems (the student-records system, the organization's template, a
teacher's own sheet), so one field has many spellings, Chinese and English. Headers are
compared after ``header_key``: NFKC (full-width to half-width), lower case, required-field
markers (``*``) and bracketed notes (``手机号码（必填）``) removed, spaces and punctuation
dropped. ``docs/intake.md`` lists every alias; keep it in step with ``ALIASES``.
"""

from __future__ import annotations

import re
import unicodedata

#: canonical field -> (Chinese label, English label) used in messages and the results workbook.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "name"),
    "id_type": ("证件类型", "ID type"),
    "id_number": ("证件号码", "ID number"),
    "sex": ("性别", "sex"),
    "birth_date": ("出生日期", "birth date"),
    "ethnicity": ("民族", "ethnicity"),
    "mobile": ("手机号码", "mobile"),
    "student_number": ("学号", "student number"),
    "department": ("院系", "department"),
    "major": ("专业", "major"),
    "class_name": ("班级", "class"),
    "certificate": ("证书名称", "certificate"),
    "level": ("等级", "level"),
    "plan": ("考核批次", "exam plan"),
    "fee_waiver": ("是否家庭经济困难", "fee waiver"),
    "sitting": ("新考/补考", "sitting"),
    "eligibility_override": ("允许跨专业报考", "eligibility override"),
    # the registrar's roster (学籍) adds these (``xgate roster import``)
    "cohort": ("年级", "cohort"),
    "roster_status": ("学籍状态", "enrolment status"),
    "program_years": ("学制", "programme length"),
    "major_code": ("专业代码", "major code"),
    "waiver_basis": ("困难认定类型", "fee waiver basis"),
}

_ALIASES_BY_FIELD: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "考生姓名", "学生姓名", "name", "full name", "candidate name"),
    "id_type": ("证件类型", "证件种类", "id type", "document type", "id document type"),
    "id_number": (
        "证件号码",
        "证件号",
        "身份证号",
        "身份证号码",
        "身份证",
        "公民身份号码",
        "身份证件号码",
        "id number",
        "id no",
        "id",
        "id card number",
        "id card",
        "identity number",
    ),
    "sex": ("性别", "sex", "gender"),
    "birth_date": ("出生日期", "出生年月日", "birth date", "date of birth", "dob"),
    "ethnicity": ("民族", "ethnicity", "ethnic group"),
    "mobile": (
        "手机号码",
        "手机号",
        "手机",
        "联系电话",
        "移动电话",
        "联系方式",
        "mobile",
        "mobile number",
        "mobile phone",
        "phone",
        "phone number",
        "cell phone",
    ),
    "student_number": ("学号", "学籍号", "student number", "student no", "student id"),
    "department": (
        "院系",
        "系部",
        "学院",
        "二级学院",
        "所在院系",
        "系别",
        "department",
        "school",
        "faculty",
    ),
    "major": ("专业", "专业名称", "所学专业", "major", "programme", "program", "speciality"),
    "class_name": ("班级", "班级名称", "所在班级", "class", "class name"),
    "certificate": (
        "证书名称",
        "证书",
        "职业技能等级证书",
        "证书代码",
        "报考证书",
        "职业技能等级证书名称",
        "certificate",
        "certificate name",
        "certificate code",
    ),
    "level": ("等级", "级别", "证书等级", "报考等级", "报考级别", "level", "certificate level"),
    "plan": (
        "考核批次",
        "批次",
        "考核计划",
        "考核批次编号",
        "考核批次代码",
        "考试批次",
        "plan",
        "exam plan",
        "plan code",
        "batch",
        "assessment plan",
    ),
    "fee_waiver": (
        "是否家庭经济困难",
        "家庭经济困难",
        "是否经济困难",
        "经济困难学生",
        "是否困难学生",
        "是否免费",
        "费用减免",
        "免缴考试费",
        "fee waiver",
        "waiver",
        "economically disadvantaged",
        "disadvantaged",
    ),
    "sitting": (
        "新考/补考",
        "新考或补考",
        "新考补考",
        "考试类型",
        "报考类型",
        "考试性质",
        "是否补考",
        "sitting",
        "resit",
        "exam type",
        "first sitting or resit",
    ),
    "eligibility_override": (
        "允许跨专业报考",
        "允许跨专业",
        "跨专业报考",
        "资格例外",
        "eligibility override",
        "override",
        "allow ineligible",
    ),
    "cohort": (
        "年级",
        "入学年份",
        "入学年级",
        "入学年度",
        "所在年级",
        "cohort",
        "grade",
        "entry year",
        "year of entry",
    ),
    "roster_status": (
        "学籍状态",
        "学籍",
        "在校状态",
        "学生状态",
        "enrolment status",
        "enrollment status",
        "student status",
    ),
    "program_years": ("学制", "学制年限", "programme length", "program length", "years of study"),
    "major_code": ("专业代码", "专业编码", "专业代号", "major code", "programme code"),
    "waiver_basis": (
        "困难认定类型",
        "家庭经济困难类型",
        "困难类型",
        "资助认定类型",
        "减免依据",
        "减免类型",
        "waiver basis",
        "hardship category",
    ),
}

#: Headers that are recognised (they help find the header row) but carry nothing we use.
IGNORED_HEADERS: tuple[str, ...] = ("序号", "编号", "no", "no.", "#", "备注", "remarks", "note")

_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】")
_DROP = re.compile(r"[\s_\-.:：*·]+")


def header_key(text: object) -> str:
    """The comparable form of a header cell (see the module docstring)."""
    if text is None:
        return ""
    key = unicodedata.normalize("NFKC", str(text)).strip().lower()
    stripped = _BRACKETED.sub("", key)
    key = stripped if stripped.strip() else key  # a header that is only brackets stays as is
    return _DROP.sub("", key)


ALIASES: dict[str, str] = {
    header_key(alias): field for field, aliases in _ALIASES_BY_FIELD.items() for alias in aliases
}
_IGNORED = {header_key(h) for h in IGNORED_HEADERS}


def match_header(text: object) -> str | None:
    """The canonical field a header names, or None."""
    return ALIASES.get(header_key(text))


def is_known_header(text: object) -> bool:
    """True for a header we recognise, including columns we deliberately ignore."""
    key = header_key(text)
    return bool(key) and (key in ALIASES or key in _IGNORED)


def aliases_of(field: str) -> tuple[str, ...]:
    return _ALIASES_BY_FIELD[field]
