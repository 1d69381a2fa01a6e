"""Intake check: ``xgate check`` on a 50,000-row workbook against a bare openpyxl read.

    .venv/bin/python -m benchmarks.intake_check [ROWS] [--rounds 3]

A seeded workbook of ROWS valid candidates (the demo's headers, plan BF-2026-HGJL-2, a major
that is eligible for it) is written once. Then, alternately, ``rounds`` times each: a bare
openpyxl read-only pass over every cell, and the check the command runs (``check_file`` with
the demo catalogue, fees and eligibility, then ``build_preview``). The fastest round of each
counts (the machine is shared; the fastest is the least disturbed). Ratio = check / bare read.
Target <= 2.0. The command end to end (``xgate check FILE --plan ... --json``, a process of
its own: start-up and imports included) is printed too, for information.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
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
HEADERS = ["姓名", "证件号码", "性别", "手机号码", "专业", "证书名称", "等级", "考核批次",
           "是否家庭经济困难", "新考/补考"]  # fmt: skip


def write_workbook(path: Path, rows: int, seed: int = 0) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    ws.append(HEADERS)
    for i, number in enumerate(id_numbers(rows, seed)):
        sex = "男" if int(number[16]) % 2 else "女"
        waived = "是" if i % 13 == 0 else "否"
        ws.append([f"考生{i}", number, sex, f"138{i % 100_000_000:08d}", "应用化工技术",
                   "化工精馏安全控制", "中级", PLAN, waived, "新考"])  # fmt: skip
    wb.save(path)


def bare_read(path: Path) -> int:
    wb = load_workbook(path, read_only=True)
    try:
        cells = 0
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                cells += len(row)
        return cells
    finally:
        wb.close()


def rules() -> IntakeRules:
    return IntakeRules(load_catalogue(DATA / "catalogue.toml"), load_fees(DATA / "fees.toml"),
                       load_eligibility(DATA / "eligibility.toml"))  # fmt: skip


def check(path: Path, intake: IntakeRules) -> int:
    plan = intake.catalogue.plans[PLAN]
    checked = check_file(path, intake, IntakeOptions(plan=plan, keep_candidates=False))
    preview = build_preview(checked)
    return preview.valid


def command(path: Path, folder: Path) -> float:
    config = folder / "xgate.toml"
    config.write_text(
        f'database_url = "sqlite+aiosqlite:///{folder / "none.db"}"\n'
        f'catalogue_file = "{DATA / "catalogue.toml"}"\nfees_file = "{DATA / "fees.toml"}"\n'
        f'eligibility_file = "{DATA / "eligibility.toml"}"\n', encoding="utf-8")  # fmt: skip
    xgate = str(Path(sys.executable).with_name("xgate"))
    with Timer() as t:
        done = subprocess.run([xgate, "check", str(path), "--plan", PLAN, "--json"],
                              env={**os.environ, "XGATE_CONFIG": str(config)}, cwd=folder,
                              capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"xgate check failed ({done.returncode}): {done.stderr[-500:]!r}")
    return t.seconds


def measure(rows: int, rounds: int, folder: Path) -> dict[str, float]:
    path = folder / "candidates.xlsx"
    write_workbook(path, rows)
    intake = rules()
    bare: list[float] = []
    checks: list[float] = []
    for _ in range(rounds):
        with Timer() as t:
            cells = bare_read(path)
        bare.append(t.seconds)
        with Timer() as t:
            valid = check(path, intake)
        checks.append(t.seconds)
    if valid != rows or cells != (rows + 1) * len(HEADERS):
        raise RuntimeError(f"check found {valid} valid rows of {rows}")
    return {"rows": rows, "bare": min(bare), "check": min(checks),
            "ratio": min(checks) / min(bare), "command": command(path, folder)}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"# intake check; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        r = measure(args.rows, args.rounds, Path(tmp))
    print(f"rows={r['rows']} bare openpyxl read={r['bare']:.2f}s check={r['check']:.2f}s "
          f"(xgate check command end to end: {r['command']:.2f}s)")  # fmt: skip
    print(ratio_line(r["ratio"], TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
