"""Every console label exists in both languages; the OpenAPI document lists every API route;
``xgate users`` manages users and tokens."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from gateway.web import i18n
from gateway.web.app import PAGE_MODULES

WEB = Path(__file__).resolve().parents[1] / "gateway" / "web"
LITERAL = re.compile(r"""_\(\s*["']([a-z_]+\.[a-z0-9_]+)["']\s*[,)]""")
DYNAMIC = re.compile(r"""_\(\s*["']([a-z_]+\.[a-z0-9_]*)["']\s*~""")


def used_keys() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    prefixes: set[str] = set()
    for f in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        text = f.read_text(encoding="utf-8")
        keys |= set(LITERAL.findall(text))
        prefixes |= set(DYNAMIC.findall(text))
        keys |= set(re.findall(r'nav="([a-z_]+\.[a-z_]+)"', text))
        # error codes handlers return become error.<code> labels (pages and API answers)
        keys |= {f"error.{k}" for k in re.findall(r'return "([a-z_]+)"', text)}
        keys |= {f"error.{k}" for k in re.findall(r'api_error\(request, \d+, "([a-z_]+)"', text)}
    return keys, prefixes


def test_both_catalogues_have_the_same_non_empty_labels() -> None:
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    assert all(v.strip() for v in [*zh.values(), *en.values()])


def test_every_label_a_page_uses_is_in_both_catalogues() -> None:
    keys, prefixes = used_keys()
    assert len(keys) > 60
    for lang in i18n.LANGUAGES:
        missing = sorted(k for k in keys if k not in i18n.catalogue(lang))
        assert not missing, f"{lang}: {missing}"
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in i18n.catalogue(lang)), (lang, prefix)
    # dynamic keys: every role, run state, registration state and row outcome has a label
    from gateway.models import RegistrationStatus
    from gateway.users import ROLES

    needed = [f"role.{r}" for r in ROLES] + [f"reg.{s.value}" for s in RegistrationStatus]
    needed += [f"run.{s}" for s in ("never", "ok", "failed", "deferred")]
    needed += [f"row.{s}" for s in ("accepted", "rejected", "invalid", "skipped", "pending")]
    needed += ["row.unknown", "row.cancelled", "level.1", "level.2", "level.3"]
    needed += [f"error.{c}" for c in ("forbidden", "csrf", "not_found", "unauthenticated")]
    for lang in i18n.LANGUAGES:
        assert not [k for k in needed if k not in i18n.catalogue(lang)], lang


def test_openapi_documents_every_console_api_route_with_its_roles() -> None:
    import importlib

    from gateway.server import openapi
    from gateway.web.routes import ROUTES

    for name in PAGE_MODULES:
        importlib.import_module(name)
    doc = openapi()
    api = [r for r in ROUTES if r.api]
    assert len(api) >= 10
    for r in api:
        op = doc["paths"][r.path][r.method.lower()]
        assert op["x-roles"] == sorted(r.roles or [])
    on_disk = json.loads((WEB.parents[1] / "schemas" / "openapi.json").read_text())
    assert on_disk == json.loads(json.dumps(doc, default=str)), "run xgate schemas export"


@pytest.mark.storage
def test_users_command_adds_lists_disables_and_makes_tokens(
    db_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli.main import app

    monkeypatch.chdir(tmp_path)
    env = db_target.env()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = CliRunner().invoke(app, ["users", *args], env=env)
        return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)

    up = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert up.exit_code == 0, up.output
    added = run("add", "wang", "--role", "staff")
    assert added.returncode == 0, added.stderr
    assert "password: " in added.stdout
    assert run("add", "wang", "--role", "staff").returncode == 2  # exists already
    assert run("add", "li", "--role", "boss").returncode == 2
    listed = json.loads(run("list", "--json").stdout)
    assert [(u["username"], u["role"]) for u in listed["users"]] == [("wang", "staff")]
    token = run("token", "wang").stdout.strip()
    assert token.startswith("xg_")
    assert run("passwd", "wang", "--password", "a new long password").returncode == 0
    assert run("disable", "wang").returncode == 0
    listed = json.loads(run("list", "--json").stdout)
    assert listed["users"][0]["disabled"] is True
    assert run("token", "wang").returncode == 2  # no tokens for a disabled user
