"""Foundation commands: plugins, config, db, schemas.

Their help needs Typer only: settings, plugins and the database are imported by the command
that uses them (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import plugins_new, state
from gateway.cli.options import JsonOpt
from gateway.cli.output import EXIT_FAILURES, console, fail, print_json, run_async, table
from gateway.errors import ConfigurationError, XgateError

plugins_app = typer.Typer(help="Organization plugins: list, check, new.", no_args_is_help=True)
plugins_app.command("new")(plugins_new.new)
config_app = typer.Typer(help="Effective settings.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
schemas_app = typer.Typer(help="JSON Schemas of the records.", no_args_is_help=True)


def _plugin_rows() -> tuple[list[dict[str, Any]], list[str]]:
    from gateway.plugins import load_plugins

    host = load_plugins()
    rows = [
        {
            "name": ls.spec.name,
            "title": ls.spec.title,
            "version": ls.spec.version,
            "api_version": ls.spec.api_version,
            "capabilities": sorted(c.value for c in ls.spec.capabilities),
            "plugin": ls.plugin,
            "distribution": ls.distribution,
        }
        for ls in sorted(host.specs.values(), key=lambda s: s.spec.name)
    ]
    return rows, [str(e) for e in host.errors]


@plugins_app.command("list")
def plugins_list(as_json: JsonOpt = False) -> None:
    """List organization adapters with their version, capabilities and distribution."""
    from gateway.contract import PLUGIN_API_VERSION

    rows, errors = _plugin_rows()
    if as_json:
        print_json({"plugin_api_version": PLUGIN_API_VERSION, "plugins": rows, "errors": errors})
    else:
        table(
            f"organization plugins (plugin API {PLUGIN_API_VERSION})",
            ["name", "version", "capabilities", "distribution"],
            [
                [r["name"], r["version"], ", ".join(r["capabilities"]), r["distribution"]]
                for r in rows
            ],
        )
        for err in errors:
            console.print(f"[red]error[/] {err}", highlight=False)
    if errors:
        raise typer.Exit(EXIT_FAILURES)


@plugins_app.command("check")
def plugins_check(as_json: JsonOpt = False) -> None:
    """Load every plugin and report each problem naming the plugin; exit 1 if any."""
    rows, errors = _plugin_rows()
    if as_json:
        print_json({"ok": not errors, "loaded": [r["name"] for r in rows], "errors": errors})
    else:
        for r in rows:
            console.print(f"[green]ok[/]    {r['name']} {r['version']} ({r['distribution']})")
        for err in errors:
            console.print(f"[red]error[/] {err}", highlight=False)
    if errors:
        raise typer.Exit(EXIT_FAILURES)


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Print the effective settings (file + environment) with secrets masked."""
    from gateway.settings import load_settings, masked_settings

    try:
        data = masked_settings(load_settings(state.CONFIG))
    except XgateError as exc:
        fail(str(exc), exc.exit_code)
    if as_json:
        print_json(data)
    else:
        console.print_json(data=data, default=str)


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Create the database, or apply pending migrations (the only command besides `demo`
    that creates one; others migrate an existing database automatically)."""

    async def go() -> dict[str, Any]:
        from gateway.failures import describe
        from gateway.settings import load_settings
        from gateway.store import open_database

        settings = load_settings(state.CONFIG)
        db = await open_database(
            settings.database_url, schema=settings.database_schema, migrate=False
        )
        try:
            before = await db.revision()
            after = await db.upgrade()
        except Exception as exc:  # unwritable folder, unreachable server: a configuration error
            raise ConfigurationError(
                f"cannot open database {db.path or 'server'}: {describe(exc)}"
            ) from None
        finally:
            await db.dispose()
        return {"database": db.path or "server", "from": before, "to": after}

    result = run_async(go)
    if as_json:
        print_json(result)
    else:
        console.print(f"database at revision {result['to']} (was {result['from']})")


@db_app.command("revision")
def db_revision(as_json: JsonOpt = False) -> None:
    """Show the database's current and the code's head migration."""

    async def go() -> dict[str, Any]:
        from gateway.settings import load_settings
        from gateway.store import open_database
        from gateway.store.db import head_revision

        settings = load_settings(state.CONFIG)
        db = await open_database(
            settings.database_url, schema=settings.database_schema, migrate=False
        )
        try:
            return {"current": await db.revision(), "head": head_revision()}
        finally:
            await db.dispose()

    result = run_async(go)
    if as_json:
        print_json(result)
    else:
        console.print(f"current {result['current']}, head {result['head']}")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="target folder")] = Path("schemas"),
    check: Annotated[bool, typer.Option("--check", help="only report stale files")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the JSON Schema of every record (``--check``: exit 1 when files are stale)."""
    from gateway import schemas

    if check:
        problems = schemas.stale(directory)
        if as_json:
            print_json({"stale": problems})
        elif problems:
            console.print("stale: " + ", ".join(problems))
        if problems:
            raise typer.Exit(EXIT_FAILURES)
        return
    written = schemas.export(directory)
    if as_json:
        print_json({"written": [str(p) for p in written]})
    else:
        console.print(f"wrote {len(written)} schemas to {directory}/")
