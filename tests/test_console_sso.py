"""Console single sign-on against a fake OIDC provider on loopback (tests/oidc_provider.py):
linked staff and learners sign in with their local role; every broken check refuses and is
audited; sessions behave as for a password sign-in."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from yarl import URL

from gateway import audit
from gateway.models import Candidate
from gateway.people import upsert_candidates
from gateway.server import build_app
from gateway.settings import Settings, masked_settings, secret_values
from gateway.sso import link
from gateway.store import tables as t
from gateway.users import add_user
from tests.console_support import ORGS, PASSWORD, Clock, settings
from tests.idgen import make_ids
from tests.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_KEY,
    CasServer,
    Provider,
    running,
    serving,
)

pytestmark = pytest.mark.storage
CALLBACK = "http://console.test/login/sso/callback"


@asynccontextmanager
async def world(make_gateway: Any, tmp_path: Path) -> AsyncIterator[Any]:
    """The fake provider, a gateway configured for it with a user ``staff`` linked to the
    campus account T1001, and the console on a loopback port."""
    clock = Clock()
    provider = Provider(clock)
    async with running(provider) as issuer:
        sso = {
            "issuer": issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_url": CALLBACK,
        }
        async with make_gateway(orgs=ORGS, sso=sso, **settings(tmp_path)) as gw:
            await add_user(gw.db, "staff", "staff", PASSWORD)
            await link(gw.db, "staff", "T1001")
            server = TestServer(build_app(gw, clock=clock), host="127.0.0.1")
            async with TestClient(server) as client:
                client.gw, client.provider, client.clock = gw, provider, clock
                yield client


async def sso_login(client: TestClient, tamper_state: bool = False) -> Any:
    """Start at the console, pass through the provider, come back; the callback's response."""
    start = await client.get("/login/sso?next=/reports", allow_redirects=False)
    assert start.status == 302, await start.text()
    async with aiohttp.ClientSession() as browser:
        authorized = await browser.get(start.headers["Location"], allow_redirects=False)
        assert authorized.status == 302
        back = URL(authorized.headers["Location"])
    assert str(back.with_query(None)) == CALLBACK
    query = dict(back.query)
    if tamper_state:
        query["state"] = query["state"][:-2] + "xx"
    return await client.get(back.path, params=query, allow_redirects=False)


async def me(client: TestClient) -> Any:
    r = await client.get("/api/me")
    return (await r.json()) if r.status == 200 else None


async def sso_audit(client: Any) -> list[Any]:
    async with client.gw.db.connect() as conn:
        return await audit.query(conn, action="console.login*", limit=50)


