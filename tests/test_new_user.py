"""What a new user hit: each defect from trying xgate as college staff, pinned by a test."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app

runner = CliRunner()


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("XGATE_") and key != "XGATE_KEYS":  # the session's key file stays
            monkeypatch.delenv(key)
    return tmp_path


def test_verbose_help_says_how_to_use_it(fresh: Path) -> None:
    text = " ".join(runner.invoke(app, ["--help"]).stdout.split())
    assert "-v info" in text and "-vv debug" in text
    assert "-v <int>" not in text and "-v <int>" not in text.replace("│", " ")


def test_vv_shows_xgate_debug_but_not_the_database_drivers(fresh: Path) -> None:
    result = runner.invoke(app, ["-vv", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("xgate").isEnabledFor(logging.DEBUG)
    assert "aiosqlite" not in result.stderr


def _two_organizations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from gateway.plugins import load_plugins
    from tests.intake_support import DATA
    from tests.plugins_fixtures import fakeorg

    config = tmp_path / "xgate.toml"
    config.write_text(
        f'catalogue_file = "{DATA / "catalogue.toml"}"\n'
        '[organizations.beifang]\nplugin = "fake"\nname = "beifang"\n'
        '[organizations.liaohe]\nplugin = "fake"\nname = "liaohe"\n',
        encoding="utf-8",
    )
    fakeorg.ORGS.clear()
    monkeypatch.setattr(
        "gateway.runtime.load_plugins",
        lambda: load_plugins(lambda: [], extra=[("fake", fakeorg)]),
    )
    return config


def test_one_list_for_two_organizations_keeps_both_results(fresh: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    from tests.intake_support import make_id, student, write_xlsx

    config = _two_organizations(fresh, monkeypatch)
    rows = [
        student(name="甲", id_number=make_id(seq=101)),
        student(name="乙", id_number=make_id(seq=103)),
        student(
            name="丙",
            id_number=make_id(seq=105),
            major="电气自动化技术",
            certificate="可编程控制器系统应用编程",
            level="初级",
            plan="LH-2026-PLC-1",
        ),
    ]
    path = write_xlsx(fresh / "名单.xlsx", rows)
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    for org in ("beifang", "liaohe"):
        result = runner.invoke(
            app, ["--config", str(config), "submit", str(path), "--org", org, "--yes"]
        )
        assert result.exit_code in (0, 1), result.output
        # with --yes there is no preview: the rows not accepted are listed with the summary
        assert "not accepted" in result.stdout and "invalid" in result.stdout
    accepted = {}
    for org in ("beifang", "liaohe"):
        ws = load_workbook(fresh / f"名单.{org}.results.xlsx")["结果 results"]
        statuses = [str(ws.cell(row=r, column=12).value) for r in (2, 3, 4)]
        accepted[org] = sum(s.startswith("accepted") for s in statuses)
    assert accepted == {"beifang": 2, "liaohe": 1}


DEPLOY = Path(__file__).resolve().parents[1] / "examples" / "deploy"


def test_the_one_machine_examples_run_sync_and_serve_as_they_say() -> None:
    import shlex

    from tests.test_deploy import parse_xgate

    cron = (DEPLOY / "crontab").read_text(encoding="utf-8")
    [line] = [x for x in cron.splitlines() if x.startswith("30 2")]
    # the output is logged, so the comment must not promise a mailed summary on every run
    assert ">>" in line and "|| tail" in line and "MAILTO=" in cron
    assert "mails nothing" in cron.replace("\n#", "")
    units = {p.name: p.read_text(encoding="utf-8") for p in (DEPLOY / "systemd").iterdir()}
    commands = {
        name: shlex.split(x.partition("=")[2])[1:]
        for name, text in units.items()
        for x in text.splitlines()
        if x.startswith("ExecStart=")
    }
    assert commands["xgate-serve.service"][0] == "serve"
    for args in commands.values():
        parse_xgate(args)  # every example's command line is one the CLI accepts


def test_the_demo_explains_its_ground_truth_counts(capsys) -> None:  # type: ignore[no-untyped-def]
    from xgate_simulators.demo import DemoSummary

    from gateway.cli.demo import _render

    summary = DemoSummary("demo", "x.db", first_run=True, submitted=134)
    summary.truth = {
        "beifang registrations": {"database": 134, "organization": 134},
        "beifang scores": {"database": 135, "organization": 135},
    }
    _render(summary)
    out = " ".join(capsys.readouterr().out.split())
    assert "beifang scores 135/135" in out
    assert "scores can outnumber registrations" in out and "nothing was lost or duplicated" in out
