"""The staff console over HTTP: roles on every route, CSRF, throttling, session expiry, the
candidate-list flow, learner look-up, the audit trail."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gateway.store import tables as t
from gateway.users import ROLES
from gateway.web.routes import ROUTES
from tests.console_support import DATA, PASSWORD, Clock, console, csrf_of, sign_in

pytestmark = pytest.mark.storage


def _path(path: str) -> str:
    return (
        path.replace("{token}", "AAAAAAAAAAAAAAAAAAAAAAAA")
        .replace("{ref}", "c999999")
        .replace("{item}", "999999")
        .replace("{username}", "nobody")
    )


async def trail(client: Any, **filters: Any) -> list[Any]:
    from gateway import audit

    async with client.gw.db.connect() as conn:
        return await audit.query(conn, limit=5000, **filters)


async def test_every_route_allows_its_roles_and_refuses_the_others(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with console(make_gateway, tmp_path, Clock()) as client:
        guarded = [r for r in ROUTES if r.roles is not None]
        guarded.sort(key=lambda r: r.name in ("logout", "api_logout"))  # those end the session
        assert len(guarded) >= 25
        for role in ROLES:
            client.session.cookie_jar.clear()
            token = await sign_in(client, role)
            for r in guarded:
                if r.name == "api_logout":
                    token = await sign_in(client, role)  # POST /logout ended the session
                headers = {"X-CSRF-Token": token}
                resp = await client.request(
                    r.method, _path(r.path), headers=headers, json={}, allow_redirects=False
                )
                if role in r.roles:
                    assert resp.status != 403, (role, r.method, r.path, await resp.text())
                else:
                    assert resp.status == 403, (role, r.method, r.path, resp.status)
        refused = await trail(client, action="console.access", outcome="refused")
        assert any(r.actor == "viewer" and r.target == "users" for r in refused)
        assert all(r.origin == "web@127.0.0.1" for r in refused)
        # every refusal of every role was recorded
        expected = sum(1 for role in ROLES for r in guarded if role not in r.roles)
        assert len(refused) == expected


async def test_anonymous_is_sent_to_login_and_health_names_no_organization(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with console(make_gateway, tmp_path, Clock()) as client:
        r = await client.get("/", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/login?next=/"
        r = await client.get("/api/dashboard")
        assert r.status == 401 and (await r.json())["error"]["code"] == "unauthenticated"
        health = await (await client.get("/health")).json()
        assert health["status"] == "ok" and "beifang" not in str(health)
        page = await client.get("/login")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "<script" not in await page.text()


async def test_state_changing_requests_without_the_csrf_token_are_refused(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with console(make_gateway, tmp_path, Clock()) as client:
        await sign_in(client, "admin")
        r = await client.post("/users", data={"username": "mallory", "role": "admin"})
        assert r.status == 403 and 'data-code="csrf"' in await r.text()
        r = await client.post(
            "/users", data={"username": "mallory", "role": "admin", "csrf_token": "forged"}
        )
        assert r.status == 403
        async with client.gw.db.connect() as conn:
            names = (await conn.execute(select(t.console_users.c.username))).scalars().all()
        assert "mallory" not in names
        assert len(await trail(client, action="console.csrf", outcome="refused")) == 2
        token = await csrf_of(client, "/users")
        r = await client.post(
            "/users", data={"username": "mallory", "role": "viewer", "csrf_token": token}
        )
        assert r.status == 200 and 'id="new-password"' in await r.text()
        added = await trail(client, action="console.user.add")
        assert [(a.actor, a.target, a.outcome) for a in added] == [("admin", "mallory", "ok")]
        page = await (await client.get("/audit?action=console.*")).text()
        assert "console.user.add" in page and "mallory" in page


async def test_five_failures_lock_the_user_and_the_address_for_fifteen_minutes(
    make_gateway: Any, tmp_path: Path
) -> None:
    clock = Clock()
    async with console(make_gateway, tmp_path, clock) as client:
        for _ in range(5):
            r = await client.post("/api/session", json={"username": "staff", "password": "nope"})
            assert r.status == 401
        r = await client.post("/api/session", json={"username": "staff", "password": PASSWORD})
        assert r.status == 429  # the right password does not help while locked
        # the address is locked too: another user from it is refused
        r = await client.post("/api/session", json={"username": "viewer", "password": PASSWORD})
        assert r.status == 429
        clock.advance(minutes=15, seconds=1)
        await sign_in(client, "staff")


async def test_sessions_end_after_idle_time_and_absolute_lifetime(
    make_gateway: Any, tmp_path: Path
) -> None:
    clock = Clock()
    async with console(make_gateway, tmp_path, clock) as client:
        await sign_in(client, "viewer")
        for _ in range(5):  # active use keeps the session alive...
            clock.advance(minutes=29)
            assert (await client.get("/api/me")).status == 200
        clock.advance(minutes=31)  # ...idleness ends it
        assert (await client.get("/api/me")).status == 401
        r = await client.get("/", allow_redirects=False)
        assert r.status == 302
        await sign_in(client, "viewer")
        for _ in range(25):  # 12 hours of activity: the absolute lifetime ends it
            clock.advance(minutes=29)
            (await client.get("/api/me")).close()
        assert (await client.get("/api/me")).status == 401


async def test_api_tokens_work_without_cookies_and_stop_when_the_user_is_disabled(
    make_gateway: Any, tmp_path: Path
) -> None:
    from gateway.users import new_token, set_disabled

    async with console(make_gateway, tmp_path, Clock()) as client:
        token = await new_token(client.gw.db, "finance")
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/dashboard", headers=auth)).status == 200
        assert (await client.get("/api/quarantine", headers=auth)).status == 403
        await set_disabled(client.gw.db, "finance")
        assert (await client.get("/api/dashboard", headers=auth)).status == 401


async def test_upload_check_preview_submit_and_download_results(
    make_gateway: Any, tmp_path: Path
) -> None:
    from tests.plugins_fixtures import fakeorg

    async with console(make_gateway, tmp_path, Clock()) as client:
        token = await sign_in(client, "staff")
        data = (DATA / "candidates.xlsx").read_bytes()
        from aiohttp import FormData

        form = FormData()
        form.add_field("csrf_token", token)
        form.add_field("file", data, filename="化工2301名单.xlsx")
        r = await client.post("/lists", data=form, allow_redirects=False)
        assert r.status == 302, await r.text()
        check_url = r.headers["Location"]
        page = await (await client.get(check_url)).text()
        assert 'id="problems"' in page and "行号" in page
        upload_dir = tmp_path / "uploads" / check_url.rsplit("/", 1)[1]
        stored = next(p for p in upload_dir.iterdir() if p.suffix == ".xlsx")
        assert stored.name.endswith("名单.xlsx"), stored.name
        assert stored.stat().st_mode & 0o777 == 0o600
        assert upload_dir.stat().st_mode & 0o777 == 0o700
        choice = {"organization": "beifang", "plan": "", "csrf_token": token}
        page = await (await client.post(check_url + "/preview", data=choice)).text()
        assert 'id="confirm"' in page and 'id="charged"' in page
        r = await client.post(check_url + "/submit", data=choice, allow_redirects=False)
        assert r.status == 302
        job = await client.app[__import__("gateway.web.state").web.state.JOBS].wait(
            check_url.rsplit("/", 1)[1]
        )
        assert job is not None and job.error is None, job
        page = await (await client.get(check_url + "/progress")).text()
        assert 'id="download"' in page
        accepted = job.result["counts"]["accepted"]
        assert accepted > 0 and fakeorg.org("beifang").register_calls > 0
        async with client.gw.db.connect() as conn:
            regs = (
                await conn.execute(select(func.count()).select_from(t.registrations))
            ).scalar_one()
            sub = (await conn.execute(select(t.submissions.c.operator))).scalars().all()
        assert regs >= accepted and sub and all(s == "console:staff" for s in sub)
        r = await client.get(check_url + "/results.xlsx")
        assert r.status == 200
        wb = load_workbook(io.BytesIO(await r.read()), read_only=True)
        assert "结果 results" in wb.sheetnames
        # the viewer may not touch the list at all
        client.session.cookie_jar.clear()
        await sign_in(client, "viewer")
        assert (await client.get(check_url + "/results.xlsx")).status == 403


async def test_learner_look_up_masks_lists_and_is_audited(
    make_gateway: Any, tmp_path: Path
) -> None:
    from gateway.intake.flow import check_for, submit_and_report, submit_options
    from gateway.people import candidate_from_row

    async with console(make_gateway, tmp_path, Clock()) as client:
        gw = client.gw
        path = tmp_path / "list.xlsx"
        path.write_bytes((DATA / "candidates.xlsx").read_bytes())
        checked = check_for(path, gw.settings, None, submit_options(gw.settings, "beifang", False))
        await submit_and_report(
            gw, checked, organization="beifang", plan=None, operator="t", file_sha256="0" * 64
        )
        async with gw.db.connect() as conn:
            stored = (await conn.execute(select(t.candidates).limit(1))).first()
        assert stored is not None  # the ID number is sealed at rest: open it as staff know it
        row = candidate_from_row(dict(stored._mapping), gw.keys)
        token = await sign_in(client, "viewer")
        page = await (
            await client.post("/learners", data={"q": row.id_number, "csrf_token": token})
        ).text()
        assert row.name in page and row.id_number not in page
        assert row.id_number[:6] + "********" + row.id_number[-4:] in page
        r = await client.post(
            "/api/learners/search", json={"q": row.name}, headers={"X-CSRF-Token": token}
        )
        hits = (await r.json())["learners"]
        assert hits and all("*" in h["id_masked"] for h in hits)
        detail = await client.get(f"/learners/{hits[0]['ref']}")
        text = await detail.text()
        assert detail.status == 200 and row.id_number not in text
        searches = await trail(client, action="console.learner.search")
        assert len(searches) == 2 and all(s.actor == "viewer" for s in searches)
        assert all(row.id_number not in str(s.details) and s.target is None for s in searches)
        assert any(s.details and "********" in s.details["query"] for s in searches)
        views = await trail(client, action="console.learner.view")
        assert [(v.actor, v.target) for v in views] == [("viewer", hits[0]["ref"])]


async def test_a_refused_path_holding_an_id_number_is_audited_masked(
    make_gateway: Any, tmp_path: Path
) -> None:
    """The refusal's audit row records the path: an ID number or mobile typed into a URL (by
    a role that may not look learners up, or without the CSRF token) is masked there too."""
    async with console(make_gateway, tmp_path, Clock()) as client:
        await sign_in(client, "finance")
        assert (await client.get("/learners/110105199003071234")).status == 403
        assert (await client.post("/users/13812345678/disable", data={})).status == 403
        rows = await trail(client, outcome="refused")
        details = [str(r.details) for r in rows]
        assert any("110105" in d for d in details) and any("138" in d for d in details)
        assert not any("110105199003071234" in d or "13812345678" in d for d in details)
