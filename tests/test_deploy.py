"""The Dockerfile, the compose file and the Kubernetes manifests run only commands that exist.

Docker cannot run here, so the files are checked statically, against the real command line:
every ``xgate ...`` they run is parsed by the CLI itself (unknown commands, options or bad
values fail exactly as they would in a container), every simulator they start accepts its
options, every probe asks a route the server or the worker really serves on the port the
command opens, every xgate container has its key file mounted where ``XGATE_KEYS`` says, and
the image runs as a non-root user from a multi-stage build.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from gateway.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "examples" / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
K8S = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
HEALTH_ROUTES = {"/livez", "/readyz", "/metrics"}


def parse_xgate(args: list[str]) -> list[str]:
    """Parse ``xgate ARGS`` as the CLI would; returns the command path (``["jobs", "list"]``).
    Raises the CLI's usage error for anything it would refuse."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("xgate", list(args))
    path = []
    while hasattr(command, "resolve_command"):
        rest = [*ctx._protected_args, *ctx.args]
        assert rest, f"xgate {' '.join(args)}: no sub-command"
        name, command, rest = command.resolve_command(ctx, rest)
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx)
    return path


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def dockerfile() -> tuple[list[str], list[str], str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    return entry, cmd, text


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return services


def k8s_containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in K8S:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            spec = (doc or {}).get("spec", {})
            pod = spec.get("template", {}).get("spec", {})
            for c in pod.get("containers", []):
                found.append((f"{path.name}:{c['name']}", c))
    return found


def test_the_image_is_multi_stage_slim_and_not_root() -> None:
    entry, cmd, text = dockerfile()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 2 and all("slim" in s for s in stages)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and not users[-1].startswith(("0", "root"))
    assert entry == ["xgate"]
    assert parse_xgate(cmd) == ["serve"]


def test_every_compose_command_exists() -> None:
    entry, _, _ = dockerfile()
    assert entry == ["xgate"]  # services without an entrypoint of their own run xgate
    services = compose_services()
    ran = {}
    for name, service in services.items():
        if not str(service.get("image", "")).startswith("xgate"):
            continue
        if service.get("entrypoint"):
            continue  # the simulators, below
        args = service["command"]
        ran[name] = parse_xgate(args)
        keys = service["environment"]["XGATE_KEYS"]
        assert any(v.endswith(":" + keys + ":ro") for v in service["volumes"]), name
        check = service.get("healthcheck", {}).get("test")
        if check:
            url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(check))
            assert url and url.group(2) in HEALTH_ROUTES, (name, check)
            assert option(args, "--port") == url.group(1), f"{name}: probe and --port differ"
    assert ran == {
        "migrate": ["db", "upgrade"],
        "serve": ["serve"],
        "worker": ["worker"],
    }
    assert services["worker"]["deploy"]["replicas"] == 2
    assert {"postgres", "beifang", "liaohe"} <= set(services)


@pytest.mark.parametrize("service", ["beifang", "liaohe"])
def test_the_simulators_accept_their_options(service: str) -> None:
    spec = compose_services()[service]
    python, flag, module = spec["entrypoint"]
    assert (python, flag) == ("python", "-m")
    shown = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    for arg in spec["command"]:
        if arg.startswith("--"):
            assert arg in shown.stdout, f"{module} has no {arg}"


def test_every_kubernetes_command_exists_and_probes_ask_real_routes() -> None:
    containers = k8s_containers()
    ran = {}
    for where, c in containers:
        assert "command" not in c, f"{where}: keep the image's ENTRYPOINT (xgate)"
        ran[where] = parse_xgate(c["args"])
        keys = next(e["value"] for e in c["env"] if e["name"] == "XGATE_KEYS")
        mounts = [m["mountPath"] for m in c["volumeMounts"]]
        assert str(Path(keys).parent) in mounts, f"{where}: the key file is not mounted"
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                continue
            get = c[probe]["httpGet"]
            assert get["path"] in HEALTH_ROUTES, (where, get)
            assert str(ports[get["port"]]) == option(c["args"], "--port"), where
    assert ran == {
        "migrate.yaml:migrate": ["db", "upgrade"],
        "serve.yaml:serve": ["serve"],
        "worker.yaml:worker": ["worker"],
    }
    kinds = [
        doc["kind"]
        for path in K8S
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]
    assert "CronJob" not in kinds and kinds.count("Deployment") == 2


def test_the_check_itself_refuses_what_the_cli_refuses() -> None:
    with pytest.raises(Exception, match="No such option"):
        parse_xgate(["worker", "--concurency", "2"])
    with pytest.raises(Exception, match="No such command"):
        parse_xgate(["jobs", "lst"])
    assert parse_xgate(["jobs", "retry", "7"]) == ["jobs", "retry"]


def test_the_settings_they_ship_load(tmp_path: Path) -> None:
    """The compose file's xgate.toml and the ConfigMap's load as settings (known keys only,
    cron lines that parse, plugin names that exist)."""
    from gateway.plugins import load_plugins
    from gateway.settings import load_settings

    config_map = next(
        doc
        for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / "config.yaml").read_text("utf-8"))
        if doc and doc["kind"] == "ConfigMap"
    )
    k8s_toml = tmp_path / "xgate.toml"
    k8s_toml.write_text(config_map["data"]["xgate.toml"], encoding="utf-8")
    plugins = set(load_plugins().specs)
    for path in (DEPLOY / "compose" / "xgate.toml", k8s_toml):
        settings = load_settings(path)
        assert settings.schedule.sync and settings.worker.concurrency >= 1
        assert {o.plugin for o in settings.organizations.values()} <= plugins, path
