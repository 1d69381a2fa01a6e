"""The foundation commands: plugins, config, db, schemas; exit codes and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("XGATE_") and key != "XGATE_KEYS":  # the session's key file stays
            monkeypatch.delenv(key)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_version(run) -> None:  # type: ignore[no-untyped-def]
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("xgate ")


def test_plugins_list_json_names_builtins_and_their_distribution(run) -> None:  # type: ignore[no-untyped-def]
    result = run("plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert {"beifang", "liaohe"} <= set(by_name)
    assert by_name["beifang"]["distribution"].startswith("xgate ")
    assert "register" in by_name["liaohe"]["capabilities"]
    assert data["plugin_api_version"] == "1.1"
    assert run("plugins", "check").exit_code == 0


def test_config_show_masks_secrets_from_file_and_environment(run, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "xgate.toml").write_text(
        '[organizations.bf]\nplugin = "beifang"\nbase_url = "http://127.0.0.1:1"\n'
        'client_id = "c"\nclient_secret = "file-secret-123"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("XGATE_ORGANIZATIONS__BF__WEBHOOK_SECRET", "env-secret-456")
    monkeypatch.setenv("XGATE_DATABASE_URL", "postgresql+asyncpg://u:pw-789@127.0.0.1/x")
    result = run("config", "show", "--json")
    assert result.exit_code == 0, result.output
    assert "file-secret-123" not in result.stdout and "env-secret-456" not in result.stdout
    assert "pw-789" not in result.stdout
    data = json.loads(result.stdout)
    assert data["organizations"]["bf"]["client_secret"] == "********"
    assert data["organizations"]["bf"]["webhook_secret"] == "********"


def test_configuration_errors_exit_3_naming_the_key(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "xgate.toml").write_text('sync_concurrency = "many"\n', encoding="utf-8")
    result = run("config", "show")
    assert result.exit_code == 3 and "sync_concurrency" in result.stderr
    (tmp_path / "xgate.toml").write_text("this is [not toml\n", encoding="utf-8")
    assert run("config", "show").exit_code == 3
    assert run("--config", str(tmp_path / "missing.toml"), "config", "show").exit_code == 3


def test_db_upgrade_creates_the_default_sqlite_database(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run("db", "upgrade", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["to"] is not None
    assert (tmp_path / "xgate.db").exists()
    again = json.loads(run("db", "revision", "--json").stdout)
    assert again["current"] == again["head"]


def test_schemas_check_reports_stale_files(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert run("schemas", "export", str(tmp_path / "s")).exit_code == 0
    assert run("schemas", "export", str(tmp_path / "s"), "--check").exit_code == 0
    (tmp_path / "s" / "candidate.schema.json").write_text("{}", encoding="utf-8")
    result = run("schemas", "export", str(tmp_path / "s"), "--check", "--json")
    assert result.exit_code == 1 and "candidate.schema.json" in result.stdout


def test_unknown_organization_is_a_configuration_error(run) -> None:  # type: ignore[no-untyped-def]
    assert run("db", "upgrade").exit_code == 0
    result = run("sync", "--org", "nobody")
    assert result.exit_code == 3 and "nobody" in result.stderr


def test_missing_config_file_named_by_environment_is_an_error(run, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XGATE_CONFIG", str(tmp_path / "typo.toml"))
    result = run("sync")
    assert result.exit_code == 3 and "typo.toml" in result.stderr
    assert not (tmp_path / "xgate.db").exists()


def test_broken_rules_file_stops_sync_before_a_run_is_recorded(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "rules.toml").write_text('version = "1"\n[[rule]]\ncertificate = 5\n', "utf-8")
    (tmp_path / "xgate.toml").write_text(f'rules_file = "{tmp_path / "rules.toml"}"\n', "utf-8")
    result = run("sync")
    assert result.exit_code == 3, result.output
    import sqlite3

    if (tmp_path / "xgate.db").exists():
        with sqlite3.connect(tmp_path / "xgate.db") as conn:
            assert conn.execute("select count(*) from sync_runs").fetchone() == (0,)


# aiosqlite's worker thread reports the failed open once more after the loop has closed
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_unopenable_database_is_a_configuration_error(run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XGATE_DATABASE_URL", "sqlite+aiosqlite:////nonexistent/dir/x.db")
    result = run("outbox")
    assert result.exit_code == 3 and "no xgate database" in result.stderr
    result = run("db", "upgrade")
    assert result.exit_code == 3 and "cannot open database" in result.stderr


def test_markup_like_input_is_printed_verbatim(run) -> None:  # type: ignore[no-untyped-def]
    assert run("db", "upgrade").exit_code == 0
    result = run("sync", "--org", "[/x]")
    assert result.exit_code == 3 and "[/x]" in result.stderr


def test_json_reports_are_masked_as_a_whole() -> None:
    import io
    from contextlib import redirect_stdout

    from gateway.cli.output import print_json

    out = io.StringIO()
    with redirect_stdout(out):
        print_json({"errors": ["bad id 11010519491231002X, mobile 13912345678"], "n": 1})
    text = out.getvalue()
    assert "11010519491231002X" not in text and "13912345678" not in text
    assert json.loads(text)["n"] == 1


def test_outbox_with_an_unknown_organization_is_a_configuration_error(run) -> None:  # type: ignore[no-untyped-def]
    assert run("outbox", "--org", "nosuch").exit_code == 3
    assert run("outbox", "reconcile", "--org", "nosuch").exit_code == 3


def test_sync_summary_says_why_an_organization_failed(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "xgate.toml").write_text(
        '[organizations.bf]\nplugin = "beifang"\nbase_url = "http://127.0.0.1:1"\n'
        'client_id = "c"\n',
        encoding="utf-8",
    )  # client_secret missing
    assert run("db", "upgrade").exit_code == 0
    result = run("sync")
    assert result.exit_code == 3  # a configuration error, as documented
    assert "client_secret" in result.stdout
