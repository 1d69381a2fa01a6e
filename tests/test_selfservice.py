"""Learner self-service end to end: staff hand out a code, the learner activates, sees only
their own record, downloads a credential that ``credentials verify`` accepts, and after the
organization revokes the certificate and a sync runs, the same file verifies as revoked.

Everything over HTTP against ``xgate serve``'s application on a loopback port, the Beifang
simulator standing in for the organization.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, BeifangSimulator

from gateway.credentials.check import verify_file
from gateway.models import Candidate
from gateway.people import upsert_candidates
from gateway.server import build_app
from gateway.store import tables as t
from gateway.sync import run_sync
from gateway.users import add_user
from gateway.web.routes import ROUTES
from tests.console_support import PASSWORD, Clock, csrf_of, settings, sign_in
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
PLAN = "BF-2026-HGJL-2"
CODE = re.compile(r'id="invite-code">([A-Z0-9-]+)<')


@asynccontextmanager
async def world(make_gateway: Any, tmp_path: Path) -> AsyncIterator[Any]:
    """Simulator with issued certificates, a gateway that synced them, candidates with 学号,
    a staff user, and the console on a loopback port (public_url pointing at it)."""
    sim = BeifangSimulator(seed=9)
    people = [(n, f"学员{i}") for i, n in enumerate(make_ids(6, seed=77))]
    sim.add_registrations(PLAN, people)
    sim.grade_all()
    certs = sim.issue_passed()
    assert len(certs) >= 2
    async with sim.running() as url:
        orgs = {
            "beifang": {
                "plugin": "beifang",
                "base_url": url,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            }
        }
        async with make_gateway(orgs=orgs, **settings(tmp_path)) as gw:
            holders = {c.id_number: c for c in certs}
            async with gw.db.begin() as conn:
                await upsert_candidates(
                    conn,
                    [
                        Candidate(name=name, id_number=n, student_number=f"2023{i:04d}")
                        for i, (n, name) in enumerate(people)
                        if n in holders
                    ],
                    gw.keys,
                )
            assert (await run_sync(gw)).ok
            await add_user(gw.db, "staff", "staff", PASSWORD)
            server = TestServer(build_app(gw, clock=Clock()), host="127.0.0.1")
            async with TestClient(server) as client:
                gw.settings.credentials.public_url = str(client.make_url("")).rstrip("/")
                client.gw, client.sim, client.certs = gw, sim, certs
                yield client


async def candidate_ref(gw: Any, id_number: str) -> tuple[str, str]:
    async with gw.db.connect() as conn:
        row = (
            await conn.execute(
                select(t.candidates.c.id, t.candidates.c.student_number).where(
                    t.candidates.c.id_hash == gw.hash_id(id_number)
                )
            )
        ).one()
    return f"c{row.id}", str(row.student_number)


async def hand_out_code(client: TestClient, ref: str) -> str:
    token = await sign_in(client, "staff")
    page = await client.post(f"/learners/{ref}/invite", data={"csrf_token": token})
    assert page.status == 200, await page.text()
    found = CODE.search(await page.text())
    assert found
    await client.post("/logout", data={"csrf_token": token})
    client.session.cookie_jar.clear()
    return found.group(1)


async def activate(client: TestClient, login: str, code: str) -> Any:
    token = await csrf_of(client, "/activate")
    return await client.post(
        "/activate",
        data={"csrf_token": token, "login": login, "code": code, "password": PASSWORD},
    )


async def test_learner_activates_sees_own_record_and_credential_follows_revocation(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with world(make_gateway, tmp_path) as client:
        mine, other = client.certs[0], client.certs[1]
        ref, number = await candidate_ref(client.gw, mine.id_number)
        _, other_number = await candidate_ref(client.gw, other.id_number)
        code = await hand_out_code(client, ref)

        # the code works only with the learner's own 学号, and only once
        assert (await activate(client, other_number, code)).status == 400
        done = await activate(client, number, code)
        assert done.status == 200 and number in await done.text()
        assert (await activate(client, number, code)).status == 400

        # sign in: the learner lands on their own record
        token = await csrf_of(client, "/login")
        r = await client.post(
            "/login", data={"csrf_token": token, "username": number, "password": PASSWORD}
        )
        assert r.status == 200 and str(r.url).endswith("/me")
        page = await r.text()
        assert mine.holder_name in page and mine.number in page
        assert other.holder_name not in page and other.number not in page
        record = await (await client.get("/api/my/record")).json()
        assert [c["number"] for c in record["certificates"]] == [mine.number]
        assert record["transcript"]["entries"] and all(
            e["rule_version"] for e in record["transcript"]["entries"]
        )
        transcript = await client.get("/me/transcript.xlsx")
        assert transcript.status == 200 and transcript.content_type.endswith(".sheet")

        # the credential: downloaded, verified by an outsider; the same file again next time
        token = await csrf_of(client, "/me")
        r = await client.post(
            "/me/credentials", data={"csrf_token": token, "certificate": mine.number}
        )
        assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
        first = await r.json(content_type=None)
        again = await client.post(
            "/me/credentials", data={"csrf_token": token, "certificate": mine.number}
        )
        assert await again.json(content_type=None) == first
        path = tmp_path / "my-badge.json"
        path.write_text(json.dumps(first))
        # the holder can prove the badge is theirs: sha256(ID number + salt), never the number
        body = first["id"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        ident = next(
            i
            for i in claims["credentialSubject"]["identifier"]
            if i["identityType"] == "nationalIdentityNumber"
        )
        digest = hashlib.sha256((mine.id_number + ident["salt"]).encode()).hexdigest()
        assert ident["identityHash"] == f"sha256${digest}"
        assert mine.id_number not in json.dumps(claims)
        verdict = await verify_file(path)
        assert verdict.status == "valid", verdict.problems

        # another person's certificate number: refused, nothing signed for them
        r = await client.post(
            "/me/credentials", data={"csrf_token": token, "certificate": other.number}
        )
        assert r.status == 400
        async with client.gw.db.connect() as conn:
            signed = (
                (await conn.execute(select(t.issued_credentials.c.certificate_number)))
                .scalars()
                .all()
            )
        assert signed == [mine.number]

        # the organization revokes; the nightly sync records it; the same file is revoked
        client.sim.revoke(mine.number, "考核违规")
        assert (await run_sync(client.gw)).ok
        assert (await verify_file(path)).status == "revoked"


async def test_a_learner_reaches_nobody_elses_data(make_gateway: Any, tmp_path: Path) -> None:
    async with world(make_gateway, tmp_path) as client:
        mine, other = client.certs[0], client.certs[1]
        ref, number = await candidate_ref(client.gw, mine.id_number)
        other_ref, _ = await candidate_ref(client.gw, other.id_number)
        code = await hand_out_code(client, ref)
        assert (await activate(client, number, code)).status == 200
        token = await sign_in(client, number)
        secrets = (other.holder_name, other.number)  # (the path itself is echoed in forms)
        for r in ROUTES:
            if r.roles is None or r.name in ("logout", "api_logout"):
                continue
            path = (
                r.path.replace("{ref}", other_ref)
                .replace("{token}", "A" * 24)
                .replace("{item}", "1")
                .replace("{username}", "staff")
            )
            for query in ("", f"?ref={other_ref}&id={other.id_number}"):
                resp = await client.request(
                    r.method,
                    path + query,
                    headers={"X-CSRF-Token": token},
                    json={"certificate": other.number, "ref": other_ref, "q": other.holder_name},
                    allow_redirects=False,
                )
                body = await resp.read()
                if "learner" not in r.roles:
                    assert resp.status == 403, (r.method, r.path, resp.status)
                assert not any(s.encode() in body for s in secrets), (r.method, r.path)
        # what the learner may see is theirs
        record = await (await client.get("/api/my/record")).json()
        assert record["learner"]["name"] == mine.holder_name


async def test_codes_expire_and_a_new_code_cancels_the_old(make_gateway: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from gateway.errors import InputError
    from gateway.learner_access import REFUSED, activate, invite, invite_students

    person, stranger = make_ids(2, seed=5)
    async with make_gateway() as gw:
        async with gw.db.begin() as conn:
            await upsert_candidates(
                conn,
                [
                    Candidate(name="甲", id_number=person, student_number="20230001"),
                    Candidate(name="乙", id_number=stranger, student_number="20230002"),
                ],
                gw.keys,
            )
        now = datetime(2026, 9, 1, tzinfo=UTC)
        old = await invite(gw.db, gw.hash_id(person), now=now)
        new = await invite(gw.db, gw.hash_id(person), now=now)
        with pytest.raises(InputError, match=re.escape(REFUSED)):
            await activate(gw, "20230001", old.code, PASSWORD, now=now)
        late = now + timedelta(days=15)
        with pytest.raises(InputError, match=re.escape(REFUSED)):
            await activate(gw, "20230001", new.code, PASSWORD, now=late)
        fresh = await invite(gw.db, gw.hash_id(person), now=late)
        # the ID number works as well as the 学号; the code is case- and dash-insensitive
        user = await activate(gw, person, fresh.code.lower().replace("-", ""), PASSWORD, now=late)
        assert user.username == "20230001" and user.role == "learner"
        pending = await invite_students(gw.db, now=late)
        assert [p.student_number for p in pending] == ["20230002"]
        async with gw.db.connect() as conn:
            stored = (await conn.execute(select(t.learner_invites.c.code_hash))).scalars().all()
        assert not any(c.code.replace("-", "") in str(stored) for c in (old, new, fresh))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def demo_console(directory: Path, port: int) -> AsyncIterator[TestClient]:
    """``xgate serve`` in the demo's folder (its own settings), on a fixed loopback port."""
    from gateway.runtime import open_gateway
    from gateway.settings import load_settings

    settings = load_settings(directory / "xgate.toml")
    settings.credentials.public_url = f"http://127.0.0.1:{port}"
    async with open_gateway(settings=settings) as gw:
        server = TestServer(build_app(gw), host="127.0.0.1", port=port)
        async with TestClient(server) as client:
            yield client