async def test_linked_staff_signs_in_with_pkce_and_local_role(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with world(make_gateway, tmp_path) as client:
        page = await (await client.get("/login")).text()
        assert 'id="sso-login"' in page and "统一身份认证登录" in page
        done = await sso_login(client)
        assert done.status == 302 and done.headers["Location"] == "/reports"
        assert (await me(client))["username"] == "staff"
        assert (await me(client))["role"] == "staff"
        asked = client.provider.authorize_calls[0]
        assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
        assert client.provider.token_calls[0]["code_verifier"]  # PKCE verifier sent back
        rows = await sso_audit(client)
        assert [(r.action, r.actor, r.outcome) for r in rows] == [("console.login", "staff", "ok")]
        assert rows[0].details == {"detail": "sso"}
        async with client.gw.db.connect() as conn:
            stamp = (
                await conn.execute(
                    select(t.console_users.c.last_login_at).where(
                        t.console_users.c.username == "staff"
                    )
                )
            ).scalar_one()
        assert stamp is not None
        # the same session rules as a password sign-in: idle timeout ends it
        client.clock.advance(minutes=31)
        assert await me(client) is None


async def test_the_session_is_replaced_and_the_flow_is_used_once(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with world(make_gateway, tmp_path) as client:
        await client.get("/login")
        before = client.session.cookie_jar.filter_cookies(client.make_url("/"))["xgate_session"]
        start = await client.get("/login/sso", allow_redirects=False)
        async with aiohttp.ClientSession() as browser:
            authorized = await browser.get(start.headers["Location"], allow_redirects=False)
        back = URL(authorized.headers["Location"])
        assert (await client.get(back.path_qs, allow_redirects=False)).status == 302
        after = client.session.cookie_jar.filter_cookies(client.make_url("/"))["xgate_session"]
        assert after.value != before.value
        client.session.cookie_jar.clear()
        # replaying the callback in another browser: no pending flow there
        replay = await client.get(back.path_qs, allow_redirects=False)
        assert replay.status == 403 and await me(client) is None


async def test_learner_signs_in_by_student_number(make_gateway: Any, tmp_path: Path) -> None:
    from gateway.learner_access import activate, invite

    (person,) = make_ids(1, seed=31)
    async with world(make_gateway, tmp_path) as client:
        gw = client.gw
        async with gw.db.begin() as conn:
            await upsert_candidates(
                conn, [Candidate(name="甲", id_number=person, student_number="20230007")], gw.keys
            )
        now = client.clock()
        code = (await invite(gw.db, gw.hash_id(person), now=now)).code
        await activate(gw, "20230007", code, PASSWORD, now=now)
        client.provider.account = "20230007"
        done = await sso_login(client)
        assert done.status == 302
        assert await me(client) == {
            "username": "20230007",
            "role": "learner",
            "csrf_token": (await me(client))["csrf_token"],
        }
        # a 学号 of a person without a learner login is an unknown account
        client.session.cookie_jar.clear()
        client.provider.account = "20230099"
        assert (await sso_login(client)).status == 403


async def test_unknown_account_is_refused_and_audited(make_gateway: Any, tmp_path: Path) -> None:
    async with world(make_gateway, tmp_path) as client:
        client.provider.account = "T9999"
        refused = await sso_login(client)
        assert refused.status == 403
        assert 'data-code="sso_unknown"' in await refused.text()
        assert await me(client) is None
        (row,) = await sso_audit(client)
        assert (row.action, row.actor, row.outcome) == ("console.login_sso", "T9999", "refused")
        assert row.details == {"reason": "unknown_account"}


async def test_a_staff_member_is_not_found_by_student_number(
    make_gateway: Any, tmp_path: Path
) -> None:
    """A non-learner user never signs in through the 学号 route, only through a link."""
    async with world(make_gateway, tmp_path) as client:
        client.provider.account = "staff"  # the user name is not a link either
        assert (await sso_login(client)).status == 403


BROKEN = {
    "wrong_nonce": {"nonce": "not-the-one-we-sent"},
    "wrong_audience": {"aud": "some-other-client"},
    "wrong_issuer": {"iss": "https://elsewhere.example"},
    "expired": {"exp": "past"},
    "no_expiry": {"exp": None},
}


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_a_broken_id_token_is_refused(make_gateway: Any, tmp_path: Path, case: str) -> None:
    async with world(make_gateway, tmp_path) as client:
        overrides = dict(BROKEN[case])
        if overrides.get("exp") == "past":
            overrides["exp"] = int(client.clock().timestamp()) - 600
        client.provider.overrides = overrides
        refused = await sso_login(client)
        assert refused.status == 403
        assert 'data-code="sso_failed"' in await refused.text()
        assert await me(client) is None
        (row,) = await sso_audit(client)
        assert row.action == "console.login_sso" and row.outcome == "refused"
        assert row.details["reason"].startswith("id_token:")


async def test_a_bad_signature_is_refused(make_gateway: Any, tmp_path: Path) -> None:
    async with world(make_gateway, tmp_path) as client:
        client.provider.sign_with = OTHER_KEY
        assert (await sso_login(client)).status == 403
        assert await me(client) is None
        (row,) = await sso_audit(client)
        assert row.details["reason"].startswith("id_token:")


async def test_a_tampered_state_is_refused_before_any_token_request(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with world(make_gateway, tmp_path) as client:
        refused = await sso_login(client, tamper_state=True)
        assert refused.status == 403 and await me(client) is None
        assert client.provider.token_calls == []
        (row,) = await sso_audit(client)
        assert row.details == {"reason": "state"}


async def test_without_sso_settings_there_is_no_button_and_no_route(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with make_gateway(orgs=ORGS, **settings(tmp_path)) as gw:
        server = TestServer(build_app(gw, clock=Clock()), host="127.0.0.1")
        async with TestClient(server) as client:
            assert 'id="sso-login"' not in await (await client.get("/login")).text()
            assert (await client.get("/login/sso", allow_redirects=False)).status == 404


async def test_links_are_one_to_one(make_gateway: Any) -> None:
    from gateway.errors import InputError

    async with make_gateway() as gw:
        await add_user(gw.db, "a1", "staff", PASSWORD)
        await add_user(gw.db, "b1", "viewer", PASSWORD)
        await link(gw.db, "a1", "T1")
        with pytest.raises(InputError, match="already linked"):
            await link(gw.db, "b1", "T1")
        with pytest.raises(InputError, match="no console user"):
            await link(gw.db, "nobody", "T2")
        await link(gw.db, "a1", "T3")  # re-linking replaces the old account
        async with gw.db.connect() as conn:
            rows = (await conn.execute(select(t.console_sso_links.c.subject))).scalars().all()
        assert rows == ["T3"]


def test_the_client_secret_is_masked() -> None:
    conf = Settings(sso={"issuer": "https://idp", "client_id": "c", "client_secret": "s3cr3t-v"})
    assert masked_settings(conf)["sso"]["client_secret"] == "********"
    assert "s3cr3t-v" in secret_values(conf)


def test_users_add_with_subject_and_users_link(
    db_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli.main import app

    monkeypatch.chdir(tmp_path)
    env = db_target.env()

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["users", *args], env=env)

    assert CliRunner().invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    added = run("add", "wang", "--role", "staff", "--sso-subject", "T1001")
    assert added.exit_code == 0, added.output
    taken = run("add", "li", "--role", "viewer", "--sso-subject", "T1001")
    assert taken.exit_code == 2 and "already linked" in taken.output
    assert run("add", "zhao", "--role", "viewer").exit_code == 0
    assert run("link", "zhao", "T2002").exit_code == 0
    assert run("link", "nobody", "T3003").exit_code == 2
    listed = run("list", "--json")
    names = [u["username"] for u in json.loads(listed.stdout)["users"]]
    assert "li" not in names  # the refused add left nothing half-written
    # the links are in the database
    if db_target.url.startswith("sqlite"):
        path = db_target.url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "select u.username, l.subject from console_sso_links l"
                " join console_users u on u.id = l.user_id order by 1"
            ).fetchall()
        assert rows == [("wang", "T1001"), ("zhao", "T2002")]


@asynccontextmanager
async def cas_world(make_gateway: Any, tmp_path: Path, claim: str = "user") -> AsyncIterator[Any]:
    server = CasServer()
    async with serving(server.app()) as url:
        sso = {"protocol": "cas", "issuer": f"{url}/cas", "redirect_url": CALLBACK, "claim": claim}
        async with make_gateway(orgs=ORGS, sso=sso, **settings(tmp_path)) as gw:
            await add_user(gw.db, "staff", "staff", PASSWORD)
            await link(gw.db, "staff", "T1001")
            app = TestServer(build_app(gw, clock=Clock()), host="127.0.0.1")
            async with TestClient(app) as client:
                client.gw, client.cas = gw, server
                yield client


@pytest.mark.parametrize("claim", ["user", "employeeNumber"])
async def test_cas_signs_in_a_linked_user(make_gateway: Any, tmp_path: Path, claim: str) -> None:
    async with cas_world(make_gateway, tmp_path, claim) as client:
        done = await sso_login(client)
        assert done.status == 302 and done.headers["Location"] == "/reports"
        assert (await me(client))["username"] == "staff"
        (asked,) = client.cas.validations
        assert URL(asked["service"]).query["state"]  # the service URL carries the state
        client.session.cookie_jar.clear()
        client.cas.account = "T9999"
        assert (await sso_login(client)).status == 403
        assert (await sso_audit(client))[0].details == {"reason": "unknown_account"}


async def test_cas_refuses_a_bad_ticket_and_a_foreign_state(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with cas_world(make_gateway, tmp_path) as client:
        assert (await sso_login(client, tamper_state=True)).status == 403
        assert client.cas.validations == []  # refused before asking the server
        start = await client.get("/login/sso", allow_redirects=False)
        service = URL(URL(start.headers["Location"]).query["service"])
        forged = await client.get(
            service.path, params={**service.query, "ticket": "ST-forged"}, allow_redirects=False
        )
        assert forged.status == 403 and await me(client) is None
        reasons = [r.details["reason"] for r in await sso_audit(client)]
        assert reasons == ["cas:CAS ticket not valid", "state"]


async def test_a_disabled_linked_user_is_refused(make_gateway: Any, tmp_path: Path) -> None:
    from gateway.users import set_disabled

    async with world(make_gateway, tmp_path) as client:
        await set_disabled(client.gw.db, "staff")
        assert (await sso_login(client)).status == 403
        assert await me(client) is None
        assert (await sso_audit(client))[0].details == {"reason": "unknown_account"}
