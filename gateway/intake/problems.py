"""Everything that can be wrong with a candidate file, in Chinese and English.

Staff read these messages, so each one says which row and which column, what is wrong and
what to do. Every message lives in the two tables below (``docs/intake.md`` lists them and a
test keeps the two in step); no message ever carries a full ID number or mobile number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import InputError
from gateway.intake.headers import FIELD_LABELS
from gateway.masking import mask_text

#: Row problems: code -> (Chinese template, English template).
ROW_MESSAGES: dict[str, tuple[str, str]] = {
    "name_missing": ("姓名为空", "the name is empty"),
    "name_too_long": ("姓名超过64个字符", "the name is longer than 64 characters"),
    "id_type_unknown": (
        "无法识别的证件类型“{value}”，请填写居民身份证、港澳居民来往内地通行证、"
        "台湾居民来往大陆通行证、护照或外国人永久居留身份证",
        "unknown ID type “{value}”; use 居民身份证 (resident ID card), 港澳居民来往内地通行证, "
        "台湾居民来往大陆通行证, 护照 (passport) or 外国人永久居留身份证",
    ),
    "id_missing": ("证件号码为空", "the ID number is empty"),
    "id_excel_number": (
        "证件号码被Excel存成了数字，后几位已经丢失，无法从本文件恢复；请把该列设置为“文本”格式后"
        "重新录入证件号码",
        "the ID number was stored by Excel as a number and has lost its last digits, which "
        "cannot be recovered from this file; format the column as Text and re-enter the numbers",
    ),
    "id_legacy_15": (
        "不接受15位的旧身份证号码，请提供18位号码",
        "a 15-digit ID number (issued before 1999) is not accepted; ask for the 18-digit number",
    ),
    "id_format": (
        "证件号码应为18位（17位数字加一位数字或X），这里有{length}位",
        "the ID number must be 17 digits and then a digit or X; this one has {length} characters",
    ),
    "id_birth_date": (
        "证件号码{masked}中的出生日期无效或超出范围",
        "the ID number {masked} holds an impossible or out-of-range birth date",
    ),
    "id_checksum": (
        "证件号码{masked}的校验位错误，请核对每一位数字",
        "the check character of {masked} is wrong; check every digit",
    ),
    "sex_unknown": (
        "无法识别的性别“{value}”，请填写男或女",
        "unknown sex “{value}”; use 男 (male) or 女 (female)",
    ),
    "sex_mismatch": (
        "性别“{value}”与证件号码不符（证件号码表示{expected_zh}）",
        "sex “{value}” contradicts the ID number (which says {expected_en})",
    ),
    "birth_date_invalid": (
        "无法识别的出生日期“{value}”，请写成2005-03-01",
        "cannot read the birth date “{value}”; write it as 2005-03-01",
    ),
    "birth_date_mismatch": (
        "出生日期与证件号码不符",
        "the birth date contradicts the ID number",
    ),
    "mobile_format": (
        "手机号码应为11位数字，以1开头、第二位为3至9",
        "the mobile number must be 11 digits, starting with 1 and then 3 to 9",
    ),
    "certificate_missing": (
        "证书名称为空（或使用考核批次列、--plan 指定）",
        "the certificate is empty (or give a 考核批次 column or --plan)",
    ),
    "certificate_unknown": (
        "证书“{value}”不在证书目录中",
        "the certificate “{value}” is not in the catalogue",
    ),
    "level_missing": (
        "等级为空，请填写初级、中级或高级",
        "the level is empty; use 初级, 中级 or 高级",
    ),
    "level_unknown": (
        "无法识别的等级“{value}”，请填写初级、中级或高级",
        "unknown level “{value}”; use 初级 (junior), 中级 (intermediate) or 高级 (senior)",
    ),
    "level_not_offered": (
        "证书“{certificate}”没有{level_zh}",
        "the certificate “{certificate}” has no {level_en} level",
    ),
    "plan_missing": (
        "没有考核批次：请增加考核批次列或使用 --plan 指定",
        "no exam plan: add a 考核批次 column or use --plan",
    ),
    "plan_unknown": (
        "考核批次“{value}”不在证书目录中",
        "the exam plan “{value}” is not in the catalogue",
    ),
    "plan_ambiguous": (
        "“{certificate}”{level_zh}有多个考核批次（{plans}），请指定考核批次",
        "“{certificate}” at {level_en} level has several exam plans ({plans}); name one",
    ),
    "plan_mismatch": (
        "考核批次{plan}考的是“{plan_certificate}”{plan_level_zh}，与本行的“{certificate}”"
        "{level_zh}不符",
        "the exam plan {plan} is for “{plan_certificate}” at {plan_level_en} level, not for "
        "“{certificate}” at {level_en} level as this row says",
    ),
    "plan_conflict": (
        "本行的考核批次{value}与 --plan {plan} 不同",
        "this row's exam plan {value} differs from --plan {plan}",
    ),
    "plan_other_org": (
        "考核批次{plan}属于{plan_org}，不属于本次提交的组织{org}",
        "the exam plan {plan} belongs to {plan_org}, not to {org} (the organization submitted to)",
    ),
    "duplicate": (
        "与第{first}行重复（同一证件号码、同一考核批次），本行不报名",
        "duplicate of row {first} (same ID number, same exam plan); this row is not submitted",
    ),
    "major_ineligible": (
        "“{major}”专业不能报考“{certificate}”（见专业与证书对应表）；确需报考的，"
        "请在“允许跨专业报考”列填“是”，或使用 --allow-ineligible",
        "students of “{major}” may not sit “{certificate}” (see the major-certificate mapping); "
        "to allow it, put 是 in the 允许跨专业报考 column or use --allow-ineligible",
    ),
    "major_unknown": (
        "专业“{major}”不在专业与证书对应表中；确需报考的，请在“允许跨专业报考”列填“是”，"
        "或使用 --allow-ineligible",
        "the major “{major}” is not in the major-certificate mapping; to allow it, put 是 in the "
        "允许跨专业报考 column or use --allow-ineligible",
    ),
    "fee_waiver_value": (
        "无法识别“{value}”，请填写是或否",
        "cannot read “{value}”; use 是 (yes) or 否 (no)",
    ),
    "sitting_value": (
        "无法识别“{value}”，请填写新考或补考",
        "cannot read “{value}”; use 新考 (first sitting) or 补考 (resit)",
    ),
    "override_value": (
        "无法识别“{value}”，请填写是或否",
        "cannot read “{value}”; use 是 (yes) or 否 (no)",
    ),
    "too_long": (
        "内容超过{limit}个字符（这里有{length}个），请缩短",
        "longer than {limit} characters (this one has {length}); shorten it",
    ),
    "invalid_value": ("值无效：{detail}", "invalid value: {detail}"),
    # the registrar's roster (``xgate roster import``)
    "value_missing": ("不能为空", "must not be empty"),
    "cohort_invalid": (
        "无法识别的年级“{value}”，请填写入学年份，如2024",
        "cannot read the cohort “{value}”; write the year of entry, e.g. 2024",
    ),
    "roster_status_unknown": (
        "无法识别的学籍状态“{value}”，请填写在读、休学、保留学籍、毕业、结业、退学或转学",
        "unknown enrolment status “{value}”; use 在读, 休学, 保留学籍, 毕业, 结业, 退学 or 转学",
    ),
    "program_years_invalid": (
        "无法识别的学制“{value}”，请填写2至5之间的整数",
        "cannot read the programme length “{value}”; use a whole number of years from 2 to 5",
    ),
    "waiver_basis_unknown": (
        "无法识别的困难认定类型“{value}”，请填写建档立卡、低保、特困供养、残疾学生、孤儿或家庭经济困难",
        "unknown fee waiver basis “{value}”; use 建档立卡, 低保, 特困供养, 残疾学生, 孤儿 or "
        "家庭经济困难",
    ),
    "roster_duplicate_number": (
        "与第{first}行学号相同，本文件不导入",
        "the same student number as row {first}; the file is not imported",
    ),
    "roster_duplicate_id": (
        "与第{first}行证件号码相同（同一人出现两次），本文件不导入",
        "the same ID number as row {first} (one person twice); the file is not imported",
    ),
    "roster_conflict": (
        "学号{number}与证件号码{masked}在花名册中分属两名学生（另一名学号{other}），请核对",
        "the student number {number} and the ID number {masked} belong to two different "
        "students on the roster (the other is {other}); check them",
    ),
}

#: Notes on rows that are valid but not sent: code -> (Chinese, English).
SKIP_MESSAGES: dict[str, tuple[str, str]] = {
    "already_registered": (
        "已报名考核批次{plan}（状态：{status}），本次跳过",
        "already registered for the exam plan {plan} (status: {status}); skipped",
    ),
}

#: Whole-file problems (exit code 2, nothing written): code -> (Chinese, English).
FILE_MESSAGES: dict[str, tuple[str, str]] = {
    "file_missing": ("找不到文件{file}", "the file {file} does not exist"),
    "file_empty": ("文件{file}是空的", "the file {file} is empty"),
    "not_spreadsheet": (
        "{file}不是Excel（.xlsx）或CSV文件",
        "{file} is not an Excel (.xlsx) or CSV file",
    ),
    "xls_legacy": (
        "{file}是旧版Excel（.xls）文件，请在Excel中另存为.xlsx后再试",
        "{file} is an old Excel (.xls) file; save it as .xlsx in Excel and try again",
    ),
    "xlsx_damaged": (
        "Excel文件{file}已损坏或不完整（可能没有下载或复制完整），请重新导出：{detail}",
        "the Excel file {file} is damaged or truncated (perhaps not fully downloaded or "
        "copied); export it again: {detail}",
    ),
    "encoding_undecidable": (
        "无法确定CSV文件{file}的编码（已尝试：{tried}）{detail}；请在Excel中另存为"
        "“CSV UTF-8”或.xlsx后再试",
        "cannot tell the encoding of the CSV file {file} (tried: {tried}){detail}; save it "
        "from Excel as “CSV UTF-8” or as .xlsx and try again",
    ),
    "encoding_damaged": (
        "CSV文件{file}含有乱码（{detail}），说明之前的一次转换已经损坏了数据；请从原系统重新导出",
        "the CSV file {file} contains garbled text ({detail}): an earlier conversion damaged it; "
        "export it again from the original system",
    ),
    "csv_stray_quote": (
        'CSV文件{file}第{row}行（文本第{line}行）有一个多余的双引号（"），其后的内容被读成了'
        "一个单元格，数据因此错位或丢失；请删除这个多余的双引号后再试",
        'the CSV file {file} has a stray double quote (") in row {row} (line {line} of the '
        "text): everything after it was read as one cell, so data was shifted or lost; remove "
        "the stray quote and try again",
    ),
    "csv_cell_too_large": (
        "CSV文件{file}第{row}行（文本第{line}行）有一个单元格超过{limit}个字符，无法读取"
        "（常见原因是多余的双引号）；请检查该行后再试",
        "the CSV file {file} has a cell longer than {limit} characters in row {row} (line "
        "{line} of the text), which cannot be read (often a stray double quote is the cause); "
        "check that row and try again",
    ),
    "csv_unreadable": (
        "无法读取CSV文件{file}第{row}行（文本第{line}行）：{detail}；请在Excel中另存为.xlsx后再试",
        "cannot read row {row} (line {line} of the text) of the CSV file {file}: {detail}; "
        "save it from Excel as .xlsx and try again",
    ),
    "no_header": (
        "在{file}的前{rows}行中找不到表头（至少需要姓名和证件号码两列）{detail}",
        "no header row in the first {rows} rows of {file} (at least 姓名 name and 证件号码 "
        "ID number are needed){detail}",
    ),
    "missing_columns": (
        "{file}缺少必需的列：{columns}",
        "{file} lacks required columns: {columns_en}",
    ),
    "no_rows": (
        "{file}的表头下面没有数据行",
        "{file} has a header but no data rows",
    ),
    "too_many_rows": (
        "{file}超过{limit}行，未检查：请拆分为多个文件（上限可在xgate.toml的intake_max_rows中设置）",
        "{file} has more than {limit} rows and was not checked: split it into several files "
        "(the limit is intake_max_rows in xgate.toml)",
    ),
    "too_large": (
        "{file}解压后超过{limit_mb}MB（工作表共{size_mb}MB），未读取：请拆分为多个文件，或删除"
        "多余的工作表和格式（上限可在xgate.toml的intake_max_sheet_mb中设置）",
        "{file} unpacks to {size_mb} MB of sheets, more than {limit_mb} MB, and was not read: "
        "split it, or remove extra sheets and formatting (the limit is intake_max_sheet_mb "
        "in xgate.toml)",
    ),
    "plan_unknown": (
        "考核批次 --plan {plan} 不在证书目录中（已知：{known}）",
        "the exam plan --plan {plan} is not in the catalogue (known: {known})",
    ),
    "plan_org_mismatch": (
        "考核批次{plan}属于{plan_org}，不能提交给{org}",
        "the exam plan {plan} belongs to {plan_org}; it cannot be submitted to {org}",
    ),
}


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One thing wrong with one row; the messages name the row (as Excel numbers it) and the
    column, so staff can go straight to the cell."""

    row: int
    field: str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


