"""The adapter: Example Org's HTTP API behind xgate's organization contract.

Every request goes through ``context.http``, the client xgate built for this organization: it
retries what is safe to retry, turns 401/403 into ``AuthError`` and lost answers to writes into
``OutcomeUnknown``, limits the rate and masks its log lines. So this code only maps answers and
lets those errors propagate. Writes carry an ``Idempotency-Key``: that makes them retryable,
and Example Org answers a repeated key (or a repeated person and plan) with the registration
it already made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from gateway import (
    AdapterContext,
    CertificateRecord,
    ContractError,
    ExamPlan,
    Invalid,
    IssueOutcome,
    IssueRequest,
    OutcomeUnknown,
    Page,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    RejectedError,
    ScoreRecord,
    TransientError,
    Verification,
    mask_text,
)
from xgate_example_org import wire
from xgate_example_org.settings import ExampleOrgSettings

R = TypeVar("R", ScoreRecord, CertificateRecord)


class ExampleOrgAdapter:
    def __init__(self, settings: ExampleOrgSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.http = context.http
        self.log = context.logger
        self.organization = context.organization
        self.auth = {"X-Api-Key": settings.api_key.get_secret_value()}

    # registration -----------------------------------------------------------------------------

    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationOutcome]:
        self.log.debug(
            "%s: registering %d candidate(s) for %s", self.organization, len(requests), plan.code
        )
        response = await self.http.post(
            "/v2/registrations",
            json={"plan": plan.code, "candidates": [wire.candidate(r) for r in requests]},
            headers={**self.auth, "Idempotency-Key": wire.batch_key(requests)},
        )
        if 400 <= response.status_code < 500:  # refused as a whole: nothing was registered
            code, message = self._error(response)
            raise RejectedError(
                f"plan {plan.code}: {message}",
                code=code,
                organization=self.organization,
            )
        data = self._answer(response, "register", write=True)
        results = _by_ref(data)
        # A request missing from the answer is left out: xgate looks it up (reconciliation).
        return [
            wire.registration_outcome(r.idempotency_key, results[r.idempotency_key])
            for r in requests
            if r.idempotency_key in results
        ]

    async def lookup_registration(
        self, plan: ExamPlan, request: RegistrationRequest
    ) -> RegistrationOutcome | None:
        person = wire.person_ref(request.candidate.id_number)
        response = await self.http.get(
            f"/v2/registrations/{quote(plan.code, safe='')}/{person}", headers=self.auth
        )
        if response.status_code == 404:
            return None  # certainly not registered: xgate may send the registration again
        data = self._answer(response, "lookup")
        return RegistrationOutcome(
            idempotency_key=request.idempotency_key,
            status=RegistrationStatus.ACCEPTED,
            org_registration_id=str(data["registration_no"]),
        )

    # streams ----------------------------------------------------------------------------------

    def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]:
        return self._stream("/v2/results", cursor, wire.score)

    def certificates(self, cursor: str | None) -> AsyncIterator[Page[CertificateRecord]]:
        return self._stream("/v2/certificates", cursor, wire.certificate)

    async def _stream(
        self, path: str, cursor: str | None, convert: Callable[[str, Any], R | Invalid]
    ) -> AsyncIterator[Page[R]]:
        """Pages after ``cursor``; each page's cursor is the high-water mark of its last item,
        so xgate can resume after any page, tonight or after a crash."""
        while True:
            params: dict[str, Any] = {"size": self.settings.page_size}
            if cursor:
                params["after"] = cursor
            response = await self.http.get(path, params=params, headers=self.auth)
            data = self._answer(response, path)
            items, more = data.get("items"), data.get("more")
            if not isinstance(items, list) or not isinstance(more, bool):
                raise ContractError(
                    f"{path}: a page needs 'items' and 'more'",
                    payload=data,
                    organization=self.organization,
                )
            if not items:
                return  # nothing after the cursor, for now
            try:
                cursor = wire.position(items[-1])
            except (KeyError, TypeError, ValueError):
                raise ContractError(
                    f"{path}: the last item has no changed_at/seq",
                    payload=data,
                    organization=self.organization,
                ) from None
            yield Page(records=[convert(self.organization, i) for i in items], next_cursor=cursor)
            if not more:
                return

    # certificates -----------------------------------------------------------------------------

    async def issue(self, requests: Sequence[IssueRequest]) -> list[IssueOutcome]:
        body = {
            "requests": [
                {
                    "ref": r.idempotency_key,
                    "plan": r.plan.code,
                    "id_number": r.candidate.id_number,
                    "registration_no": r.org_registration_id,
                }
                for r in requests
            ]
        }
        response = await self.http.post(
            "/v2/certificates/issue",
            json=body,
            headers={**self.auth, "Idempotency-Key": wire.batch_key(requests)},
        )
        data = self._answer(response, "issue", write=True)
        results = _by_ref(data)
        outcomes = []
        for r in requests:
            item = results.get(r.idempotency_key)
            if item is None:
                continue  # unknown: xgate sends the same request again later
            if item.get("status") == "issued":
                cert = wire.certificate(self.organization, item.get("certificate"))
                if isinstance(cert, Invalid):
                    raise ContractError(
                        f"issue: {cert.reason}",
                        payload=item,
                        organization=self.organization,
                    )
                outcomes.append(
                    IssueOutcome(idempotency_key=r.idempotency_key, issued=True, certificate=cert)
                )
            else:
                outcomes.append(
                    IssueOutcome(
                        idempotency_key=r.idempotency_key,
                        issued=False,
                        reason_code=str(item.get("code") or "REFUSED"),
                        reason=mask_text(str(item.get("message") or "")) or None,
                    )
                )
        return outcomes

    async def verify(self, number: str, holder_name: str | None = None) -> Verification:
        params = {"holder": holder_name} if holder_name else {}
        response = await self.http.get(
            f"/v2/certificates/{quote(number, safe='')}", params=params, headers=self.auth
        )
        if response.status_code == 404:
            return Verification(number=number, found=False)
        data = self._answer(response, "verify")
        cert = wire.certificate(self.organization, data.get("certificate"))
        if isinstance(cert, Invalid):
            raise ContractError(
                f"verify: {cert.reason}",
                payload=data,
                organization=self.organization,
            )
        matches = data.get("holder_ok")
        return Verification(
            number=number,
            found=True,
            status=cert.status,
            holder_matches=matches if isinstance(matches, bool) else None,
            certificate=cert,
        )

    # answers ----------------------------------------------------------------------------------

    def _error(self, response: httpx.Response) -> tuple[str, str]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("code") or f"HTTP_{response.status_code}")
        return code, mask_text(str(body.get("message") or code))

    def _answer(self, response: httpx.Response, what: str, *, write: bool = False) -> Any:
        """The JSON object of a successful answer.

        After a write, anything else means the organization may have acted: ``OutcomeUnknown``
        (xgate reconciles by look-up). After a read, a server error is transient (the stream
        resumes from its checkpoint next run) and a malformed body is a ``ContractError``.
        """
        where = f"{what}: HTTP {response.status_code}"
        try:
            data = response.json() if response.status_code == 200 else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
        if write:
            raise OutcomeUnknown(f"{where}: no usable answer", organization=self.organization)
        if response.status_code >= 500:
            raise TransientError(where, organization=self.organization)
        raise ContractError(
            f"{where}: not the documented answer",
            payload=response.text[:2000],
            organization=self.organization,
        )


def _by_ref(data: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    """An answer's results by the ``ref`` (idempotency key) we sent with each item."""
    return {item.get("ref"): item for item in data.get("results", []) if isinstance(item, dict)}
