"""How long ``xgate check`` takes on a large candidate file, against a bare openpyxl read.

The target: checking a 50,000-row workbook costs at most about twice a bare read-only
openpyxl pass over it (reading dominates; validation must not). Also reports peak memory.

    python benchmarks/intake_check.py [ROWS]      # default 50000; writes a temporary file
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from openpyxl import Workbook, load_workbook

from gateway.catalogue import load_catalogue
from gateway.idnumber import check_char
from gateway.intake import IntakeOptions, IntakeRules, check_file, load_eligibility, load_fees

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
HEADERS = ["姓名", "证件类型", "证件号码", "性别", "民族", "手机号码", "学号", "院系", "专业",
           "班级", "证书名称", "等级", "考核批次", "是否家庭经济困难", "新考/补考"]  # fmt: skip


def write(path: Path, rows: int) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    ws.append(["2026 报名表"])
    ws.append(HEADERS)
    for i in range(rows):
        body = f"210802{2004 + i % 4}{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
        number = body + check_char(body)
        sex = "男" if int(body[16]) % 2 else "女"
        ws.append([f"学生{i}", "居民身份证", number, sex, "汉族", f"138{i:08d}", f"2024{i:06d}",
                   "化学工程学院", "应用化工技术", "应化2401", "化工精馏安全控制", "中级",
                   "BF-2026-HGJL-2", "是" if i % 13 == 0 else "否", "新考"])  # fmt: skip
    wb.save(path)


def bare_read(path: Path) -> float:
    """CPU seconds (not wall time: the comparison must survive a busy machine)."""
    start = time.process_time()
    wb = load_workbook(path, read_only=True, data_only=True)
    for _ in wb.worksheets[0].iter_rows(values_only=True):
        pass
    wb.close()
    return time.process_time() - start


RULES = IntakeRules(load_catalogue(DATA / "catalogue.toml"), load_fees(DATA / "fees.toml"),
                    load_eligibility(DATA / "eligibility.toml"))  # fmt: skip


def check_time(path: Path) -> float:
    start = time.process_time()
    check_file(path, RULES, IntakeOptions(keep_candidates=False))
    return time.process_time() - start


def check_memory(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    result = check_file(path, RULES, IntakeOptions(keep_candidates=False))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, len(result.rows)


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.xlsx"
        write(path, rows)
        bare = min(bare_read(path) for _ in range(2))
        checked = min(check_time(path) for _ in range(2))
        peak, seen = check_memory(path)
        print(f"{rows} rows ({path.stat().st_size / 1e6:.1f} MB): bare openpyxl read "
              f"{bare:.2f}s, xgate check {checked:.2f}s = {checked / bare:.2f}x (CPU time); "
              f"{seen} rows checked; peak traced memory {peak / 1e6:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
