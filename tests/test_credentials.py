"""Credentials outward: issued as OB 3.0, checked as an outsider would, revoked by a sync.

Against the Beifang simulator and the gateway's own ``xgate serve`` app on loopback ports: the
verifier reads the issuer's did:web document and status list over HTTP, exactly as a third
party would; the offline mode reads the same from files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from joserfc.jwk import OKPKey
from jsonschema import Draft201909Validator
from sqlalchemy import select
from xgate_simulators.beifang import BeifangSimulator

from gateway.credentials import status
from gateway.credentials.check import verify_file
from gateway.credentials.issue import issue_badges, issue_clr, revoke_credential
from gateway.credentials.signing import college_key, did_document
from gateway.server import build_app
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.beifang_support import beifang_orgs
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
SCHEMA = json.loads(
    (ROOT / "schemas" / "openbadges" / "ob_v3p0_achievementcredential.json").read_text()
)
PLAN = "BF-2026-HGJL-2"


def orgs(url: str) -> dict[str, Any]:
    return beifang_orgs(url)


@asynccontextmanager
async def serving(gw: Any) -> AsyncIterator[str]:
    """The gateway's API on an ephemeral loopback port; public_url points at it."""
    runner = web.AppRunner(build_app(gw), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gw.settings.credentials.public_url = f"http://127.0.0.1:{port}"
    try:
        yield gw.settings.credentials.public_url
    finally:
        await runner.cleanup()


def simulator() -> tuple[BeifangSimulator, list[Any]]:
    sim = BeifangSimulator(seed=5)
    sim.add_registrations(PLAN, [(n, f"学生{i}") for i, n in enumerate(make_ids(8, seed=41))])
    sim.grade_all()
    certs = sim.issue_passed()
    assert len(certs) >= 2
    return sim, certs


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def tampered(file: dict[str, Any], change: Any) -> dict[str, Any]:
    """The same signature over a payload with one field changed."""
    token = file["id"].split(",", 1)[1]
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    change(payload)
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    new_body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {**file, "id": f"data:application/vc+jwt,{head}.{new_body}.{sig}"}


async def test_badge_valid_tampered_then_revoked_by_sync(make_gateway, tmp_path) -> None:
    sim, certs = simulator()
    holder = certs[0]
    async with (
        sim.running() as url,
        make_gateway(
            orgs=orgs(url),
            catalogue_file=DATA / "catalogue.toml",
            rules_file=DATA / "credit-rules.toml",
            credentials={"issuer_name": "示范职业技术学院"},
        ) as gw,
        serving(gw) as base,
    ):
        assert (await run_sync(gw)).ok
        h = gw.hash_id(holder.id_number)
        issued = await issue_badges(gw, h, number=holder.number)
        assert len(issued) == 1
        doc = issued[0].document
        errors = sorted(e.message for e in Draft201909Validator(SCHEMA).iter_errors(doc))
        assert errors == []
        assert doc["issuer"]["id"] == "did:web:" + base.split("//")[1].replace(":", "%3A")
        assert doc["credentialSubject"]["licenseNumber"] == holder.number
        assert doc["credentialSubject"]["creditsEarned"] > 0
        assert holder.id_number not in json.dumps(doc)  # only a salted hash of it
        async with gw.db.connect() as conn:
            row = (await conn.execute(select(t.issued_credentials))).mappings().one()
        assert row["credential_id"] == doc["id"] and row["certificate_number"] == holder.number

        path = write(tmp_path / "badge.json", issued[0].file())
        verdict = await verify_file(path)
        assert verdict.status == "valid", verdict.problems
        assert (await verify_file(path, issuer=doc["issuer"]["id"])).status == "valid"
        assert (await verify_file(path, issuer="did:web:other.edu.cn")).status == "invalid"

        for change in (
            lambda p: p.__setitem__("name", "伪造证书"),
            lambda p: p["credentialSubject"].__setitem__("creditsEarned", 99),
            lambda p: p.__setitem__("validFrom", "2020-01-01T00:00:00Z"),
        ):
            bad = write(tmp_path / "bad.json", tampered(issued[0].file(), change))
            assert (await verify_file(bad)).status == "invalid"

        # offline: the DID document and the status list from files
        college = college_key(gw.keys)
        did_file = write(tmp_path / "did.json", did_document(gw.settings.credentials, college))
        async with httpx.AsyncClient() as http:
            listed = (await http.get(f"{base}/credentials/status/1")).text
        list_file = tmp_path / "status.jwt"
        list_file.write_text(listed)
        offline = await verify_file(path, did_document=str(did_file), status_list=str(list_file))
        assert offline.status == "valid", offline.problems

        # a stranger's key in the DID document: the signature no longer verifies
        stranger = OKPKey.generate_key("Ed25519", private=True)
        forged = write(
            tmp_path / "forged-did.json", did_document(gw.settings.credentials, stranger)
        )
        assert (await verify_file(path, did_document=str(forged))).status == "invalid"

        # the organization revokes; the next sync records it; the same file is revoked
        sim.revoke(holder.number, "考核违规")
        assert (await run_sync(gw)).ok
        after = await verify_file(path)
        assert after.status == "revoked", after.problems
        # the old status list file still says valid: offline checks are as fresh as the file
        stale = await verify_file(path, did_document=str(did_file), status_list=str(list_file))
        assert stale.status == "valid"


async def test_clr_holds_a_badge_per_certificate(make_gateway, tmp_path) -> None:
    sim, certs = simulator()
    holder = certs[1]
    async with (
        sim.running() as url,
        make_gateway(
            orgs=orgs(url),
            rules_file=DATA / "credit-rules.toml",
        ) as gw,
        serving(gw),
    ):
        assert (await run_sync(gw)).ok
        clr = await issue_clr(gw, gw.hash_id(holder.id_number))
        assert clr.document["type"] == ["VerifiableCredential", "ClrCredential"]
        inner = clr.document["credentialSubject"]["verifiableCredential"]
        assert len(inner) == 1 and inner[0]["type"] == "EnvelopedVerifiableCredential"
        path = write(tmp_path / "clr.json", clr.file())
        verdict = await verify_file(path)
        assert verdict.status == "valid" and [v.status for v in verdict.inner] == ["valid"]
        assert await revoke_credential(gw, clr.credential_id, "重新签发")
        assert not await revoke_credential(gw, clr.credential_id, "again")
        assert (await verify_file(path)).status == "revoked"
        sim.revoke(holder.number, "证书撤销")
        await run_sync(gw)
        verdict = await verify_file(path)
        assert [v.status for v in verdict.inner] == ["revoked"]


async def test_revoked_certificate_is_never_signed(make_gateway, tmp_path) -> None:
    from gateway.errors import InputError

    sim, certs = simulator()
    async with (
        sim.running() as url,
        make_gateway(orgs=orgs(url)) as gw,
    ):
        sim.revoke(certs[0].number, "撤销")
        await run_sync(gw)
        with pytest.raises(InputError, match="revoked"):
            await issue_badges(gw, gw.hash_id(certs[0].id_number), number=certs[0].number)
        async with gw.db.connect() as conn:
            assert (await conn.execute(select(t.issued_credentials))).first() is None


def test_bitstring_round_trip_and_minimum_size() -> None:
    encoded = status.encode([0, 7, 8, 131_071])
    assert encoded.startswith("u")
    assert [status.bit(encoded, i) for i in (0, 1, 7, 8, 9, 131_071)] == [
        True,
        False,
        True,
        True,
        False,
        True,
    ]
    with pytest.raises(ValueError):
        status.encode([131_072])


async def test_withdrawn_or_vanished_certificate_sets_the_bit(make_gateway, tmp_path) -> None:
    from sqlalchemy import delete, update

    from gateway.credit import ensure_accounts
    from tests.credit_support import add_certificate, person

    a, b = person(7), person(8)
    async with make_gateway() as gw:
        async with gw.db.begin() as conn:
            await ensure_accounts(conn, [(a, "m", "甲", "student"), (b, "m", "乙", "student")])
            await add_certificate(conn, a, "BF-7")
            await add_certificate(conn, b, "BF-8")
        first = (await issue_badges(gw, a))[0]
        second = (await issue_badges(gw, b))[0]
        index = {
            first.credential_id: int(first.document["credentialStatus"]["statusListIndex"]),
            second.credential_id: int(second.document["credentialStatus"]["statusListIndex"]),
        }
        async with gw.db.connect() as conn:
            assert await status.revoked_indices(conn, 1) == []
        async with gw.db.begin() as conn:
            await conn.execute(
                update(t.certificates)
                .where(t.certificates.c.number == "BF-7")
                .values(status="withdrawn")
            )
            await conn.execute(delete(t.certificates).where(t.certificates.c.number == "BF-8"))
        async with gw.db.connect() as conn:
            assert sorted(await status.revoked_indices(conn, 1)) == sorted(index.values())


def test_benchmark_runs_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import credentials as bench

    assert bench.main(["--credentials", "20", "--rounds", "1", "--verify", "10"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("ratio=") and last.endswith(("PASS", "FAIL"))
