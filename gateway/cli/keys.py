"""``xgate keys``: create the key file, show its public fingerprints (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import state
from gateway.cli.options import JsonOpt
from gateway.cli.output import EXIT_CONFIG, EXIT_INPUT, console, fail, print_json, run_async

app = typer.Typer(help="The key file: encryption, look-up and signing keys.", no_args_is_help=True)
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", help="key file (default: keys_file, XGATE_KEYS, or ./xgate.keys)"),
]


def _path(file: Path | None) -> Path:
    if file is not None:
        return file
    from gateway.errors import ConfigurationError
    from gateway.keys import resolve_path
    from gateway.settings import load_settings

    try:
        return resolve_path(load_settings(state.CONFIG).keys_file)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)


async def _from_database(path: Path) -> Any:
    """Move a milestone-1 database's salt into a new key file; the database keeps no copy."""
    from gateway.errors import InputError
    from gateway.keys import bind, generate, legacy_salt, load, write
    from gateway.settings import load_settings
    from gateway.store import open_database

    settings = load_settings(state.CONFIG)
    db = await open_database(settings.database_url, schema=settings.database_schema)
    try:
        async with db.connect() as conn:
            salt = await legacy_salt(conn)
        if salt is None:
            raise InputError("this database holds no salt to move: use `xgate keys init`")
        write(generate(legacy_salt=salt), path)
        async with db.begin() as conn:  # removes the salt from the database
            await bind(conn, load(path))
    finally:
        await db.dispose()
    return path


@app.command("init")
def init(
    file: FileOpt = None,
    from_database: Annotated[
        bool,
        typer.Option(
            "--from-database",
            help="a database from before keyed hashes: move its salt into the new key file",
        ),
    ] = False,
) -> None:
    """Create the key file (mode 0600). An existing file is never overwritten."""
    from gateway.keys import generate, write

    path = _path(file)
    if path.exists():
        fail(f"{path} already exists; a key file is never overwritten (keep it safe)", EXIT_INPUT)
    if from_database:
        run_async(lambda: _from_database(path))
    else:
        write(generate(), path)
    console.print(
        f"wrote {path} (mode 0600). Keep a copy somewhere safe: without it the encrypted data "
        "and the look-up hashes cannot be used.",
        highlight=False,
    )


@app.command("show")
def show(file: FileOpt = None, as_json: JsonOpt = False) -> None:
    """Key ids, fingerprints and public keys (never the keys themselves)."""
    from gateway.errors import ConfigurationError
    from gateway.keys import load

    path = _path(file)
    try:
        keys = load(path)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    data = {
        "file": str(path),
        "lookup_scheme": keys.lookup_scheme,
        "data_keys": list(keys.data_keys),
        "active_data_key": keys.active_key_id,
        "fingerprints": keys.fingerprints(),
    }
    if as_json:
        print_json(data)
        return
    for name, value in data.items():
        console.print(f"{name}: {value}", highlight=False)


@app.command("rotate")
def rotate(
    resume: Annotated[
        bool,
        typer.Option("--resume", help="finish an interrupted rotation (adds no key)"),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a data key and re-encrypt every sealed value under it, in committed batches."""
    from gateway.keys import load, write
    from gateway.privacy import seal_pending
    from gateway.runtime import open_gateway
    from gateway.settings import load_settings

    async def go() -> Any:
        settings = load_settings(state.CONFIG)
        path = _path(None)
        if not resume:
            write(load(path).with_new_data_key(), path, overwrite=True)
        async with open_gateway(settings=settings, create=False) as gw:
            done = await seal_pending(gw.db, gw.keys, rotate=True)
            return gw.keys.active_key_id, done

    key_id, done = run_async(go)
    data = {"active_data_key": key_id, "candidates": done.candidates, "quarantine": done.quarantine}
    if as_json:
        print_json(data)
        return
    console.print(
        f"data key {key_id} active; re-encrypted {done.candidates} candidate rows and "
        f"{done.quarantine} quarantined payloads. Older keys stay in the file: values in backups "
        "still need them.",
        highlight=False,
    )