async def test_demo_learner_end_to_end(tmp_path: Path) -> None:
    """The issue's definition of done, on the demo: a learner from the demo activates, signs
    in, sees their record, downloads a credential that verifies; the organization revokes that
    certificate, the nightly sync (the demo's second run) records it, the same file is revoked."""
    from xgate_simulators.beifang import BeifangSimulator as Beifang
    from xgate_simulators.demo import DEMO_SEED, run_demo, submit_sample
    from xgate_simulators.liaohe import LiaoheSimulator as Liaohe

    first = await run_demo(tmp_path, submit=submit_sample)
    assert first.ok and first.learner, first
    who = first.learner
    port = _free_port()
    path = tmp_path / "credential.json"
    async with demo_console(tmp_path, port) as client:
        assert (await activate(client, who["student_number"], who["code"])).status == 200
        await sign_in(client, who["student_number"])
        page = await (await client.get("/me")).text()
        assert who["name"] in page and who["certificate"] in page
        assert "<td>有效</td>" in page  # the certificate status in the learner's language
        token = await csrf_of(client, "/me")
        r = await client.post(
            "/me/credentials", data={"csrf_token": token, "certificate": who["certificate"]}
        )
        assert r.status == 200
        path.write_text(json.dumps(await r.json(content_type=None)))
        assert (await verify_file(path)).status == "valid"
        code, out = await xgate("credentials", "verify", str(path))
        assert code == 0 and out.startswith("VALID"), out

    sim = {"beifang": Beifang, "liaohe": Liaohe}[who["organization"]](seed=DEMO_SEED)
    state = tmp_path / "simulators" / f"{who['organization']}.state"
    assert sim.load_state(state)
    sim.revoke(who["certificate"], "考核违规")
    sim.save_state(state)
    second = await run_demo(tmp_path, submit=submit_sample)  # the nightly sync runs
    assert second.sync_ok

    async with demo_console(tmp_path, port):
        verdict = await verify_file(path)
        assert verdict.status == "revoked", verdict.problems
        code, out = await xgate("credentials", "verify", str(path), "--json")
        assert code == 1 and json.loads(out)["status"] == "revoked"


