"""``xgate users``: console users (add, passwd, list, disable, token)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gateway.cli import state
from gateway.cli.output import console, fail, print_json, run_async, table
from gateway.errors import XgateError

app = typer.Typer(
    help="Web console users: roles admin, staff, finance, viewer; single sign-on links.",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(help="user name")]


def _run(work: Any) -> Any:
    async def go() -> Any:

        async with state.open_existing() as gw:
            return await work(gw)

    try:
        return run_async(go)
    except XgateError as exc:
        fail(str(exc), exc.exit_code)


def _password(given: str | None) -> tuple[str, bool]:
    from gateway.users import new_password

    if given:
        return given, False
    return new_password(), True


@app.command("add")
def add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help="admin, staff, finance or viewer")],
    password: Annotated[
        str | None, typer.Option("--password", help="default: a random one, printed once")
    ] = None,
    sso_subject: Annotated[
        str | None,
        typer.Option("--sso-subject", help="the campus account (SSO claim value) to link"),
    ] = None,
) -> None:
    """Add a console user; prints the password when it was generated."""
    from gateway.sso import link_subject
    from gateway.users import create_user

    pw, generated = _password(password)

    async def work(gw: Any) -> None:
        async with gw.db.begin() as conn:  # the user and the link, or neither
            await create_user(conn, name, role, pw)
            if sso_subject is not None:
                await link_subject(conn, name, sso_subject)

    _run(work)
    console.print(f"user {name} ({role}) added", highlight=False)
    if generated:
        console.print(f"password: {pw}", highlight=False, markup=False)


@app.command("passwd")
def passwd(
    name: NameArg,
    password: Annotated[
        str | None, typer.Option("--password", help="default: a random one, printed once")
    ] = None,
) -> None:
    """Set a user's password."""
    from gateway.users import set_password

    pw, generated = _password(password)
    _run(lambda gw: set_password(gw.db, name, pw))
    console.print(f"password of {name} changed", highlight=False)
    if generated:
        console.print(f"password: {pw}", highlight=False, markup=False)


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Console users with their roles."""
    from gateway.users import list_users

    users = _run(lambda gw: list_users(gw.db))
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "disabled": u.disabled,
            "last_login_at": u.last_login_at,
        }
        for u in users
    ]
    if as_json:
        print_json({"users": rows})
        return
    table(
        "console users",
        ["user", "role", "status", "last sign-in"],
        [
            [
                r["username"],
                r["role"],
                "disabled" if r["disabled"] else "active",
                r["last_login_at"],
            ]
            for r in rows
        ],
    )


@app.command("disable")
def disable(
    name: NameArg,
    enable: Annotated[bool, typer.Option("--enable", help="enable again instead")] = False,
) -> None:
    """Disable a user (their API tokens are revoked); --enable undoes it."""
    from gateway.users import set_disabled

    _run(lambda gw: set_disabled(gw.db, name, not enable))
    console.print(f"user {name} {'enabled' if enable else 'disabled'}", highlight=False)


@app.command("token")
def token(name: NameArg) -> None:
    """Make an API token for the user (``Authorization: Bearer TOKEN``); shown once."""
    from gateway.users import new_token

    value = _run(lambda gw: new_token(gw.db, name))
    console.print(value, highlight=False, markup=False)


@app.command("link")
def link(
    name: NameArg,
    account: Annotated[str, typer.Argument(help="the campus account (value of the SSO claim)")],
) -> None:
    """Link a user to a campus account for single sign-on (the role stays the local one)."""
    from gateway.sso import link as link_account

    _run(lambda gw: link_account(gw.db, name, account))
    console.print(f"user {name} linked to campus account {account}", highlight=False)