def _masked(values: dict[str, object]) -> dict[str, object]:
    """Cell text goes into messages masked: an ID number typed into the wrong column must not
    come back out in full."""
    return {k: mask_text(v) if isinstance(v, str) else v for k, v in values.items()}


def row_problem(row: int, field: str, code: str, **values: object) -> RowProblem:
    zh, en = ROW_MESSAGES[code]
    values = _masked(values)
    label_zh, label_en = FIELD_LABELS.get(field, (field, field))
    return RowProblem(
        row=row,
        field=field,
        code=code,
        message_zh=f"第{row}行「{label_zh}」：" + zh.format(**values),
        message_en=f"row {row}, {label_en}: " + en.format(**values),
    )


def skip_note(code: str, **values: object) -> tuple[str, str]:
    zh, en = SKIP_MESSAGES[code]
    values = _masked(values)
    return zh.format(**values), en.format(**values)


class IntakeFileError(InputError):
    """A problem with the whole file: one clear message, exit code 2, nothing written."""

    def __init__(self, code: str, **values: object) -> None:
        zh, en = FILE_MESSAGES[code]
        values = _masked(values)
        values.setdefault("detail", "")
        self.code = code
        self.message_zh = zh.format(**values)
        self.message_en = en.format(**values)
        super().__init__(f"{self.message_en} / {self.message_zh}")

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}
