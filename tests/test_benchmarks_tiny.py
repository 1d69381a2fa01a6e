"""Every benchmark, at a tiny size: the code runs end to end and ends with a well-formed
``ratio=<x> target=<y> PASS|FAIL`` line. Targets are for the real runs (docs/benchmarks.md);
at these sizes fixed costs dominate, so only the shape of the answer is checked here."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest

from benchmarks import (
    crash_harness,
    fault_soak,
    intake_bounds,
    intake_check,
    latency_bound,
    memory,
    no_change,
    reports,
    snapshot_withdrawal,
    sync_throughput,
    webhook_flood,
    worker_scaling,
)
from tests.conftest import PG_UP

RATIO_LINE = re.compile(r"^ratio=\d+\.\d{3} target=\d+(\.\d+)? (PASS|FAIL)$")
Main = Callable[[Sequence[str] | None], int]

CASES: list[tuple[str, Main, list[str]]] = [
    (
        "sync_throughput",
        sync_throughput.main,
        ["--records", "600", "--page-size", "100", "--rounds", "1"],
    ),
    (
        "latency_bound",
        latency_bound.main,
        ["--orgs", "2", "--pages", "2", "--page-size", "5", "--latency", "0.01"],
    ),
    ("memory", memory.main, ["--large", "400", "--small", "200", "--page-size", "100"]),
    ("no_change", no_change.main, ["--orgs", "2", "--records", "300", "--page-size", "100"]),
    ("intake_check", intake_check.main, ["300", "--rounds", "1"]),
    (
        "reports",
        reports.main,
        ["--students", "200", "--scores", "500", "--rounds", "1", "--db", "sqlite"],
    ),
    (
        "intake_bounds",
        intake_bounds.main,
        ["--rows", "60", "--limit", "20", "--unpacked-mb", "1"],
    ),
    ("snapshot_withdrawal", snapshot_withdrawal.main, ["--certificates", "500"]),
    ("fault_soak", fault_soak.main, ["--people", "30", "--nights", "2"]),
    ("crash_harness", crash_harness.main, ["--trials", "1", "--people", "10"]),
    ("webhook_flood", webhook_flood.main, ["--posts", "40", "--size", "65536"]),
    (
        "sync_throughput_inline",
        sync_throughput.main,
        ["--records", "600", "--page-size", "100", "--rounds", "1", "--reader", "inline"],
    ),
]


def last_line(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    return lines[-1], out


@pytest.mark.parametrize(("name", "main", "argv"), CASES, ids=[c[0] for c in CASES])
def test_benchmark_prints_a_ratio_line(
    name: str, main: Main, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    line, out = last_line(capsys)
    assert RATIO_LINE.match(line), out
    assert out.startswith("# "), out  # the machine line: date, cores, CPU, Python


@pytest.mark.skipif(not PG_UP, reason="PostgreSQL at 127.0.0.1:5432 is unreachable")
def test_sync_throughput_on_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        sync_throughput.main(
            ["--records", "300", "--page-size", "100", "--rounds", "1", "--db", "postgresql"]
        )
        == 0
    )
    line, out = last_line(capsys)
    assert RATIO_LINE.match(line), out
    assert "on postgresql" in out


@pytest.mark.slow
@pytest.mark.skipif(not PG_UP, reason="PostgreSQL at 127.0.0.1:5432 is unreachable")
def test_worker_scaling_on_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--orgs", "2", "--records", "20", "--page-size", "10", "--workers", "1", "2"]
    assert worker_scaling.main(argv) == 0
    line, out = last_line(capsys)
    assert RATIO_LINE.match(line), out
    assert "1 worker(s)" in out and "2 worker(s)" in out
