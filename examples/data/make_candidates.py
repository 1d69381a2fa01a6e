"""Generate the demo's candidate list, ``examples/data/candidates.xlsx`` (seeded: same bytes
every run).

About 200 students of three majors, as a college's teaching office would hand them over: a
merged title row and a subtitle above Chinese headers, the ID column formatted as text, a
blank row, a few full-width characters and stray spaces, and a handful of deliberate
mistakes that ``xgate check`` must find (see ``PROBLEMS``: Excel row -> problem code).

    python examples/data/make_candidates.py [OUT.xlsx]
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from gateway.idnumber import check_char

SEED = 20261120
HEADERS = [
    "序号",
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "民族",
    "手机号码",
    "学号",
    "院系",
    "专业",
    "班级",
    "证书名称",
    "等级",
    "考核批次",
    "是否家庭经济困难",
    "新考/补考",
]
#: major -> (department, class prefix, certificate name, level, plan, how many students)
MAJORS = {
    "应用化工技术": ("化学工程学院", "应化", "化工精馏安全控制", "中级", "BF-2026-HGJL-2", 80),
    "电气自动化技术": (
        "电气与信息工程学院",
        "电气",
        "可编程控制器系统应用编程",
        "初级",
        "LH-2026-PLC-1",
        62,
    ),
    "环境工程技术": ("环境与安全学院", "环工", "水环境监测与治理", "初级", "BF-2026-SHJ-1", 60),
}
REGIONS = ("210802", "210102", "210202", "210302", "211002", "210902", "210703")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫宇浩然子涵梓轩"
ETHNIC = ["汉族"] * 20 + ["满族", "满族", "蒙古族", "回族", "朝鲜族", "锡伯族"]
TITLE_ROWS = 2
FIRST_DATA_ROW = TITLE_ROWS + 2  # titles, header, then data
FIXED_TIME = datetime(2026, 11, 20, 9, 0, 0)

#: Excel row -> the problem code ``xgate check`` reports there (filled in by ``build_rows``).
PROBLEMS: dict[int, str] = {}


def _id(rng: random.Random, sex: str) -> str:
    year = rng.randint(2004, 2007)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    seq = rng.randrange(0, 999, 2) + (1 if sex == "男" else 0)
    body = f"{rng.choice(REGIONS)}{year}{month:02d}{day:02d}{seq:03d}"
    return body + check_char(body)


def build_rows(rng: random.Random) -> list[list[object]]:
    """Data rows in order; the deliberate mistakes are planted at fixed positions."""
    rows: list[list[object]] = []
    seen: set[str] = set()
    for major, (dept, prefix, cert, level, plan, count) in MAJORS.items():
        for i in range(count):
            sex = rng.choice("男女")
            number = _id(rng, sex)
            while number in seen:
                number = _id(rng, sex)
            seen.add(number)
            given = "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            name = rng.choice(SURNAMES) + given
            rows.append(
                [
                    None,
                    name,
                    "居民身份证",
                    number,
                    sex,
                    rng.choice(ETHNIC),
                    f"1{rng.choice('35789')}{rng.randint(0, 999999999):09d}",
                    f"2024{list(MAJORS).index(major) + 1:02d}{i + 1:03d}",
                    dept,
                    major,
                    f"{prefix}24{i // 40 + 1:02d}",
                    cert,
                    level,
                    plan,
                    "是" if rng.random() < 0.08 else "否",
                    "补考" if rng.random() < 0.05 else "新考",
                ]
            )
    return rows


def plant_mistakes(rows: list[list[object]]) -> list[list[object]]:
    """The mistakes staff really make, each once, plus harmless mess that must pass."""
    PROBLEMS.clear()

    def excel_row(index: int) -> int:
        return FIRST_DATA_ROW + index

    # a wrong check character
    r = rows[7]
    number = str(r[3])
    r[3] = number[:17] + ("0" if number[17] != "0" else "1")
    PROBLEMS[excel_row(7)] = "id_checksum"
    # an ID typed as a number: Excel keeps 15 significant digits
    r = rows[23]
    r[3] = float(int(str(r[3])[:15]) * 1000)
    PROBLEMS[excel_row(23)] = "id_excel_number"
    # a bad mobile (one digit short)
    rows[41][6] = str(rows[41][6])[:10]
    PROBLEMS[excel_row(41)] = "mobile_format"
    # a sex that contradicts the ID
    rows[66][4] = "女" if rows[66][4] == "男" else "男"
    PROBLEMS[excel_row(66)] = "sex_mismatch"
    # a certificate not in the catalogue, no plan
    rows[97][11], rows[97][13] = "工业互联网实施与运维", None
    PROBLEMS[excel_row(97)] = "certificate_unknown"
    # an environmental engineering student put down for the distillation certificate
    r = rows[150]
    r[11], r[12], r[13] = "化工精馏安全控制", "中级", "BF-2026-HGJL-2"
    PROBLEMS[excel_row(150)] = "major_ineligible"
    # valid for the college, refused by the organization: the platform insists on a mobile
    rows[88][6] = None
    # harmless mess: full-width digits and stray spaces, a lowercase level alias
    rows[12][3] = str(rows[12][3]).translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    rows[13][1] = f"  {rows[13][1]} "
    rows[14][12] = "中级 "
    # a duplicate: the same student entered twice (placed after a blank row)
    duplicate_of = 120
    rows.insert(181, [None] * len(HEADERS))  # a blank row, skipped
    rows.insert(182, list(rows[duplicate_of]))
    PROBLEMS[excel_row(182)] = "duplicate"
    number = 1
    for row in rows:
        if row[1] is not None:
            row[0] = number
            number += 1
    return rows


def build_workbook(rows: list[list[object]]) -> Workbook:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "报名表"
    ws.append(["辽宁石化职业技术学院 2026年下半年1+X职业技能等级证书考核报名表"])
    ws.append(["填表单位：继续教育学院　　填表日期：2026年11月20日"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(HEADERS))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(HEADERS)
    for cell in ws[TITLE_ROWS + 1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for row_cells in ws.iter_rows(min_row=FIRST_DATA_ROW, min_col=4, max_col=4):
        for cell in row_cells:
            if isinstance(cell.value, str):
                cell.number_format = "@"  # the ID column is Text, as it should be
    for col, width in zip(
        "ABCDEFGHIJKLMNOP",
        (6, 10, 12, 22, 6, 8, 14, 12, 16, 14, 10, 30, 8, 18, 16, 10),
        strict=True,
    ):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"
    wb.properties.creator = "xgate demo"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def _stable_zip(data: bytes) -> bytes:
    """Rewrite the archive with fixed timestamps so the same rows give the same bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" at save
                text = body.decode("utf-8")
                start = text.find("<dcterms:modified")
                end = text.find("</dcterms:modified>")
                if start >= 0 and end > start:
                    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
                    text = (
                        text[:start]
                        + '<dcterms:modified xsi:type="dcterms:W3CDTF">'
                        + stamp
                        + text[end:]
                    )
                body = text.encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 20, 9, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
    return out.getvalue()


def make(path: Path) -> int:
    """Write the workbook; returns the number of data rows (blank row included)."""
    rows = plant_mistakes(build_rows(random.Random(SEED)))
    buffer = io.BytesIO()
    build_workbook(rows).save(buffer)
    path.write_bytes(_stable_zip(buffer.getvalue()))
    return len(rows)


if __name__ == "__main__":
    default = Path(__file__).with_name("candidates.xlsx")
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    count = make(target)
    print(f"wrote {target}: {count} rows, deliberate problems at {PROBLEMS}")
