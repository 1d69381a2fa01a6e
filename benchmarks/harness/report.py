"""The one line every benchmark ends with, and the machine it ran on."""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime


def ratio_line(ratio: float, target: float) -> str:
    """``ratio=<x> target=<y> PASS|FAIL``; lower is better for every ratio here."""
    verdict = "PASS" if ratio <= target else "FAIL"
    return f"ratio={ratio:.3f} target={target:g} {verdict}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """Date, cores, CPU and Python: benchmarks on a shared machine mean little without them."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc={os.cpu_count()}; cpu={cpu_model()}; "
        f"python={sys.version.split()[0]}; load1={load:.2f}"
    )


class Timer:
    """``with Timer() as t: ...; t.seconds`` (wall) and ``t.cpu`` (this process's CPU time,
    every thread: on a loaded machine far steadier than wall time)."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        self.seconds = 0.0
        self.cpu = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu_started
