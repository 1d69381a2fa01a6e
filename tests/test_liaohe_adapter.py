"""The Liaohe adapter against its simulator: signing, registration by file upload, look-up,
rare characters in GB18030, and verification.

The adapter is built exactly as the core builds it: ``gateway.http.build_client`` (the core's
retrying client) in an ``AdapterContext`` whose ``sleep`` records instead of waiting. The
helpers here are shared by the other ``test_liaohe_*`` modules.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import xgate_liaohe.plugin
from sqlalchemy import select
from xgate_liaohe.adapter import LiaoheAdapter
from xgate_liaohe.plugin import SPEC
from xgate_liaohe.settings import LiaoheSettings
from xgate_liaohe.signing import Signer, signature, string_to_sign
from xgate_simulators.faults import FaultPlan
from xgate_simulators.liaohe import LiaoheSimulator, expected_sign

from gateway import (
    AdapterContext,
    AuthError,
    Candidate,
    ExamPlan,
    IdType,
    OutcomeUnknown,
    RegistrationRequest,
    RegistrationStatus,
    TransientError,
)
from gateway.http import build_client
from gateway.keys import lookup_hash
from gateway.outbox import OutboxItem, deliver, enqueue, idempotency_key
from gateway.plugins import load_plugins
from gateway.runtime import open_gateway
from gateway.settings import HttpPolicy, Settings
from gateway.store import tables as t
from gateway.testing.sleep import RecordingSleep
from tests.idgen import make_ids

PLC1 = ExamPlan(code="LH-2026-PLC-1", organization="liaohe", certificate_code="PLC", level=1)
PLC2 = ExamPlan(code="LH-2026-PLC-2", organization="liaohe", certificate_code="PLC", level=2)
GYJQR2 = ExamPlan(code="LH-2026-GYJQR-2", organization="liaohe", certificate_code="GYJQR", level=2)
FAST = HttpPolicy(attempts=1, timeout=5)
RESILIENT = HttpPolicy(
    attempts=10,
    timeout=5,
    wait_base=0.01,
    wait_max=0.5,
    total_budget=600,
    breaker_threshold=1000,
)


@pytest.fixture
async def sim() -> AsyncIterator[LiaoheSimulator]:
    simulator = LiaoheSimulator(seed=11)
    async with simulator.running():
        yield simulator


def make_adapter(
    sim: LiaoheSimulator,
    *,
    policy: HttpPolicy = FAST,
    page_size: int = 25,
    overlap: int = 5,
    app_secret: str | None = None,
    sign_method: str = "hmac-sha256",
    upload_format: str = "csv",
    now: Callable[[], datetime] | None = None,
    sent: list[httpx.Request] | None = None,
) -> LiaoheAdapter:
    sleeper = RecordingSleep()
    http = build_client(
        "liaohe", policy, base_url=sim.url, sleep=sleeper, repeatable=SPEC.repeatable
    )
    if sent is not None:

        async def record(request: httpx.Request) -> None:
            sent.append(request)

        http.event_hooks["request"].append(record)
    context = AdapterContext(
        organization="liaohe",
        http=http,
        logger=logging.getLogger("tests.liaohe"),
        sleep=sleeper,
        now=now or (lambda: datetime.now(UTC)),
    )
    settings = LiaoheSettings.model_validate(
        {
            "base_url": sim.url,
            "app_key": sim.app_key,
            "app_secret": app_secret or sim.app_secret,
            "sign_method": sign_method,
            "page_size": page_size,
            "overlap": overlap,
            "poll_interval": 1.5,
            "upload_format": upload_format,
        }
    )
    return LiaoheAdapter(settings, context)


def sleeper_of(adapter: LiaoheAdapter) -> RecordingSleep:
    sleep = adapter.context.sleep
    assert isinstance(sleep, RecordingSleep)
    return sleep


def people(n: int, seed: int = 1, names: list[str] | None = None) -> list[Candidate]:
    return [
        Candidate(
            name=(names[i] if names and i < len(names) else f"学生{i:03d}"),
            id_number=x,
            mobile=f"139{seed:02d}{i:06d}",
        )
        for i, x in enumerate(make_ids(n, seed))
    ]


def requests_for(plan: ExamPlan, candidates: list[Candidate]) -> list[RegistrationRequest]:
    return [
        RegistrationRequest(
            idempotency_key=idempotency_key("liaohe", plan.code, lookup_hash(c.id_number, b"k")),
            plan=plan,
            candidate=c,
        )
        for c in candidates
    ]


async def register_people(
    sim: LiaoheSimulator, adapter: LiaoheAdapter, plan: ExamPlan, n: int, seed: int = 1
) -> list[Candidate]:
    candidates = people(n, seed)
    outcomes = await adapter.register(plan, requests_for(plan, candidates))
    assert [o.status for o in outcomes] == [RegistrationStatus.ACCEPTED] * n
    return candidates


# ---------------------------------------------------------------------------- signing


def test_signature_follows_the_documented_recipe() -> None:
    params = {"plan": "LH-2026-PLC-1", "b": "2", "a": "1", "empty": "", "sign": "ignored"}
    text = "a=1&b=2&plan=LH-2026-PLC-1&key=s3cret"
    assert string_to_sign(params, "s3cret") == text
    assert signature(params, "s3cret", "hmac-sha256") == (
        hmac.new(b"s3cret", text.encode(), hashlib.sha256).hexdigest()
    )
    assert signature(params, "s3cret", "md5") == hashlib.md5(text.encode()).hexdigest()
    # the simulator's check is written separately and agrees
    assert expected_sign(params, "s3cret", "md5") == signature(params, "s3cret", "md5")
    # the worked example of docs/organizations/liaohe.md
    doc = {
        "app_key": "xgate-college",
        "timestamp": "1795000000000",
        "nonce": "9f1c2e4a7b3d5e60",
        "sign_type": "HMAC-SHA256",
        "plan": "LH-2026-PLC-1",
        "id_no": "11010519491231002X",
    }
    assert signature(doc, "liaohe-demo-secret", "hmac-sha256") == (
        "ec3cafb6fdb3469e15a36e1b426a182e34e35abb3c923d27c91403334800d66c"
    )
    assert signature({**doc, "sign_type": "MD5"}, "liaohe-demo-secret", "md5") == (
        "77f3216cccd68482b24faa942892a626"
    )


def test_signer_adds_fresh_authentication_parameters() -> None:
    moment = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    nonces = iter(["n1", "n2"])
    signer = Signer("key", "s3cret", "hmac-sha256", lambda: moment, lambda: next(nonces))
    first = signer.sign({"plan": "P"})
    second = signer.sign({"plan": "P"})
    assert first["timestamp"] == str(int(moment.timestamp() * 1000))
    assert (first["nonce"], second["nonce"]) == ("n1", "n2")
    assert first["sign_type"] == "HMAC-SHA256" and first["app_key"] == "key"
    assert first["sign"] == signature(first, "s3cret", "hmac-sha256") != second["sign"]


@pytest.mark.parametrize("method", ["hmac-sha256", "md5"])
async def test_the_platform_accepts_both_sign_methods(sim: LiaoheSimulator, method: str) -> None:
    adapter = make_adapter(sim, sign_method=method)
    await register_people(sim, adapter, PLC1, 3)
    assert await adapter.lookup_registration(PLC1, requests_for(PLC1, people(1, seed=9))[0]) is None
    assert set(sim.refusals) == {4004}  # the look-up's "not found"; no signature refusal


async def test_a_wrong_secret_is_an_auth_error_that_does_not_show_it(
    sim: LiaoheSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = make_adapter(sim, app_secret="not-the-secret")
    with pytest.raises(AuthError) as info:
        await adapter.register(PLC1, requests_for(PLC1, people(2)))
    assert "1001" in str(info.value) and "not-the-secret" not in str(info.value)
    with pytest.raises(AuthError):
        async for _ in adapter.scores(None):
            pass
    assert sim.refusals[1001] == 2
    assert not sim.truth.registrations
    assert "not-the-secret" not in caplog.text


async def test_a_stale_timestamp_is_an_auth_error(sim: LiaoheSimulator) -> None:
    late = make_adapter(sim, now=lambda: datetime.now(UTC) - timedelta(minutes=6))
    with pytest.raises(AuthError, match="1002"):
        await late.verify("LH2026PLC1000001")
    assert sim.refusals[1002] == 1


async def test_a_reused_nonce_is_refused_and_the_adapter_signs_again(
    sim: LiaoheSimulator,
) -> None:
    adapter = make_adapter(sim)
    params = adapter.signer.sign({"plan": PLC1.code, "id_no": make_ids(1)[0]})
    async with httpx.AsyncClient(base_url=sim.url) as raw:
        first = (await raw.get("/api/reg/query", params=params)).json()
        again = (await raw.get("/api/reg/query", params=params)).json()
    assert first["code"] == 4004  # not registered: the request itself was fine
    assert again["code"] == 1003

    # The core retries a request whose answer was lost with the very same nonce; the platform
    # refuses that as a replay, and the adapter answers by signing a fresh request.
    candidates = await register_people(sim, make_adapter(sim), PLC1, 6)
    retrying = make_adapter(sim, policy=RESILIENT)
    sim.set_faults(FaultPlan(commit_then_drop=0.3, seed=3, paths=("/api/reg/query",)))
    found = [await retrying.lookup_registration(PLC1, r) for r in requests_for(PLC1, candidates)]
    sim.set_faults(None)
    assert [f.org_registration_id for f in found if f] == [
        sim.truth.registrations[(PLC1.code, c.id_number)].registration_id for c in candidates
    ]
    assert sim.refusals[1003] >= 2  # the raw replay above and at least one core retry


async def test_endless_replay_refusals_make_an_upload_unknown_and_a_read_transient() -> None:
    """Each refusal proves an earlier copy arrived: for an upload that means "maybe done"."""
    answers: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        answers.append(request.url.path)
        return httpx.Response(200, json={"code": 1003, "msg": "请求重复", "data": None})

    http = build_client(
        "liaohe", FAST, base_url="http://liaohe.test", transport=httpx.MockTransport(platform)
    )
    context = AdapterContext(
        organization="liaohe", http=http, logger=logging.getLogger("t"), sleep=RecordingSleep()
    )
    settings = LiaoheSettings(base_url="http://liaohe.test", app_key="k", app_secret="s")
    adapter = LiaoheAdapter(settings, context)
    [request] = requests_for(PLC1, people(1))
    with pytest.raises(OutcomeUnknown, match="5 fresh nonces"):
        await adapter.register(PLC1, [request])
    with pytest.raises(TransientError) as info:
        await adapter.lookup_registration(PLC1, request)
    assert not isinstance(info.value, OutcomeUnknown)
    assert answers == ["/api/reg/upload"] * 5 + ["/api/reg/query"] * 5
    await http.aclose()


# ---------------------------------------------------------------------------- registration


async def test_register_accepts_and_rejects_rows_with_the_platform_reasons(
    sim: LiaoheSimulator,
) -> None:
    adapter = make_adapter(sim)
    good = people(5)
    no_mobile = Candidate(name="无手机", id_number=make_ids(1, seed=2)[0])
    bad_passport = Candidate(
        name="Anna Li", id_type=IdType.PASSPORT, id_number="E1", mobile="13900000001"
    )
    passport = Candidate(
        name="Anna Li", id_type=IdType.PASSPORT, id_number="E12345678", mobile="13900000002"
    )
    requests = requests_for(PLC1, [*good, no_mobile, bad_passport, passport])
    outcomes = await adapter.register(PLC1, requests)

    assert [o.idempotency_key for o in outcomes] == [r.idempotency_key for r in requests]
    by_key = {o.idempotency_key: o for o in outcomes}
    for request in requests[:5] + requests[7:]:
        outcome = by_key[request.idempotency_key]
        truth = sim.truth.registrations[(PLC1.code, request.candidate.id_number)]
        assert outcome.status is RegistrationStatus.ACCEPTED
        assert outcome.org_registration_id == truth.registration_id
    assert (
        by_key[requests[5].idempotency_key].reason_code,
        by_key[requests[6].idempotency_key].reason_code,
    ) == ("2005", "2004")
    assert by_key[requests[5].idempotency_key].status is RegistrationStatus.REJECTED
    assert "手机号码" in (by_key[requests[5].idempotency_key].reason or "")
    assert sim.truth.registered(PLC1.code) == {c.id_number for c in [*good, passport]}
    assert sim.registrants[(PLC1.code, "E12345678")]["证件类型"] == "护照"


async def test_a_level_the_plan_does_not_have_rejects_every_row(sim: LiaoheSimulator) -> None:
    adapter = make_adapter(sim)
    wrong = ExamPlan(code=PLC1.code, organization="liaohe", certificate_code="PLC", level=3)
    outcomes = await adapter.register(wrong, requests_for(wrong, people(3)))
    assert {(o.status, o.reason_code) for o in outcomes} == {(RegistrationStatus.REJECTED, "2003")}
    unknown = ExamPlan(code="LH-NOPE", organization="liaohe", certificate_code="PLC", level=1)
    outcomes = await adapter.register(unknown, requests_for(unknown, people(2)))
    assert {o.reason_code for o in outcomes} == {"2006"}
    assert not sim.truth.registrations


async def test_uploading_the_same_candidates_again_registers_each_once(
    sim: LiaoheSimulator,
) -> None:
    adapter = make_adapter(sim)
    candidates = people(12)
    requests = requests_for(PLC1, candidates)
    first = await adapter.register(PLC1, requests)
    sim.close_plan(PLC1.code)  # even a closed plan answers "already registered" first
    lookups_before = sim.hits["query"]
    second = await adapter.register(PLC1, requests)

    assert [(o.status, o.org_registration_id) for o in second] == [
        (o.status, o.org_registration_id) for o in first
    ]
    assert len(sim.truth.registrations) == 12
    assert all(sim.attempts[(PLC1.code, c.id_number)] == 2 for c in candidates)
    assert sim.hits["query"] - lookups_before == 12  # each 2001 row settled by a look-up
    assert sim.truth.registration_requests == 2

    latecomer = people(1, seed=5)
    [late] = await adapter.register(PLC1, requests_for(PLC1, latecomer))
    assert (late.status, late.reason_code) == (RegistrationStatus.REJECTED, "2002")


async def test_an_already_registered_row_that_cannot_be_confirmed_is_left_unknown(
    sim: LiaoheSimulator,
) -> None:
    adapter = make_adapter(sim)
    candidates = await register_people(sim, adapter, PLC1, 3)
    newcomer = people(1, seed=6)
    sim.set_faults(FaultPlan(error_5xx=1.0, paths=("/api/reg/query",)))
    outcomes = await adapter.register(PLC1, requests_for(PLC1, [*candidates, *newcomer]))
    # the upload went through: the new row is accepted; the three repeats could not be
    # confirmed, so they are missing from the answer (the core looks them up later)
    assert [o.org_registration_id for o in outcomes] == [
        sim.truth.registrations[(PLC1.code, newcomer[0].id_number)].registration_id
    ]
    assert len(sim.truth.registrations) == 4


async def test_lookup_finds_registrations_and_says_none_for_others(sim: LiaoheSimulator) -> None:
    adapter = make_adapter(sim)
    [known] = await register_people(sim, adapter, GYJQR2, 1)
    [request] = requests_for(GYJQR2, [known])
    found = await adapter.lookup_registration(GYJQR2, request)
    assert found is not None and found.status is RegistrationStatus.ACCEPTED
    assert found.idempotency_key == request.idempotency_key
    assert (
        found.org_registration_id
        == sim.truth.registrations[(GYJQR2.code, known.id_number)].registration_id
    )
    assert await adapter.lookup_registration(PLC1, requests_for(PLC1, [known])[0]) is None


async def test_the_job_is_polled_with_the_injected_sleep(sim: LiaoheSimulator) -> None:
    sim.job_polls = 3
    adapter = make_adapter(sim)
    await register_people(sim, adapter, PLC1, 2)
    assert sleeper_of(adapter).waits == [1.5] * 4  # three "processing" answers, then "done"
    assert sim.hits["job"] == 4


async def test_system_busy_is_transient_and_registers_nothing(sim: LiaoheSimulator) -> None:
    adapter = make_adapter(sim)
    sim.make_busy(1)
    with pytest.raises(TransientError) as info:
        await adapter.register(PLC1, requests_for(PLC1, people(3)))
    assert info.value.sent is False and "5000" in str(info.value)
    assert not sim.truth.registrations


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_rare_name_characters_survive_the_round_trip(sim: LiaoheSimulator, fmt: str) -> None:
    names = [
        "刘䶮",
        "𠮷野家",
        "龘靐",
        "欧阳　娜",
    ]  # Ext. A, Ext. B (4-byte GB18030), full-width space
    adapter = make_adapter(sim, upload_format=fmt, page_size=2)
    candidates = people(4, names=names)
    outcomes = await adapter.register(PLC1, requests_for(PLC1, candidates))
    assert {o.status for o in outcomes} == {RegistrationStatus.ACCEPTED}
    expected = {c.id_number: c.name for c in candidates}
    assert expected[candidates[0].id_number] == "刘䶮"
    assert {r.id_number: r.name for r in sim.truth.registrations.values()} == expected
    sim.grade_all()
    read: dict[str, Any] = {}
    async for page in adapter.scores(None):
        read.update({r.id_number: r.name for r in page.records})
    assert read == expected
    holders: dict[str, Any] = {}
    async for page in adapter.certificates(None):
        holders.update({c.id_number: c.holder_name for c in page.records})
    assert holders  # a loop over no certificate would check nothing
    assert holders == {k: expected[k] for k in holders}


# ---------------------------------------------------------------------------- verification


async def test_verify_reports_status_and_holder(sim: LiaoheSimulator) -> None:
    adapter = make_adapter(sim)
    await register_people(sim, adapter, PLC1, 10)
    sim.grade_all()
    number, cert = sorted(sim.truth.certificates.items())[0]

    ok = await adapter.verify(number, cert.holder_name)
    assert (ok.found, ok.status, ok.holder_matches) == (True, "valid", True)
    assert ok.certificate is not None and ok.certificate.id_number == cert.id_number
    assert (await adapter.verify(number, "别人")).holder_matches is False
    assert (await adapter.verify(number)).holder_matches is None

    sim.revoke(number, "证书信息有误")
    revoked = await adapter.verify(number)
    assert revoked.status == "revoked"
    assert revoked.certificate is not None
    assert revoked.certificate.revoked_reason == "证书信息有误"
    missing = await adapter.verify("LH2026PLC1999999")
    assert (missing.found, missing.certificate) == (False, None)


def stale_on_first_job_poll(sim: LiaoheSimulator) -> Callable[[], float]:
    """The platform's clock as it checks timestamps: ten minutes ahead while it answers the
    first job poll (so that poll is refused with 1002), right before and after."""

    def clock() -> float:
        first_poll = sim.hits["job"] == 1 and not sim.refusals[1002]
        skew = 600.0 if first_poll else 0.0
        return datetime.now(UTC).timestamp() + skew

    return clock


async def test_an_auth_refusal_after_the_upload_makes_the_outcome_unknown() -> None:
    """The upload was accepted (a job exists), so a 1002 on the job poll must not say
    "nothing was sent": the core would upload the batch again."""
    sim = LiaoheSimulator(seed=12)
    sim.auth_clock = stale_on_first_job_poll(sim)
    async with sim.running():
        adapter = make_adapter(sim)
        candidates = people(3)
        with pytest.raises(OutcomeUnknown) as info:
            await adapter.register(PLC1, requests_for(PLC1, candidates))
        assert isinstance(info.value.__cause__, AuthError)
        assert "1002" in str(info.value) and info.value.sent is True
        assert sim.refusals[1002] == 1 and sim.hits["upload"] == 1
        assert {(PLC1.code, c.id_number) for c in candidates} == set(sim.truth.registrations)


async def test_the_outbox_settles_a_batch_whose_job_poll_was_refused_by_look_up(
    tmp_path: Path,
) -> None:
    sim = LiaoheSimulator(seed=13)
    sim.auth_clock = stale_on_first_job_poll(sim)
    async with sim.running():
        conf = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'xgate.db'}",
            organizations={
                "liaohe": {
                    "plugin": "liaohe",
                    "base_url": sim.url,
                    "app_key": sim.app_key,
                    "app_secret": sim.app_secret,
                    "poll_interval": 0.5,
                    "http": FAST.model_dump(),
                }
            },
        )
        host = load_plugins(lambda: [], extra=[("liaohe", xgate_liaohe.plugin)])
        candidates = people(4, seed=7)
        async with open_gateway(settings=conf, host=host, sleep=RecordingSleep()) as gw:
            await enqueue(gw, "liaohe", PLC1, [OutboxItem(c) for c in candidates])
            report = await deliver(gw, "liaohe")
            async with gw.db.connect() as conn:
                rows = (await conn.execute(select(t.registrations))).mappings().all()
                events = (
                    (await conn.execute(select(t.registration_events.c.detail))).scalars().all()
                )

    assert sim.refusals[1002] == 1
    assert not report.auth_failed and report.unknown == 0 and report.accepted == 0
    assert report.reconciled == 4
    assert sim.hits["upload"] == 1 and sim.truth.registration_requests == 1
    assert all(sim.attempts[(PLC1.code, c.id_number)] == 1 for c in candidates)
    assert {(r["status"], r["org_registration_id"]) for r in rows} == {
        ("accepted", reg.registration_id) for reg in sim.truth.registrations.values()
    }
    assert len(rows) == 4 and events.count("settled by look-up") == 4
