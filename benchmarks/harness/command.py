"""Running the real ``xgate`` command against simulated organizations, as cron would.

``write_config`` writes an ``xgate.toml`` for Beifang simulators; ``run_xgate`` runs one
command in a process of its own and returns its exit status, output and peak RSS (from
``wait4``: the kernel's own account of that process, nothing of ours included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from benchmarks.harness.gateway import DATA, keys_file

XGATE = str(Path(sys.executable).with_name("xgate"))


def write_config(
    folder: Path,
    urls: list[str],
    db_url: str,
    *,
    page_size: int = 500,
    credit: bool = True,
    schema: str | None = None,
    reader: str = "inline",
) -> Path:
    lines = [
        f'database_url = "{db_url}"',
        f'catalogue_file = "{DATA / "catalogue.toml"}"',
        f'sync_reader = "{reader}"',
    ]
    if schema:
        lines.append(f'database_schema = "{schema}"')
    if credit:
        lines.append(f'rules_file = "{DATA / "credit-rules.toml"}"')
    for i, url in enumerate(urls):
        lines += [
            f"[organizations.bf{i}]",
            'plugin = "beifang"',
            f'base_url = "{url}"',
            f'client_id = "{DEFAULT_CLIENT_ID}"',
            f'client_secret = "{DEFAULT_CLIENT_SECRET}"',
            f"page_size = {page_size}",
        ]
    path = folder / "xgate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int


def run_xgate(config: Path, *args: str) -> Finished:
    env = {**os.environ, "XGATE_CONFIG": str(config), "XGATE_KEYS": str(keys_file())}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [XGATE, *args], env=env, cwd=config.parent, text=True, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, with its own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Finished(proc.returncode, out.read(), err.read(), int(usage.ru_maxrss))
