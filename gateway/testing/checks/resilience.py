"""Transient faults: what the core's HTTP layer retries, the plugin must survive unchanged.

Every other request fails its first attempt (503, 502, 429, connection refused, connection
reset; writes only "refused", which cannot have reached the organization). With the core's
client that costs nothing but retries, so a plugin that uses ``context.http`` and lets its
errors propagate delivers exactly what it delivers on a quiet network. A plugin with its own
client, or one that turns the first error into an empty page or a refusal, does not.
"""

from __future__ import annotations

from gateway.contract import Capability
from gateway.testing.checks.registration import by_key, held_once, requests_for
from gateway.testing.harness import KitFailure, KitSkip, Session, call
from gateway.testing.reading import describe_keys, read_stream, stamp

SITUATION = " under injected faults the core's HTTP layer retries"


async def transient_faults_are_survived(session: Session) -> None:
    sandbox = session.sandbox
    if not sandbox.uses_http:
        raise KitSkip("the sandbox does not use HTTP (Sandbox.uses_http is False)")
    streams = [
        c.value for c in (Capability.SCORES, Capability.CERTIFICATES) if session.implements(c)
    ]
    registers = session.implements(Capability.REGISTER)
    if not streams and not registers:
        raise KitSkip("no stream and no registration to exercise")
    flaky = session.build(flaky=True)
    if streams:
        await sandbox.seed(sandbox.seed_size)
    for stream in streams:
        quiet = (await read_stream(session, session.adapter(), stream, None)).latest()
        noisy = (
            await read_stream(session, flaky.adapter, stream, None, situation=SITUATION)
        ).latest()
        missing = [k for k in quiet if k not in noisy or stamp(noisy[k]) < stamp(quiet[k])]
        if missing:
            raise KitFailure(
                f"{stream}: under injected transient faults a full read lost {len(missing)} "
                "record(s) a quiet read delivers: " + describe_keys(missing),
                fix="do not turn a failed request into an empty page or a short stream; let "
                "the HTTP layer retry, and let its error propagate when it gives up",
                see="errors",
            )
    if registers:
        plan = sandbox.plan()
        requests = requests_for(session, plan, sandbox.candidates(3))
        answer = await call(
            "register() under injected transient faults",
            flaky.adapter.register(plan, requests),
            fix="use context.http for every request and let its errors propagate",
        )
        outcomes = by_key("register() under injected transient faults", answer, requests)
        refused = [o for o in outcomes.values() if o.status.value != "accepted"]
        if refused:
            raise KitFailure(
                f"under injected transient faults register() answered {len(refused)} "
                f"candidate(s) {refused[0].status.value} ({refused[0].reason_code})",
                fix="a transient failure is not a refusal: let the HTTP layer retry and raise",
                see="errors",
            )
        held_once(session, plan, requests)
    if flaky.faults.requests == 0:
        raise KitFailure(
            "no request went through context.http (the client the core built)",
            fix="make every request with context.http: retries, limits, idempotency and masked "
            "logging live there; never build your own httpx client",
            see="http",
        )
