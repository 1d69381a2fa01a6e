"""Bounded intake: ``xgate check`` of a 1,000,000-row CSV and of a small .xlsx that unpacks to
gigabytes, each in a process of its own (peak RSS from ``wait4``).

    .venv/bin/python -m benchmarks.intake_bounds [--rows 1000000] [--unpacked-mb 3000]

Three runs: a CSV at the default row limit (100,000 rows: checked in full), a CSV of ``rows``
rows (refused once row 100,001 is reached), and an .xlsx whose extra part unpacks to
``unpacked-mb`` MB (refused from the archive's declared sizes, before any XML is parsed).
Ratio = peak RSS of the 1,000,000-row refusal / peak RSS of the 100,000-row check: memory must
not grow with the file (target <= 1.2). The refusals must come within seconds (printed).
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness.command import run_xgate
from benchmarks.harness.gateway import DATA
from benchmarks.harness.people import id_numbers
from benchmarks.harness.report import Timer, machine, ratio_line
from benchmarks.intake_check import HEADERS, PLAN, write_workbook

TARGET = 1.2


def write_csv(path: Path, rows: int) -> None:
    """``rows`` valid candidates (distinct ID numbers repeat after 100,000: duplicates are row
    problems, which is what a careless export looks like)."""
    numbers = list(id_numbers(min(rows, 100_000), 0))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADERS) + "\r\n")
        for i in range(rows):
            number = numbers[i % len(numbers)]
            out.write(
                f"学生{i},居民身份证,{number},,汉族,138{i % 100_000_000:08d},2024{i:06d},"
                f"化学工程学院,应用化工技术,应化24{i % 40:02d},化工精馏安全控制,中级,{PLAN},否,"
                "新考\r\n"
            )


def write_bomb(path: Path, unpacked_mb: int) -> None:
    """A 20-row workbook plus a part of ``unpacked_mb`` MB of repeated XML (it zips small)."""
    write_workbook(path, 20)
    chunk = b"<row><c><v>0</v></c></row>" * 40_000  # about 1 MB
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("xl/worksheets/sheet9.xml", "w", force_zip64=True) as part,
    ):
        for _ in range(unpacked_mb):
            part.write(chunk)


def run(config: Path, path: Path) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS MiB, the error message on one line)"""
    with Timer() as t:
        done = run_xgate(config, "check", str(path))
    message = " ".join(done.stderr.split())
    return done.returncode, t.seconds, done.max_rss_kib / 1024, message


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--unpacked-mb", type=int, default=3000)
    args = parser.parse_args(argv)
    print(f"# intake bounds; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "xgate.toml"
        config.write_text(
            f'database_url = "sqlite+aiosqlite:///{folder / "none.db"}"\n'
            f'catalogue_file = "{DATA / "catalogue.toml"}"\n'
            f"intake_max_rows = {args.limit}\n",
            encoding="utf-8",
        )
        at_limit, large, bomb = folder / "limit.csv", folder / "large.csv", folder / "bomb.xlsx"
        write_csv(at_limit, args.limit)
        write_csv(large, args.rows)
        write_bomb(bomb, args.unpacked_mb)
        code, seconds, small_rss, _ = run(config, at_limit)
        print(f"rows={args.limit} exit={code} time={seconds:.1f}s peak_rss={small_rss:.1f}MiB")
        code, seconds, large_rss, line = run(config, large)
        print(f"rows={args.rows} exit={code} time={seconds:.1f}s peak_rss={large_rss:.1f}MiB")
        print(f"  {line[:160]}")
        size = bomb.stat().st_size / 1024 / 1024
        code, seconds, bomb_rss, line = run(config, bomb)
        print(
            f"xlsx={size:.1f}MB unpacks={args.unpacked_mb}MB exit={code} time={seconds:.1f}s "
            f"peak_rss={bomb_rss:.1f}MiB"
        )
        print(f"  {line[:160]}")
    print(ratio_line(large_rss / small_rss, TARGET))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
