"""Intake check: ``xgate check`` on a 50,000-row workbook against a bare openpyxl read.

    .venv/bin/python -m benchmarks.intake_check [ROWS] [--rounds 3]
    (or: python benchmarks/intake_check.py [ROWS])

A seeded workbook of ROWS valid candidates is written once: a title row above the demo's
fifteen Chinese headers, plan BF-2026-HGJL-2, a major eligible for it, distinct valid ID
numbers. Then, alternately, ``rounds`` times each: a bare openpyxl read-only pass over every
cell, and the check the command runs (``check_file`` with the demo catalogue, fees and
eligibility, then ``build_preview``). Both run in this process on one core, so CPU time is
compared (it survives a busy shared machine; wall time is printed too); the fastest round of
each counts. Ratio = check / bare read. Target <= 2.0. Also printed: the check's peak traced
memory, and the command end to end (``xgate check FILE --plan ... --json`` in a process of its
own, start-up and imports included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

from openpyxl import Workbook, load_workbook

from benchmarks.harness.gateway import DATA
from benchmarks.harness.people import id_numbers
from benchmarks.harness.report import Timer, machine, ratio_line
from gateway.catalogue import load_catalogue
from gateway.intake import (
    IntakeOptions,
    IntakeRules,
    build_preview,
    check_file,
    load_eligibility,
    load_fees,
)

TARGET = 2.0
PLAN = "BF-2026-HGJL-2"
HEADERS = [
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


def write_workbook(path: Path, rows: int, seed: int = 0) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    ws.append(["2026 年 1+X 证书考核报名表"])
    ws.append(HEADERS)
    for i, number in enumerate(id_numbers(rows, seed)):
        sex = "男" if int(number[16]) % 2 else "女"
        waived = "是" if i % 13 == 0 else "否"
        ws.append(
            [
                f"学生{i}",
                "居民身份证",
                number,
                sex,
                "汉族",
                f"138{i % 100_000_000:08d}",
                f"2024{i:06d}",
                "化学工程学院",
                "应用化工技术",
                f"应化24{i % 40:02d}",
                "化工精馏安全控制",
                "中级",
                PLAN,
                waived,
                "新考",
            ]
        )
    wb.save(path)


def bare_read(path: Path) -> int:
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        cells = 0
        for row in wb.worksheets[0].iter_rows(values_only=True):
            cells += len(row)
        return cells
    finally:
        wb.close()


def rules() -> IntakeRules:
    return IntakeRules(
        load_catalogue(DATA / "catalogue.toml"),
        load_fees(DATA / "fees.toml"),
        load_eligibility(DATA / "eligibility.toml"),
    )


def check(path: Path, intake: IntakeRules) -> int:
    plan = intake.catalogue.plans[PLAN]
    checked = check_file(path, intake, IntakeOptions(plan=plan, keep_candidates=False))
    return build_preview(checked).valid


def timed(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(result, CPU seconds, wall seconds)"""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def command(path: Path, folder: Path) -> float:
    config = folder / "xgate.toml"
    config.write_text(
        f'database_url = "sqlite+aiosqlite:///{folder / "none.db"}"\n'
        f'catalogue_file = "{DATA / "catalogue.toml"}"\nfees_file = "{DATA / "fees.toml"}"\n'
        f'eligibility_file = "{DATA / "eligibility.toml"}"\n',
        encoding="utf-8",
    )
    xgate = str(Path(sys.executable).with_name("xgate"))
    with Timer() as t:
        done = subprocess.run(
            [xgate, "check", str(path), "--plan", PLAN, "--json"],
            env={**os.environ, "XGATE_CONFIG": str(config)},
            cwd=folder,
            capture_output=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"xgate check failed ({done.returncode}): {done.stderr[-500:]!r}")
    return t.seconds


def measure(rows: int, rounds: int, folder: Path) -> dict[str, float]:
    path = folder / "candidates.xlsx"
    write_workbook(path, rows)
    intake = rules()
    bare: list[tuple[float, float]] = []
    checks: list[tuple[float, float]] = []
    for _ in range(rounds):
        cells, cpu, wall = timed(lambda: bare_read(path))
        bare.append((cpu, wall))
        valid, cpu, wall = timed(lambda: check(path, intake))
        checks.append((cpu, wall))
    if valid != rows or cells != (rows + 2) * len(HEADERS) - len(HEADERS) + 1:
        raise RuntimeError(f"check found {valid} valid rows of {rows} ({cells} cells read)")
    tracemalloc.start()
    check(path, intake)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rows": rows,
        "mb": path.stat().st_size / 1e6,
        "bare_cpu": min(b[0] for b in bare),
        "bare_wall": min(b[1] for b in bare),
        "check_cpu": min(c[0] for c in checks),
        "check_wall": min(c[1] for c in checks),
        "peak": peak,
        "command": command(path, folder),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"# intake check; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        r = measure(args.rows, args.rounds, Path(tmp))
    print(
        f"rows={r['rows']} ({r['mb']:.1f} MB): bare openpyxl read {r['bare_cpu']:.2f}s CPU "
        f"({r['bare_wall']:.2f}s wall), check {r['check_cpu']:.2f}s CPU "
        f"({r['check_wall']:.2f}s wall); check peak traced memory {r['peak'] / 1e6:.0f} MB; "
        f"xgate check command end to end {r['command']:.2f}s"
    )
    print(ratio_line(r["check_cpu"] / r["bare_cpu"], TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
