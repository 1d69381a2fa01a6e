"""Certificates: issuing is idempotent per key, verification answers, webhooks are checked.

The core commits an issue request before sending it and settles an unknown outcome by sending
the *same* request again, so ``issue`` must return the certificate already issued for a key it
has seen, never a second one. ``verify`` answers "not found" as data, not as an exception.
``parse_webhook`` must refuse a delivery whose signature does not match its body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.contract import Capability
from gateway.errors import XgateError
from gateway.masking import mask_id
from gateway.models import (
    CertificateRecord,
    CertificateStatus,
    IssueOutcome,
    IssueRequest,
    ScoreRecord,
    Verification,
)
from gateway.testing.checks.registration import by_key, requests_for
from gateway.testing.harness import KitFailure, Session, call

UNKNOWN_NUMBER = "XGKIT-NO-SUCH-CERTIFICATE-0000"


def _issue_outcomes(
    what: str, answer: Any, requests: Sequence[IssueRequest]
) -> dict[str, IssueOutcome]:
    if isinstance(answer, str | bytes) or not isinstance(answer, Sequence):
        raise KitFailure(
            f"{what} returned {type(answer).__name__}, not a list of IssueOutcome",
            fix="return one gateway.IssueOutcome per request",
            see="issue",
        )
    out = {o.idempotency_key: o for o in answer if isinstance(o, IssueOutcome)}
    if len(out) != len(requests) or len(answer) != len(requests):
        raise KitFailure(
            f"{what} answered {len(out)} IssueOutcome(s) for {len(requests)} requests",
            fix="return one gateway.IssueOutcome per request, with the request's idempotency_key",
            see="issue",
        )
    return out


async def issue_is_idempotent_per_key(session: Session) -> None:
    session.require(Capability.ISSUE)
    sandbox = session.sandbox
    plan = sandbox.plan()
    passed, failed = sandbox.candidates(2)
    org_ids: dict[str, str | None] = {}
    if session.implements(Capability.REGISTER):
        regs = requests_for(session, plan, [passed, failed])
        answer = await call("register()", session.adapter().register(plan, regs))
        outcomes = by_key("register()", answer, regs)
        for r in regs:
            org_ids[r.candidate.id_number] = outcomes[r.idempotency_key].org_registration_id
    await sandbox.grade(plan, [passed], passed=True)
    await sandbox.grade(plan, [failed], passed=False)
    requests = [
        IssueRequest(
            idempotency_key=session.key(plan, c, "issue"),
            plan=plan,
            candidate=c,
            org_registration_id=org_ids.get(c.id_number),
        )
        for c in (passed, failed)
    ]
    first = _issue_outcomes(
        "issue()", await call("issue()", session.adapter().issue(requests)), requests
    )
    good, refused = (first[r.idempotency_key] for r in requests)
    if not good.issued or not isinstance(good.certificate, CertificateRecord):
        raise KitFailure(
            f"issue() for a candidate who passed answered issued={good.issued} "
            f"({good.reason_code}: {good.reason}) without a certificate",
            fix="return IssueOutcome(issued=True, certificate=CertificateRecord(...)); the core "
            "records the certificate from it",
            see="issue",
        )
    if good.certificate.id_number != passed.id_number:
        raise KitFailure(
            f"issue() returned a certificate held by {mask_id(good.certificate.id_number)}, "
            f"not by the candidate {mask_id(passed.id_number)}",
            fix="map the holder's ID number from the organization's answer",
            see="issue",
        )
    if refused.issued or not (refused.reason_code or refused.reason):
        raise KitFailure(
            "issue() for a candidate who failed answered "
            + ("issued=True" if refused.issued else "without reason_code or reason"),
            fix="a refusal is IssueOutcome(issued=False, reason_code=..., reason=...), never an "
            "exception and never a certificate",
            see="issue",
        )
    again = _issue_outcomes(
        "issue() again with the same keys",
        await call("issue() again", session.adapter().issue(requests)),
        requests,
    )
    repeat = again[requests[0].idempotency_key]
    if not repeat.issued or repeat.certificate is None:
        raise KitFailure(
            "issue() sent again with the same idempotency_key did not return the certificate "
            f"issued the first time ({repeat.reason_code}: {repeat.reason})",
            fix="when the organization answers 'already issued', return issued=True with that "
            "certificate: the core resends the same request after an unknown outcome",
            see="issue",
        )
    if repeat.certificate.number != good.certificate.number:
        raise KitFailure(
            "issue() sent again with the same idempotency_key issued a second certificate "
            f"({good.certificate.number}, then {repeat.certificate.number})",
            fix="send the idempotency_key (or the registration id) so the organization "
            "recognises the repeat; issue is idempotent per key",
            see="issue",
        )
    held = sandbox.certificates_of(plan.code, passed.id_number)
    if held is not None and held != 1:
        raise KitFailure(
            f"the organization issued {held} certificates for one request sent twice",
            fix="make the repeated request recognisable to the organization (idempotency key)",
            see="issue",
        )


async def verify_answers(session: Session) -> None:
    session.require(Capability.VERIFY)
    number, holder = await session.sandbox.certificate()
    adapter = session.adapter()
    found = await call("verify(number, holder)", adapter.verify(number, holder))
    if not isinstance(found, Verification):
        raise KitFailure(
            f"verify() returned {type(found).__name__}, not gateway.Verification",
            fix="return gateway.Verification(number=..., found=..., status=...)",
            see="verify",
        )
    if not found.found or found.number != number:
        raise KitFailure(
            f"verify() of a certificate the organization holds answered found={found.found}, "
            f"number={found.number!r}",
            fix="map the organization's answer; number is the number asked about",
            see="verify",
        )
    if found.status is not CertificateStatus.VALID or found.holder_matches is False:
        raise KitFailure(
            f"verify() of a valid certificate with its holder's name answered "
            f"status={found.status}, holder_matches={found.holder_matches}",
            fix="status comes from the organization; holder_matches is True when the name given "
            "matches (None when the organization does not say)",
            see="verify",
        )
    other = await call("verify(number, another name)", adapter.verify(number, holder + "某"))
    if isinstance(other, Verification) and other.holder_matches is True:
        raise KitFailure(
            "verify() says a different holder name matches",
            fix="holder_matches must be False for another name (or None if not checked)",
            see="verify",
        )
    missing = await call("verify(unknown number)", adapter.verify(UNKNOWN_NUMBER, None))
    if not isinstance(missing, Verification) or missing.found:
        raise KitFailure(
            f"verify() of an unknown number answered {missing!r}",
            fix="return Verification(number=..., found=False) when the organization does not "
            "know the number (a 404 is an answer, not an error)",
            see="verify",
        )


async def webhooks_are_checked(session: Session) -> None:
    session.require(Capability.WEBHOOKS)
    headers, body = await session.sandbox.webhook()
    adapter = session.adapter()
    records = await call("parse_webhook()", adapter.parse_webhook(headers, body))
    if isinstance(records, str | bytes) or not isinstance(records, Sequence) or not records:
        raise KitFailure(
            f"parse_webhook() of a delivery with records returned {records!r}",
            fix="return the canonical records the event carries",
            see="webhooks",
        )
    wrong = [
        type(r).__name__ for r in records if not isinstance(r, ScoreRecord | CertificateRecord)
    ]
    if wrong:
        raise KitFailure(
            f"parse_webhook() returned {', '.join(sorted(set(wrong)))} among its records",
            fix="return gateway.ScoreRecord / gateway.CertificateRecord objects",
            see="webhooks",
        )
    tampered = body + b" "
    try:
        accepted = await adapter.parse_webhook(headers, tampered)
    except XgateError:
        return
    except Exception as exc:
        raise KitFailure(
            f"parse_webhook() of a tampered delivery raised {type(exc).__name__}: {exc}",
            fix="refuse a bad signature with gateway.AuthError",
            see="webhooks",
        ) from None
    raise KitFailure(
        f"parse_webhook() accepted a delivery whose body changed after signing "
        f"({len(accepted)} records)",
        fix="verify the organization's signature over the exact body before parsing; raise "
        "gateway.AuthError when it does not match",
        see="webhooks",
    )
