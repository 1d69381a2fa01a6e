"""The command line starts at once: ``xgate --version`` imports nothing but the standard
library and the version module, ``xgate --help`` imports no command module, a command imports
its own module only, and no command's help (nor any sub-command's) imports the database, HTTP,
spreadsheet or web libraries or the record models: those load when a command runs. Each check
runs a fresh interpreter (``sys.modules`` of this test process says nothing about start-up);
they check module names, never timings (docs/benchmarks.md has those)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli import registry
from gateway.cli.lazy import load_command

HEAVY = ("sqlalchemy", "pydantic", "httpx", "openpyxl", "aiohttp", "asyncpg", "alembic")
PROBE = """
import json, sys
sys.argv = ["xgate", *json.loads(sys.argv[1])]
from gateway.cli.main import run
try:
    run()
except SystemExit:
    pass
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


#: what a command's help never needs: its module imports these inside the command that uses
#: them. (pydantic itself is allowed: Typer converts option values with it.)
NOT_FOR_HELP = (*(h for h in HEAVY if h != "pydantic"), "jinja2", "procrastinate", "cryptography")
OWN_MODELS = ("gateway.models", "gateway.settings", "gateway.store", "gateway.runtime")
HELPS = """
import json, sys
from gateway.cli.main import run
for path in json.loads(sys.argv[1]):
    sys.argv = ["xgate", *path, "--help"]
    print("\\nHELP " + " ".join(path))
    try:
        run()
    except SystemExit:
        pass
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


def probe(script: str, argument: object, *flags: str) -> tuple[set[str], str, str]:
    """Run ``script`` in a fresh interpreter: (modules it had imported, its output, stderr)."""
    done = subprocess.run(
        [sys.executable, *flags, "-c", script, json.dumps(argument)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    out, _, listed = done.stdout.rpartition("\nMODULES ")
    assert listed, done.stderr
    return set(json.loads(listed)), out, done.stderr


def modules_after(*argv: str) -> tuple[set[str], str]:
    modules, out, errors = probe(PROBE, list(argv), "-X", "importtime")
    assert "import time:" in errors  # -X importtime really ran
    return modules, out


def interpreter_start() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout))


def test_version_imports_only_the_standard_library_and_the_version() -> None:
    mods, out = modules_after("--version")
    assert out.strip().startswith("xgate ")
    ours = {m for m in mods if m == "gateway" or m.startswith("gateway.")}
    assert ours == {
        "gateway",
        "gateway._exports",
        "gateway._version",
        "gateway.cli",
        "gateway.cli.main",
    }
    stdlib = set(sys.stdlib_module_names)
    bare = interpreter_start()  # site hooks (.pth files) load before any of our code
    foreign = {m for m in mods - bare if m.split(".")[0] not in stdlib and m not in ours}
    assert foreign == set(), foreign  # not even typer or click


def test_every_command_has_a_summary() -> None:
    missing = [name for name, _ in registry.COMMANDS if name not in registry.SUMMARIES]
    assert not missing, (
        f"add the one-line help of {missing} to SUMMARIES in gateway/cli/registry.py: "
        "`xgate --help` otherwise imports those modules to show it"
    )


def test_help_lists_every_command_without_importing_any() -> None:
    mods, out = modules_after("--help")
    for name, _ in registry.COMMANDS:
        assert f" {name} " in out, name
    loaded = {target.partition(":")[0] for _, target in registry.COMMANDS} & mods
    assert loaded == set()
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


def test_a_command_imports_its_own_module_only() -> None:
    mods, out = modules_after("db", "--help")
    assert "upgrade" in out
    assert "gateway.cli.commands_core" in mods
    others = {target.partition(":")[0] for _, target in registry.COMMANDS} - {
        "gateway.cli.commands_core"
    }
    assert not others & mods


@pytest.mark.parametrize("name", [name for name, _ in registry.COMMANDS])
def test_each_summary_is_the_commands_own_help(name: str) -> None:
    command = load_command(name, dict(registry.COMMANDS)[name])
    own = (command.help or "").strip().split("\n\n")[0]
    assert registry.SUMMARIES.get(name, own) == " ".join(own.split())


def test_commands_still_run_through_the_app() -> None:
    from gateway.cli.main import app

    result = CliRunner().invoke(app, ["schemas", "--help"])
    assert result.exit_code == 0, result.output
    assert "JSON Schemas" in result.output


def test_bracketed_settings_sections_survive_the_help_markup() -> None:
    """Help is rich markup: an unescaped ``[schedule]`` vanished from ``xgate --help``."""
    from gateway.cli.main import app

    for args in (["--help"], ["worker", "--help"]):
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0 and "jobs and the [schedule] until" in result.output, args
    wide = CliRunner().invoke(app, ["worker", "--help"], env={"COLUMNS": "200"})
    assert "(default [worker])" in wide.output


def command_paths(name: str) -> list[list[str]]:
    """``[name]`` and the path of every sub-command under it, nested groups included."""
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for sub_name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, sub_name])

    walk(load_command(name, dict(registry.COMMANDS)[name]), [name])
    return paths


@pytest.mark.parametrize("name", [name for name, _ in registry.COMMANDS])
def test_no_help_imports_what_only_running_needs(name: str) -> None:
    """``xgate check --help`` imported openpyxl, SQLAlchemy and the models (0.6 s of CPU):
    every help, the command's and each sub-command's, is rendered in one fresh interpreter."""
    paths = command_paths(name)
    mods, out, errors = probe(HELPS, paths)
    shown = out.split("\nHELP ")[1:]
    assert [text.split("\n", 1)[0] for text in shown] == [" ".join(p) for p in paths]
    assert all("Usage: xgate " in text for text in shown), errors
    heavy = sorted({m.split(".")[0] for m in mods} & set(NOT_FOR_HELP))
    assert not heavy, f"`xgate {name} --help` imports {heavy}: import them in the command"
    own = sorted(m for m in mods if m.startswith(OWN_MODELS))
    assert not own, f"`xgate {name} --help` imports {own}: import them in the command"


def test_reading_the_key_file_imports_no_database_library(tmp_path: Path) -> None:
    """``xgate keys show`` reads a file: SQLAlchemy (0.3 s) is for binding a database only."""
    from gateway.keys import generate, write

    path = write(generate(), tmp_path / "xgate.keys")
    mods, out = modules_after("keys", "show", "--file", str(path), "--json")
    assert json.loads(out)["file"] == str(path)
    assert not {m for m in mods if m.split(".")[0] in ("sqlalchemy", "aiosqlite", "asyncpg")}
    assert not {m for m in mods if m.startswith(OWN_MODELS)}
