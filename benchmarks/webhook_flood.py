"""Webhook flood: 1,000 concurrent unsigned 1 MiB posts to ``xgate serve`` on loopback.

    .venv/bin/python -m benchmarks.webhook_flood [--posts 1000] [--size 1048576]

A real ``xgate serve`` (a process of its own, SQLite database, a Beifang organization with a
webhook secret) receives ``--posts`` concurrent posts of ``--size`` bytes without a signature.
Every answer must be a refusal (401 unsigned, 503 busy, 413 too large): none may be applied.
The server's peak RSS (``VmHWM`` from /proc) must stay under 300 MB (the issue measured 1.29 GB
before the concurrency gate and the chunked body limit). Ratio = peak MB / 300. Target <= 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx

from benchmarks.harness.gateway import keys_file
from benchmarks.harness.report import Timer, machine, ratio_line

LIMIT_MB = 300.0
XGATE = str(Path(sys.executable).with_name("xgate"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _config(folder: Path) -> Path:
    config = folder / "xgate.toml"
    config.write_text(
        f'database_url = "sqlite+aiosqlite:///{folder / "flood.db"}"\n'
        f'keys_file = "{keys_file()}"\n\n'
        "[organizations.beifang]\n"
        'plugin = "beifang"\n'
        'base_url = "http://127.0.0.1:9"\n'
        'client_id = "c"\nclient_secret = "s"\nwebhook_secret = "w"\n',
        encoding="utf-8",
    )
    return config


async def _flood(url: str, posts: int, size: int) -> Counter[int]:
    body = b'{"data": []}' + b" " * (size - 12)
    limits = httpx.Limits(max_connections=posts, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def one() -> int:
            try:
                return (await client.post(url, content=body)).status_code
            except httpx.HTTPError:
                return 0  # the server closed the connection on a refused body

        return Counter(await asyncio.gather(*(one() for _ in range(posts))))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    args = parser.parse_args(argv)
    print(f"# webhook_flood; {machine()}")
    with tempfile.TemporaryDirectory(prefix="xgate-bench-") as tmp:
        config = _config(Path(tmp))
        env = {**os.environ, "XGATE_CONFIG": str(config)}
        subprocess.run([XGATE, "db", "upgrade"], env=env, check=True, capture_output=True)
        port = _free_port()
        server = subprocess.Popen(
            [XGATE, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(base + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            before = _rss_mb(server.pid, "VmRSS")
            with Timer() as t:
                codes = asyncio.run(_flood(base + "/webhooks/beifang", args.posts, args.size))
            peak = _rss_mb(server.pid, "VmHWM")
            after = _rss_mb(server.pid, "VmRSS")
        finally:
            server.terminate()
            server.wait(timeout=30)
    applied = codes.get(200, 0)
    print(
        f"posts={args.posts} size={args.size} answers={dict(sorted(codes.items()))} "
        f"time={t.seconds:.1f}s rss_before={before:.0f}MB peak={peak:.0f}MB after={after:.0f}MB"
    )
    if applied:
        print(f"FAIL: {applied} unsigned posts were applied")
        return 1
    print(ratio_line(peak / LIMIT_MB, 1.0))
    return 0 if peak <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