async def xgate(*args: str) -> tuple[int, str]:
    """The installed command, run without blocking the event loop serving the console."""
    import asyncio
    import sys

    exe = str(Path(sys.executable).with_name("xgate"))
    proc = await asyncio.create_subprocess_exec(
        exe, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def test_staff_verify_and_recognise_in_the_console(make_gateway: Any, tmp_path: Path) -> None:
    async with world(make_gateway, tmp_path) as client:
        mine, other = client.certs[0], client.certs[1]
        token = await sign_in(client, "staff")
        r = await client.post(
            "/api/verify",
            json={"number": mine.number, "name": mine.holder_name},
            headers={"X-CSRF-Token": token},
        )
        answer = await r.json()
        assert r.status == 200 and answer["outcome"] == "valid" and answer["holder_matches"]
        page = await client.get("/verify")
        assert page.status == 200
        form_token = await csrf_of(client, "/verify")
        client.sim.revoke(other.number, "证书已注销")
        _, other_number = await candidate_ref(client.gw, other.id_number)
        r = await client.post(
            "/recognise",
            data={
                "csrf_token": form_token,
                "number": other.number,
                "organization": "beifang",
                "learner": other_number,
            },
        )
        assert r.status == 400 and "证书已注销" in await r.text()
        async with client.gw.db.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        t.certificate_verifications.c.purpose,
                        t.certificate_verifications.c.outcome,
                        t.certificate_verifications.c.operator,
                    ).order_by(t.certificate_verifications.c.id)
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("verify", "valid", "staff"),
            ("recognition", "revoked", "staff"),
        ]


async def test_learner_page_has_a_verify_button_for_staff(
    make_gateway: Any, tmp_path: Path
) -> None:
    async with world(make_gateway, tmp_path) as client:
        mine = client.certs[0]
        ref, _ = await candidate_ref(client.gw, mine.id_number)
        await sign_in(client, "staff")
        page = await (await client.get(f"/learners/{ref}")).text()
        assert 'class="link verify-certificate"' in page and 'id="invite"' in page
        token = await csrf_of(client, f"/learners/{ref}")
        r = await client.post(
            "/verify",
            data={"csrf_token": token, "number": mine.number, "organization": "beifang"},
        )
        assert r.status == 200 and 'id="outcome"' in await r.text()
        client.session.cookie_jar.clear()
        await add_user(client.gw.db, "viewer", "viewer", PASSWORD)
        await sign_in(client, "viewer")  # a viewer sees the record, not the staff buttons
        page = await (await client.get(f"/learners/{ref}")).text()
        assert "verify-certificate" not in page and 'id="invite"' not in page
