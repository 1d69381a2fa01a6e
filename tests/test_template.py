"""The plugin template never rots: its own tests pass against the kit, its entry point loads,
and ``xgate plugins new`` makes a renamed copy whose tests pass too.

The template's tests run in a subprocess with ``PYTHONPATH`` pointing at the template, rather
than by installing it: ``pip install`` into the shared venv would add an ``xgate.plugins``
entry point that every other test (and ``xgate plugins list``) would then see, and a fresh venv
per run costs minutes. The subprocess is what a plugin author's CI runs, minus the install;
the entry point the install would create is exercised through ``load_plugins(entry_points=...)``
with the entry points read from the template's own ``pyproject.toml``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.plugins import ENTRY_POINT_GROUP, load_plugins

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "examples" / "plugin-template"
runner = CliRunner()


def run_plugin_tests(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        # as a plugin author runs them (pytest-asyncio loaded), and with no deprecation warning
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::DeprecationWarning",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def entry_points(folder: Path) -> list[EntryPoint]:
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    declared = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    return [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in declared.items()]


def summary(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr


def test_the_template_tests_pass_against_the_kit() -> None:
    result = run_plugin_tests(TEMPLATE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b15 passed, 2 skipped\b", summary(result)), summary(result)


def test_the_template_entry_point_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TEMPLATE))
    host = load_plugins(lambda: entry_points(TEMPLATE))
    assert host.errors == []
    loaded = host.spec("example_org")
    assert loaded.plugin == "example_org"
    assert loaded.spec.factory.__name__ == "ExampleOrgAdapter"


def test_plugins_new_scaffolds_a_renamed_plugin_whose_tests_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["plugins", "new", "acme-cnc", "--dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "xgate-acme-cnc"
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "tests/fake_acme_cnc.py",
        "tests/test_conformance.py",
        "tests/test_plugin.py",
        "xgate_acme_cnc/__init__.py",
        "xgate_acme_cnc/adapter.py",
        "xgate_acme_cnc/plugin.py",
        "xgate_acme_cnc/settings.py",
        "xgate_acme_cnc/wire.py",
    ]
    leftovers = [
        f
        for f in files
        if re.search(r"example_org|example-org|ExampleOrg|Example Org", (target / f).read_text())
    ]
    assert leftovers == []
    project = (target / "pyproject.toml").read_text()
    assert 'name = "xgate-acme-cnc"' in project and 'acme_cnc = "xgate_acme_cnc.plugin"' in project
    assert "class AcmeCncAdapter" in (target / "xgate_acme_cnc" / "adapter.py").read_text()

    tests = run_plugin_tests(target)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert re.search(r"\b15 passed, 2 skipped\b", summary(tests)), summary(tests)

    monkeypatch.syspath_prepend(str(target))
    host = load_plugins(lambda: entry_points(target))
    assert host.errors == []
    spec = host.spec("acme_cnc").spec
    assert (spec.name, spec.title, spec.factory.__name__) == (
        "acme_cnc",
        "Acme Cnc",
        "AcmeCncAdapter",
    )


def test_plugins_new_refuses_a_bad_name_and_an_existing_folder(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["plugins", "new", "Acme Org", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "lower-case letters" in bad.output
    assert runner.invoke(app, ["plugins", "new", "acme", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(app, ["plugins", "new", "acme", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
