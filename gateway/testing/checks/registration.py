"""Registration: one registration per candidate and plan, whatever is sent twice or lost.

The outbox gives every (organization, plan, person) a stable ``idempotency_key``, commits the
intent before sending, and after a lost answer asks ``lookup_registration`` instead of sending
again; it resends only when the look-up says "certainly not registered". These checks replay
exactly that with new adapter instances (a restarted process) and, when the sandbox knows its
ground truth, count the registrations the organization really holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.contract import Capability
from gateway.errors import AuthError, RejectedError, TransientError
from gateway.masking import mask_id
from gateway.models import (
    Candidate,
    ExamPlan,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
)
from gateway.testing.harness import KitFailure, KitSkip, Session, call

ACCEPTED = RegistrationStatus.ACCEPTED
REJECTED = RegistrationStatus.REJECTED


def requests_for(
    session: Session, plan: ExamPlan, people: Sequence[Candidate]
) -> list[RegistrationRequest]:
    return [
        RegistrationRequest(idempotency_key=session.key(plan, c), plan=plan, candidate=c)
        for c in people
    ]


def by_key(
    what: str, answer: Any, requests: Sequence[RegistrationRequest], *, complete: bool = True
) -> dict[str, RegistrationOutcome]:
    """The answer as outcomes by idempotency key, after checking its shape."""
    if isinstance(answer, str | bytes) or not isinstance(answer, Sequence):
        raise KitFailure(
            f"{what} returned {type(answer).__name__}, not a list of RegistrationOutcome",
            fix="return one gateway.RegistrationOutcome per request",
            see="registration",
        )
    keys = {r.idempotency_key for r in requests}
    out: dict[str, RegistrationOutcome] = {}
    for item in answer:
        if not isinstance(item, RegistrationOutcome):
            raise KitFailure(
                f"{what} returned a {type(item).__name__} among its outcomes",
                fix="return gateway.RegistrationOutcome objects",
                see="registration",
            )
        if item.idempotency_key not in keys:
            raise KitFailure(
                f"{what} returned an outcome for an idempotency_key it was not given",
                fix="copy each request's idempotency_key into its outcome",
                see="registration",
            )
        out[item.idempotency_key] = item
    if complete and len(out) < len(keys):
        raise KitFailure(
            f"{what} answered {len(out)} of {len(keys)} requests from a healthy sandbox (the "
            "core would mark the others unknown and look them up)",
            fix="return an outcome for every request the organization answered",
            see="registration",
        )
    return out


def _who(request: RegistrationRequest) -> str:
    return mask_id(request.candidate.id_number)


def _require_accepted(what: str, outcomes: dict[str, RegistrationOutcome], again: bool) -> None:
    for outcome in outcomes.values():
        if outcome.status is not ACCEPTED:
            fix = (
                "when the organization answers 'already registered', return accepted with the "
                "existing registration id: after a lost answer the outbox resends, and a "
                "rejection would wrongly drop a registered candidate"
                if again
                else "Sandbox.candidates() must be acceptable for Sandbox.plan(); if they are, "
                "the adapter maps the organization's success as a refusal"
            )
            raise KitFailure(
                f"{what}: a candidate came back {outcome.status.value} "
                f"({outcome.reason_code}: {outcome.reason})",
                fix=fix,
                see="registration",
            )


def held_once(session: Session, plan: ExamPlan, requests: Sequence[RegistrationRequest]) -> None:
    for r in requests:
        held = session.sandbox.registrations(plan.code, r.candidate.id_number)
        if held is not None and held != 1:
            raise KitFailure(
                f"the organization holds {held} registrations of {_who(r)} for plan {plan.code} "
                "after the same request (same idempotency_key) was handled twice",
                fix="send the idempotency_key to the organization (an Idempotency-Key header, or "
                "a field it de-duplicates by) or treat its 'already registered' answer as "
                "success; never create a second registration",
                see="idempotent-registration",
            )


async def _lookup_all(
    session: Session, adapter: Any, plan: ExamPlan, requests: Sequence[RegistrationRequest]
) -> dict[str, RegistrationOutcome | None]:
    found: dict[str, RegistrationOutcome | None] = {}
    for r in requests:
        answer = await call(
            f"lookup_registration(plan, {_who(r)})", adapter.lookup_registration(plan, r)
        )
        if answer is not None and not isinstance(answer, RegistrationOutcome):
            raise KitFailure(
                f"lookup_registration returned {type(answer).__name__}",
                fix="return a gateway.RegistrationOutcome, or None when not registered",
                see="registration",
            )
        found[r.idempotency_key] = answer
    return found


async def registration_is_idempotent(session: Session) -> None:
    session.require(Capability.REGISTER)
    sandbox = session.sandbox
    plan = sandbox.plan()
    requests = requests_for(session, plan, sandbox.candidates(3))
    first_adapter = session.adapter()
    before = await _lookup_all(session, first_adapter, plan, requests)
    if any(o is not None and o.status is ACCEPTED for o in before.values()):
        raise KitFailure(
            "lookup_registration reports people never registered as accepted",
            fix="return None when the organization does not know the candidate for this plan; "
            "the outbox then sends the registration",
            see="idempotent-registration",
        )
    first = by_key(
        "register()", await call("register()", first_adapter.register(plan, requests)), requests
    )
    _require_accepted("register()", first, again=False)
    second_adapter = session.adapter()  # another process, after a crash: no memory of the first
    second = by_key(
        "register() again with the same idempotency keys",
        await call("register() again", second_adapter.register(plan, requests)),
        requests,
    )
    _require_accepted("register() again with the same idempotency keys", second, again=True)
    for r in requests:
        a = first[r.idempotency_key].org_registration_id
        b = second[r.idempotency_key].org_registration_id
        if a and b and a != b:
            raise KitFailure(
                f"registering {_who(r)} twice under the same idempotency_key created a second "
                f"registration at the organization ({a}, then {b})",
                fix="send the idempotency_key to the organization (an Idempotency-Key header, or "
                "a field it de-duplicates by), or look the candidate up before creating; one "
                "candidate, plan and key must always give the same registration",
                see="idempotent-registration",
            )
    held_once(session, plan, requests)
    after = await _lookup_all(session, session.adapter(), plan, requests)
    for r in requests:
        found = after[r.idempotency_key]
        if found is None or found.status is not ACCEPTED:
            raise KitFailure(
                f"lookup_registration does not find {_who(r)}, registered (accepted) just before",
                fix="look the candidate up the way the organization identifies them (plan + ID "
                "number, or your idempotency key); the outbox relies on it after lost answers",
                see="idempotent-registration",
            )
        expected = first[r.idempotency_key].org_registration_id
        if expected and found.org_registration_id and found.org_registration_id != expected:
            raise KitFailure(
                f"lookup_registration finds registration {found.org_registration_id} for "
                f"{_who(r)}, register() answered {expected}",
                fix="return the organization's registration id for the same registration",
                see="idempotent-registration",
            )


async def lost_answer_never_registers_twice(session: Session) -> None:
    session.require(Capability.REGISTER)
    sandbox = session.sandbox
    if not sandbox.uses_http:
        raise KitSkip("the sandbox does not use HTTP (Sandbox.uses_http is False)")
    plan = sandbox.plan()
    requests = requests_for(session, plan, sandbox.candidates(2))
    built = session.build()
    await _lookup_all(session, built.adapter, plan, requests)  # also fetches any token first
    built.faults.lose_answers = 1
    settled: dict[str, RegistrationOutcome] = {}
    resend_all = False
    try:
        answer = await built.adapter.register(plan, requests)
    except TransientError as exc:  # OutcomeUnknown (sent) or a failure before sending
        resend_all = not exc.sent
    except AuthError as exc:
        raise KitFailure(f"register() raised AuthError after a lost answer: {exc}") from None
    except Exception as exc:
        raise KitFailure(
            f"register() raised {type(exc).__name__} when the answer to its request was lost: "
            f"{exc}",
            fix="let the HTTP layer's OutcomeUnknown propagate (or raise OutcomeUnknown when "
            "the organization may have acted); the outbox then settles it by look-up",
            see="errors",
        ) from None
    else:
        settled = by_key("register() after a lost answer", answer, requests, complete=False)
        _require_accepted("register() after a lost (and retried) answer", settled, again=True)
    if not built.faults.injected:
        raise KitFailure(
            "register() sent no write through context.http, so the kit could not lose its answer",
            fix="make every request with context.http (the client the core built): retries, "
            "idempotency and masking live there",
            see="http",
        )
    # what the outbox does next, in a new process
    recovering = session.adapter()
    for r in requests:
        if r.idempotency_key in settled:
            continue
        found = None
        if not resend_all:
            found = await call(
                "lookup_registration() after a lost answer",
                recovering.lookup_registration(plan, r),
            )
        if found is None:  # certainly not registered: the outbox sends again
            again = by_key(
                "register() resent by the outbox",
                await call("register() resent", recovering.register(plan, [r])),
                [r],
            )
            _require_accepted("register() resent by the outbox", again, again=True)
    _truth_after_loss(session, plan, requests, resend_all)
    final = await _lookup_all(session, session.adapter(), plan, requests)
    for r in requests:
        found = final[r.idempotency_key]
        if found is None or found.status is not ACCEPTED:
            raise KitFailure(
                f"after a lost answer and the outbox's recovery, lookup_registration does not "
                f"find {_who(r)} registered",
                fix="lookup_registration must find what register() created",
                see="idempotent-registration",
            )


def _truth_after_loss(
    session: Session, plan: ExamPlan, requests: Sequence[RegistrationRequest], resend_all: bool
) -> None:
    for r in requests:
        held = session.sandbox.registrations(plan.code, r.candidate.id_number)
        if held is not None and held != 1:
            cause = (
                "register() reported the request as not sent (TransientError(sent=False)) "
                "although the organization had processed it, so the outbox sent it again"
                if resend_all
                else "lookup_registration did not find the registration the lost request made, "
                "so the outbox sent it again"
            )
            raise KitFailure(
                f"after one lost answer the organization holds {held} registrations of "
                f"{_who(r)}: {cause}",
                fix="let the HTTP layer's OutcomeUnknown propagate, make lookup_registration "
                "find every registration register() makes, and send the idempotency_key",
                see="idempotent-registration",
            )


async def refusals_are_outcomes(session: Session) -> None:
    session.require(Capability.REGISTER)
    refusal = await session.sandbox.refusal()
    if refusal is None:
        raise KitSkip("Sandbox.refusal() returns None: no business refusal to test")
    plan, refused = refusal
    good = session.sandbox.candidates(1)[0]
    requests = requests_for(session, plan, [good, refused])
    adapter = session.adapter()
    try:
        answer = await adapter.register(plan, requests)
    except RejectedError as exc:
        raise KitFailure(
            f"register() raised RejectedError ({exc.code}) for a batch of 2 in which the "
            "organization refused one candidate; the core would mark both rejected",
            fix="return RegistrationOutcome(status=REJECTED, reason_code=..., reason=...) for "
            "the refused candidate and the normal outcome for the others; raise RejectedError "
            "only when the organization refuses the whole batch (an unknown plan)",
            see="refusals",
        ) from None
    except Exception as exc:
        raise KitFailure(
            f"register() raised {type(exc).__name__} when the organization refused one "
            f"candidate: {exc}",
            fix="map the organization's refusal to a rejected RegistrationOutcome",
            see="refusals",
        ) from None
    outcomes = by_key("register() with one refusal", answer, requests)
    ok, no = outcomes[requests[0].idempotency_key], outcomes[requests[1].idempotency_key]
    if ok.status is not ACCEPTED:
        raise KitFailure(
            f"the acceptable candidate of the batch came back {ok.status.value} "
            f"({ok.reason_code}) because another was refused",
            fix="give each candidate the outcome the organization gave it",
            see="refusals",
        )
    if no.status is not REJECTED:
        raise KitFailure(
            "the organization refused a candidate (Sandbox.refusal()) but register() answered "
            f"{no.status.value}",
            fix="map the organization's refusal codes to status=REJECTED",
            see="refusals",
        )
    if not (no.reason_code or no.reason):
        raise KitFailure(
            "a rejected outcome carries neither reason_code nor reason; staff cannot tell why",
            fix="copy the organization's refusal code into reason_code and its message into "
            "reason (masked: gateway.masking.mask_text)",
            see="refusals",
        )
    found = await call(
        "lookup_registration() of a refused candidate",
        adapter.lookup_registration(plan, requests[1]),
    )
    if found is not None and found.status is ACCEPTED:
        raise KitFailure(
            "lookup_registration reports a refused candidate as accepted",
            fix="return None (or a rejected outcome) for someone the organization refused",
            see="refusals",
        )
