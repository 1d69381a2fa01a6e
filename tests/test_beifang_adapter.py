"""The Beifang plugin against its simulator, through the core's HTTP client.

Each test starts the simulator in-process on an ephemeral loopback port and checks what the
adapter returns against the simulator's ground truth (``sim.truth``) and its request counters.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import xgate_beifang.plugin
from aiohttp import web
from xgate_beifang import BeifangAdapter, BeifangSettings
from xgate_beifang.plugin import SPEC
from xgate_simulators.beifang import BeifangSimulator
from xgate_simulators.faults import FaultPlan

from gateway import (
    AdapterContext,
    AuthError,
    Candidate,
    CertificateRecord,
    ContractError,
    ExamPlan,
    Invalid,
    IssueRequest,
    OutcomeUnknown,
    RegistrationRequest,
    RegistrationStatus,
    RejectedError,
    ScoreRecord,
    TransientError,
)
from gateway.http import build_client
from gateway.keys import lookup_hash
from gateway.outbox import OutboxItem, deliver, enqueue, idempotency_key, statuses
from gateway.plugins import load_plugins
from gateway.runtime import open_gateway
from gateway.settings import HttpPolicy, Settings
from gateway.testing.sleep import RecordingSleep
from tests.idgen import make_ids
from tests.wire_support import beifang_score

HGJL2 = ExamPlan(code="BF-2026-HGJL-2", organization="beifang", certificate_code="HGJL", level=2)
HGJL3 = ExamPlan(code="BF-2026-HGJL-3", organization="beifang", certificate_code="HGJL", level=3)
SHJ1 = ExamPlan(code="BF-2026-SHJ-1", organization="beifang", certificate_code="SHJ", level=1)
FAST = HttpPolicy(attempts=1, timeout=5)


@pytest.fixture
async def sim() -> AsyncIterator[BeifangSimulator]:
    simulator = BeifangSimulator(seed=11)
    async with simulator.running():
        yield simulator


def make_adapter(
    sim: BeifangSimulator,
    *,
    policy: HttpPolicy = FAST,
    page_size: int = 25,
    client_secret: str | None = None,
    webhook_secret: str | None = None,
    sent: list[httpx.Request] | None = None,
) -> BeifangAdapter:
    sleeper = RecordingSleep()
    http = build_client(
        "beifang", policy, base_url=sim.url, sleep=sleeper, repeatable=SPEC.repeatable
    )
    if sent is not None:

        async def record(request: httpx.Request) -> None:
            sent.append(request)

        http.event_hooks["request"].append(record)
    context = AdapterContext(
        organization="beifang",
        http=http,
        logger=logging.getLogger("tests.beifang"),
        sleep=sleeper,
        now=sim.clock.now,
    )
    settings = BeifangSettings(
        base_url=sim.url,
        client_id=sim.client_id,
        client_secret=client_secret or sim.client_secret,
        webhook_secret=webhook_secret or sim.webhook_secret,
        page_size=page_size,
    )
    return BeifangAdapter(settings, context)


def people(n: int, seed: int = 1) -> list[Candidate]:
    return [Candidate(name=f"学生{i:03d}", id_number=x) for i, x in enumerate(make_ids(n, seed))]


def requests_for(plan: ExamPlan, candidates: list[Candidate]) -> list[RegistrationRequest]:
    return [
        RegistrationRequest(
            idempotency_key=idempotency_key("beifang", plan.code, lookup_hash(c.id_number, b"k")),
            plan=plan,
            candidate=c,
        )
        for c in candidates
    ]


async def read_all(stream: Any) -> tuple[list[Any], list[str | None]]:
    records: list[Any] = []
    cursors: list[str | None] = []
    async for page in stream:
        records.extend(page.records)
        cursors.append(page.next_cursor)
    return records, cursors


def score_truth(sim: BeifangSimulator) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        key: (r.theory, r.practical, r.total, r.passed, r.absent, r.updated_at)
        for key, s in sim.truth.scores.items()
        for r in [s.current]
    }


def score_seen(records: list[ScoreRecord]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (r.plan_code, r.id_number): (
            r.theory,
            r.practical,
            r.total,
            r.passed,
            r.absent,
            r.revised_at,
        )
        for r in records
    }


# ---------------------------------------------------------------- registration


async def test_register_accepts_and_sends_the_idempotency_key(sim: BeifangSimulator) -> None:
    sent: list[httpx.Request] = []
    adapter = make_adapter(sim, sent=sent)
    reqs = requests_for(HGJL2, people(1))
    outcomes = await adapter.register(HGJL2, reqs)
    assert [o.status for o in outcomes] == [RegistrationStatus.ACCEPTED]
    truth = sim.truth.registrations[(HGJL2.code, reqs[0].candidate.id_number)]
    assert outcomes[0].org_registration_id == truth.registration_id
    posts = [r for r in sent if r.method == "POST" and "registrations" in r.url.path]
    assert [p.headers["Idempotency-Key"] for p in posts] == [reqs[0].idempotency_key]

    batch = requests_for(HGJL2, people(6, seed=2))
    outcomes = await adapter.register(HGJL2, batch)
    assert {o.idempotency_key for o in outcomes} == {r.idempotency_key for r in batch}
    assert all(o.status is RegistrationStatus.ACCEPTED for o in outcomes)
    assert sim.truth.registered(HGJL2.code) == {r.candidate.id_number for r in [*reqs, *batch]}


async def test_business_refusals_come_back_as_rejected_outcomes(sim: BeifangSimulator) -> None:
    adapter = make_adapter(sim)
    a, b, c = people(3)
    await adapter.register(HGJL2, requests_for(HGJL2, [a]))
    # a: already in another plan of the same certificate; b: no 中级 certificate for 高级
    outcomes = await adapter.register(HGJL3, requests_for(HGJL3, [a, b]))
    by_key = {o.idempotency_key: o for o in outcomes}
    ra, rb = requests_for(HGJL3, [a, b])
    assert by_key[ra.idempotency_key].status is RegistrationStatus.REJECTED
    assert by_key[ra.idempotency_key].reason_code == "DUPLICATE_IN_OTHER_PLAN"
    assert by_key[rb.idempotency_key].reason_code == "LEVEL_NOT_ALLOWED"
    assert sim.truth.registered(HGJL3.code) == set()

    sim.clock.advance(timedelta(days=12).total_seconds())  # past the 1 December deadline
    [late] = await adapter.register(HGJL2, requests_for(HGJL2, [c]))
    assert (late.status, late.reason_code) == (RegistrationStatus.REJECTED, "DEADLINE_PASSED")
    assert late.reason is not None and c.id_number not in late.reason
    assert sim.truth.registered(HGJL2.code) == {a.id_number}

    unknown = ExamPlan(
        code="BF-2099-NOPE", organization="beifang", certificate_code="HGJL", level=1
    )
    with pytest.raises(RejectedError) as refused:
        await adapter.register(unknown, requests_for(unknown, [c]))
    assert refused.value.code == "PLAN_NOT_FOUND"


async def test_replaying_a_key_registers_once(sim: BeifangSimulator) -> None:
    adapter = make_adapter(sim)
    batch = requests_for(SHJ1, people(5))
    first = await adapter.register(SHJ1, batch)
    second = await adapter.register(SHJ1, batch)
    assert first == second
    assert sim.truth.registration_requests == 2
    assert sim.truth.replayed_items == 5
    assert len(sim.truth.registrations) == 5


async def test_lost_answer_is_settled_by_lookup_not_by_resending(sim: BeifangSimulator) -> None:
    adapter = make_adapter(sim)
    reqs = requests_for(HGJL2, people(2))
    sim.set_faults(FaultPlan(commit_then_drop=1.0, paths=("/v1/plans/",), methods=("POST",)))
    with pytest.raises(OutcomeUnknown):
        await adapter.register(HGJL2, reqs[:1])
    sim.set_faults(None)
    found = await adapter.lookup_registration(HGJL2, reqs[0])
    assert found is not None and found.status is RegistrationStatus.ACCEPTED
    truth = sim.truth.registrations[(HGJL2.code, reqs[0].candidate.id_number)]
    assert found.org_registration_id == truth.registration_id
    assert await adapter.lookup_registration(HGJL2, reqs[1]) is None
    assert sim.truth.registration_requests == 1


# ---------------------------------------------------------------- streams


def seed_people(sim: BeifangSimulator, n: int) -> list[str]:
    ids = make_ids(n, seed=5)
    half = n // 2
    sim.add_registrations(HGJL2.code, [(x, f"甲{i}") for i, x in enumerate(ids[:half])])
    sim.add_registrations(SHJ1.code, [(x, f"乙{i}") for i, x in enumerate(ids[half:])])
    return ids


async def test_full_score_read_equals_ground_truth(sim: BeifangSimulator) -> None:
    seed_people(sim, 120)
    assert sim.grade_all() == 120
    adapter = make_adapter(sim, page_size=25)
    records, cursors = await read_all(adapter.scores(None))
    assert all(isinstance(r, ScoreRecord) for r in records)
    assert len(records) == 120 and len(cursors) == 5 and None not in cursors
    assert score_seen(records) == score_truth(sim)
    # the last cursor is a high-water mark: nothing new, nothing read
    assert await read_all(adapter.scores(cursors[-1])) == ([], [])


async def test_resume_after_corrections_yields_exactly_the_missing_and_updated(
    sim: BeifangSimulator,
) -> None:
    seed_people(sim, 60)
    sim.grade_all()
    adapter = make_adapter(sim, page_size=10)
    stream = adapter.scores(None)
    delivered: list[ScoreRecord] = []
    cursor = None
    for _ in range(2):
        page = await anext(stream)
        delivered.extend(page.records)
        cursor = page.next_cursor
    await stream.aclose()
    delivered_keys = {(r.plan_code, r.id_number) for r in delivered}
    undelivered = set(sim.truth.scores) - delivered_keys
    early = sorted(delivered_keys)[3]
    late = sorted(undelivered)[7]
    sim.correct_score(*early, theory=Decimal("99.5"))
    sim.correct_score(*late, practical=Decimal("12"))

    rest, _ = await read_all(adapter.scores(cursor))
    keys = [(r.plan_code, r.id_number) for r in rest]
    assert len(keys) == len(set(keys))  # nothing twice
    assert set(keys) == undelivered | {early}
    assert score_seen(rest) == {k: v for k, v in score_truth(sim).items() if k in set(keys)}
    assert score_seen(rest)[early][0] == Decimal("99.5")


async def test_certificate_stream_shows_revocations_again(sim: BeifangSimulator) -> None:
    seed_people(sim, 40)
    sim.grade_all()
    issued = sim.issue_passed()
    assert issued
    adapter = make_adapter(sim, page_size=7)
    records, cursors = await read_all(adapter.certificates(None))
    assert {r.number for r in records} == set(sim.truth.certificates)
    assert all(r.status == "valid" for r in records)

    victim = issued[2].number
    sim.revoke(victim, "舞弊 / misconduct")
    again, _ = await read_all(adapter.certificates(cursors[-1]))
    assert [(r.number, r.status, r.revoked_reason) for r in again] == [
        (victim, "revoked", "舞弊 / misconduct")
    ]
    truth = sim.truth.certificates[victim]
    assert again[0].updated_at == truth.updated_at
    assert again[0].id_number == truth.id_number and again[0].level == truth.level


async def test_cursor_since_starts_at_a_moment(sim: BeifangSimulator) -> None:
    seed_people(sim, 10)
    sim.grade_all()
    moment = sim.clock.now() + timedelta(seconds=1)
    ids = sorted(sim.truth.scores)[:2]
    for key in ids:
        sim.correct_score(*key, theory=Decimal("70"))
    adapter = make_adapter(sim)
    records, cursors = await read_all(adapter.scores(adapter.cursor_since("scores", moment)))
    assert sorted((r.plan_code, r.id_number) for r in records) == ids
    assert cursors[-1] is not None and not cursors[-1].startswith("since:")


async def test_malformed_page_is_a_contract_error(sim: BeifangSimulator) -> None:
    seed_people(sim, 4)
    sim.grade_all()
    adapter = make_adapter(sim)
    sim.set_faults(FaultPlan(malformed=1.0, paths=("/v1/scores",)))
    with pytest.raises(ContractError) as caught:
        await read_all(adapter.scores(None))
    assert caught.value.payload is not None and "broken" in caught.value.payload


def test_unmappable_records_become_invalid_without_leaking_the_id() -> None:
    from xgate_beifang import wire

    number = make_ids(1)[0]
    bad = beifang_score(
        number, id=3, certificate={"code": "HGJL", "level": 9}, theory=120, total=90
    )
    mapped = wire.score("beifang", bad)
    assert isinstance(mapped, Invalid) and mapped.payload is bad
    assert "level" in mapped.reason and "theory" in mapped.reason
    assert number not in mapped.reason
    assert isinstance(wire.certificate("beifang", {"number": number}), Invalid)


# ---------------------------------------------------------------- tokens


async def test_token_is_cached_refreshed_early_and_once_after_401(sim: BeifangSimulator) -> None:
    adapter = make_adapter(sim)
    plan_people = requests_for(SHJ1, people(3))
    await adapter.register(SHJ1, plan_people[:1])
    await adapter.lookup_registration(SHJ1, plan_people[0])
    assert sim.hits["token"] == 1

    sim.clock.advance(55)  # token lives 60 s; the adapter renews in the last 10 %
    assert await adapter.lookup_registration(SHJ1, plan_people[0]) is not None
    assert (sim.hits["token"], sim.unauthorized) == (2, 0)

    sim.expire_tokens()  # the organization rotates keys: our cached token is now refused
    assert await adapter.lookup_registration(SHJ1, plan_people[0]) is not None
    assert (sim.hits["token"], sim.unauthorized) == (3, 1)

    sim.expire_tokens()  # a refused write is not processed: refreshed and sent once more
    outcomes = await adapter.register(SHJ1, plan_people[1:])
    assert all(o.status is RegistrationStatus.ACCEPTED for o in outcomes)
    assert (sim.hits["token"], sim.unauthorized) == (4, 2)
    assert len(sim.truth.registrations) == 3


async def test_wrong_credentials_are_an_auth_error_without_the_secret(
    sim: BeifangSimulator,
) -> None:
    adapter = make_adapter(sim, client_secret="not-the-secret-at-all")
    with pytest.raises(AuthError) as caught:
        await adapter.lookup_registration(SHJ1, requests_for(SHJ1, people(1))[0])
    assert "not-the-secret-at-all" not in str(caught.value)
    assert sim.hits["lookup"] == 0


# ---------------------------------------------------------------- issue and verify


def issue_requests(sim: BeifangSimulator, passed: bool, n: int) -> list[IssueRequest]:
    chosen = [
        s
        for s in sorted(sim.truth.scores.values(), key=lambda s: s.seq)
        if s.current.passed is passed and not s.current.absent
    ][:n]
    return [
        IssueRequest(
            idempotency_key=f"xgi-{s.registration_id}",
            plan=HGJL2 if s.plan_code == HGJL2.code else SHJ1,
            candidate=Candidate(name=s.name, id_number=s.id_number),
            org_registration_id=s.registration_id,
        )
        for s in chosen
    ]


async def test_issue_only_for_passed_and_idempotent(sim: BeifangSimulator) -> None:
    seed_people(sim, 30)
    sim.grade_all()
    adapter = make_adapter(sim)
    passed, failed = issue_requests(sim, True, 3), issue_requests(sim, False, 1)
    outcomes = await adapter.issue([*passed, *failed])
    by_key = {o.idempotency_key: o for o in outcomes}
    for r in passed:
        got = by_key[r.idempotency_key]
        assert got.issued and isinstance(got.certificate, CertificateRecord)
        truth = sim.truth.certificate_for(r.org_registration_id or "")
        assert truth is not None and got.certificate.number == truth.number
        assert got.certificate.id_number == r.candidate.id_number
    refused = by_key[failed[0].idempotency_key]
    assert (refused.issued, refused.reason_code) == (False, "NOT_PASSED")
    assert len(sim.truth.certificates) == 3

    again = await adapter.issue(passed[:1])  # another batch, another key: same certificate
    assert again[0].certificate == by_key[passed[0].idempotency_key].certificate
    assert len(sim.truth.certificates) == 3 and sim.truth.issue_requests == 2


async def test_verify(sim: BeifangSimulator) -> None:
    seed_people(sim, 10)
    sim.grade_all()
    cert = sim.issue_passed()[0]
    adapter = make_adapter(sim)
    ok = await adapter.verify(cert.number, cert.holder_name)
    assert (ok.found, ok.status, ok.holder_matches) == (True, "valid", True)
    assert ok.certificate is not None and ok.certificate.id_number == cert.id_number
    wrong = await adapter.verify(cert.number, "冒名者")
    assert wrong.holder_matches is False
    sim.revoke(cert.number, "证书信息有误")
    assert (await adapter.verify(cert.number)).status == "revoked"
    missing = await adapter.verify("BF2026XXXX9999999")
    assert (missing.found, missing.certificate) == (False, None)


# ---------------------------------------------------------------- webhooks


async def test_webhooks_are_delivered_signed_and_parsed(sim: BeifangSimulator) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks/beifang", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sim.webhook_url = f"http://127.0.0.1:{port}/hooks/beifang"
        seed_people(sim, 6)
        sim.grade_all()
        key = sorted(sim.truth.scores)[0]
        sim.correct_score(*key, theory=Decimal("61"))
        await sim.flush_webhooks()
    finally:
        await runner.cleanup()
    assert [status for _, status in sim.webhook_deliveries] == [204, 204]
    adapter = make_adapter(sim)
    graded = await adapter.parse_webhook(*received[0])
    assert score_seen(graded) == {
        k: (r.theory, r.practical, r.total, r.passed, r.absent, r.updated_at)
        for k, s in sim.truth.scores.items()
        for r in [s.revisions[0]]
    }
    [corrected] = await adapter.parse_webhook(*received[1])
    assert isinstance(corrected, ScoreRecord) and corrected.theory == Decimal("61")

    headers, body = received[1]
    with pytest.raises(AuthError, match="does not match"):
        await adapter.parse_webhook(headers, body.replace(b"61", b"91"))
    with pytest.raises(AuthError, match="does not match"):
        await make_adapter(sim, webhook_secret="another-secret").parse_webhook(headers, body)
    sim.clock.advance(3600)  # a correctly signed event replayed an hour later
    with pytest.raises(AuthError, match="window"):
        await adapter.parse_webhook(headers, body)


async def test_revocation_webhook_maps_to_a_revoked_certificate(sim: BeifangSimulator) -> None:
    seed_people(sim, 6)
    sim.grade_all()
    cert = sim.issue_passed()[0]
    sim.revoke(cert.number, "重复发证")
    headers, body = sim.signed_event(sim.webhook_events[-1])
    [record] = await make_adapter(sim).parse_webhook(headers, body)
    assert isinstance(record, CertificateRecord)
    assert (record.number, record.status, record.revoked_reason) == (
        cert.number,
        "revoked",
        "重复发证",
    )


# ---------------------------------------------------------------- whole-batch 4xx answers


class Front(httpx.AsyncBaseTransport):
    """A proxy in front of the simulator. Each registration POST takes the next planned
    answer ``(status, forward)``: with ``forward`` the simulator processes the request first
    and its answer is lost behind the status; without, the simulator never sees it."""

    def __init__(self, answers: list[tuple[int, bool]]) -> None:
        self.answers = answers
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        posted = request.method == "POST" and request.url.path.endswith("/registrations")
        if posted and self.answers:
            status, forward = self.answers.pop(0)
            if forward:
                await request.aread()
                await (await self.inner.handle_async_request(request)).aread()
            return httpx.Response(status, text="<html>proxy says no</html>")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def adapter_behind(sim: BeifangSimulator, front: httpx.AsyncBaseTransport) -> BeifangAdapter:
    sleeper = RecordingSleep()
    http = build_client(
        "beifang",
        FAST,
        base_url=sim.url,
        sleep=sleeper,
        repeatable=SPEC.repeatable,
        transport=front,
    )
    context = AdapterContext(
        organization="beifang",
        http=http,
        logger=logging.getLogger("tests.beifang"),
        sleep=sleeper,
        now=sim.clock.now,
    )
    settings = BeifangSettings(
        base_url=sim.url, client_id=sim.client_id, client_secret=sim.client_secret
    )
    return BeifangAdapter(settings, context)


@pytest.mark.parametrize("status", [400, 404, 413])
async def test_a_batch_refused_before_processing_is_not_sent_not_rejected(
    sim: BeifangSimulator, status: int
) -> None:
    adapter = adapter_behind(sim, Front([(status, False)]))
    with pytest.raises(TransientError) as info:
        await adapter.register(HGJL2, requests_for(HGJL2, people(3)))
    assert not isinstance(info.value, OutcomeUnknown | RejectedError)
    assert info.value.sent is False and f"HTTP {status}" in str(info.value)
    assert sim.truth.registration_requests == 0


@pytest.mark.parametrize("status", [408, 409, 422])
async def test_another_4xx_for_a_batch_is_an_unknown_outcome(
    sim: BeifangSimulator, status: int
) -> None:
    adapter = adapter_behind(sim, Front([(status, True)]))
    with pytest.raises(OutcomeUnknown) as info:
        await adapter.register(HGJL2, requests_for(HGJL2, people(3)))
    assert f"HTTP {status}" in str(info.value)
    assert sim.truth.registration_requests == 1 and len(sim.truth.registrations) == 3


async def test_beifangs_own_invalid_request_does_not_reject_the_candidates(
    sim: BeifangSimulator,
) -> None:
    adapter = make_adapter(sim)
    too_many = requests_for(HGJL2, people(101))  # Beifang takes 1..100 per request
    with pytest.raises(TransientError) as info:
        await adapter.register(HGJL2, too_many)
    assert not isinstance(info.value, OutcomeUnknown | RejectedError)
    assert info.value.sent is False and "INVALID_REQUEST" in str(info.value)
    assert sim.truth.registration_requests == 0 and not sim.truth.registrations

    unknown = ExamPlan(
        code="BF-2099-NOPE", organization="beifang", certificate_code="HGJL", level=1
    )
    with pytest.raises(RejectedError) as refused:  # the documented business refusal still is
        await adapter.register(unknown, requests_for(unknown, people(2)))
    assert refused.value.code == "PLAN_NOT_FOUND"


async def test_the_outbox_keeps_413_and_408_batches_open_and_settles_them(
    tmp_path: Path,
) -> None:
    sim = BeifangSimulator(seed=12)
    # first delivery: a proxy's 413 (never reached Beifang); second: Beifang registered the
    # batch but the proxy answered 408
    front = Front([(413, False), (408, True)])
    async with sim.running():
        conf = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'xgate.db'}",
            organizations={
                "beifang": {
                    "plugin": "beifang",
                    "base_url": sim.url,
                    "client_id": sim.client_id,
                    "client_secret": sim.client_secret,
                    "http": FAST.model_dump(),
                }
            },
        )
        host = load_plugins(lambda: [], extra=[("beifang", xgate_beifang.plugin)])
        candidates = people(3, seed=4)
        async with open_gateway(
            settings=conf, host=host, sleep=RecordingSleep(), transport=front
        ) as gw:
            queued = await enqueue(gw, "beifang", HGJL2, [OutboxItem(c) for c in candidates])
            ids = [q.registration_id for q in queued]
            first = await deliver(gw, "beifang")
            after_413 = {r.status for r in (await statuses(gw, ids)).values()}
            second = await deliver(gw, "beifang")
            after_408 = await statuses(gw, ids)

    assert first.deferred == 3 and first.rejected == 0 and any("413" in e for e in first.errors)
    assert after_413 == {RegistrationStatus.PENDING}
    assert second.rejected == 0 and second.reconciled == 3 and second.unknown == 0
    assert {(r.status, r.org_registration_id) for r in after_408.values()} == {
        (RegistrationStatus.ACCEPTED, reg.registration_id)
        for reg in sim.truth.registrations.values()
    }
    assert len(sim.truth.registrations) == 3
    assert sim.truth.registration_requests == 1  # settled by look-up, never sent again


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("theory", "七十八"),
        ("practical", "66,5"),
        ("total", "NaN"),
        ("theory", [78]),
        ("practical", True),
    ],
)
def test_a_score_that_is_not_a_number_is_quarantined_naming_the_field(
    field: str, value: Any
) -> None:
    from xgate_beifang import wire

    number = make_ids(1)[0]
    item = beifang_score(number, id=3, theory=78.5, practical=66, total=72.25)
    assert isinstance(wire.score("beifang", item), ScoreRecord)
    mapped = wire.score("beifang", {**item, field: value})
    assert isinstance(mapped, Invalid)
    assert mapped.reason == f"score: {field}: not a number"
    assert str(value) not in mapped.reason and number not in mapped.reason
