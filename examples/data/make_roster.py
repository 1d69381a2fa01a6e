"""Generate the demo college's student roster, ``examples/data/roster.xlsx`` (seeded: same
bytes every run).

The registrar's export (学籍) for the three majors of the demo candidate list: every student
of that list (with their correct ID numbers, before ``make_candidates`` plants its mistakes),
plus students who never registered for anything (the denominator coverage needs), two who
graduated and one on leave (not counted), and a fee waiver basis (困难认定类型) for the students
the candidate list marks as economically disadvantaged.

    python examples/data/make_roster.py [OUT.xlsx]
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

from make_candidates import FIXED_TIME, MAJORS, SEED, _id, _stable_zip, build_rows
from openpyxl import Workbook
from openpyxl.styles import Font

ROSTER_SEED = 20261202
HEADERS = [
    "序号",
    "学号",
    "姓名",
    "性别",
    "证件号码",
    "院系",
    "专业代码",
    "专业",
    "班级",
    "年级",
    "学制",
    "学籍状态",
    "困难认定类型",
]
MAJOR_CODES = {"应用化工技术": "470201", "电气自动化技术": "460301", "环境工程技术": "420802"}
#: students per major who are on the roster but on no candidate list
NEVER_REGISTERED = {"应用化工技术": 14, "电气自动化技术": 22, "环境工程技术": 9}
BASES = ["建档立卡", "低保", "家庭经济困难", "残疾学生"]


def build_roster(rng: random.Random) -> list[list[object]]:
    candidates = build_rows(random.Random(SEED))
    seen = {str(r[3]) for r in candidates}
    rows: list[list[object]] = []
    counters: dict[str, int] = {}
    for r in candidates:
        major = str(r[9])
        counters[major] = counters.get(major, 0) + 1
        basis = rng.choice(BASES) if r[14] == "是" else ""
        rows.append([r[7], r[1], r[4], r[3], r[8], MAJOR_CODES[major], major, r[10], basis])
    for major, extra in NEVER_REGISTERED.items():
        dept, prefix = MAJORS[major][0], MAJORS[major][1]
        index = list(MAJORS).index(major) + 1
        for _ in range(extra):
            counters[major] += 1
            i = counters[major]
            sex = rng.choice("男女")
            number = _id(rng, sex)
            while number in seen:
                number = _id(rng, sex)
            seen.add(number)
            name = rng.choice("赵钱孙李周吴郑王冯陈") + rng.choice("子涵浩然雨轩欣怡梓萱")
            klass = f"{prefix}24{(i - 1) // 40 + 1:02d}"
            row = [f"2024{index:02d}{i:03d}", name, sex, number, dept, MAJOR_CODES[major]]
            rows.append([*row, major, klass, ""])
    out = []
    for n, r in enumerate(rows, start=1):
        status = "在读"
        if n in (5, 90):
            status = "毕业"
        elif n == 150:
            status = "休学"
        out.append([n, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], "2024级", 3, status, r[8]])
    return out


def make(path: Path) -> int:
    rows = build_roster(random.Random(ROSTER_SEED))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "学籍花名册"
    ws.append(["辽宁石化职业技术学院 2024级在籍学生花名册（教务处导出）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(HEADERS)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for cells in ws.iter_rows(min_row=3, min_col=5, max_col=5):
        for cell in cells:
            cell.number_format = "@"  # the ID column is Text
    wb.properties.creator = "xgate demo"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_stable_zip(buffer.getvalue()))
    return len(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("roster.xlsx")
    print(f"wrote {target}: {make(target)} students")
