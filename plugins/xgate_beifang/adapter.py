"""The Beifang adapter: registration, score and certificate streams, issue, verify, webhooks.

Cursors: Beifang's own cursor is a high-water mark on (``updated_at``, ``id``), so a correction
or revocation made after we read a record moves that record *past* the mark and it comes back
in a later read. The adapter yields that cursor with every page, including the last, so a
resumed or next-night read starts exactly after the last record the core committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
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
    RejectedError,
    ScoreRecord,
    TransientError,
    Verification,
    mask_text,
)
from xgate_beifang import webhooks, wire
from xgate_beifang.api import BeifangApi, error_code
from xgate_beifang.settings import BeifangSettings

R = TypeVar("R", ScoreRecord, CertificateRecord)
#: Whole-batch answers that are Beifang's business refusal of every candidate in it (status ->
#: ``error.code``): the plan does not exist, so nothing was registered and nothing ever will be.
BATCH_REFUSALS = {404: "PLAN_NOT_FOUND"}
#: 4xx statuses by which a request is refused before anything in it is evaluated: malformed or
#: too large (Beifang's ``400 INVALID_REQUEST``, more than 100 items; a proxy's 413), no such
#: route. Nothing was registered, yet the candidates are not at fault: they go back to pending.
#: Any other 4xx (408, 409, 422, ...) may come after the organization acted: outcome unknown.
NOT_PROCESSED = frozenset({400, 404, 405, 411, 413, 414, 415, 431})
#: Marks a cursor made by ``cursor_since``; Beifang's own cursors are base64url, never ``:``.
SINCE_PREFIX = "since:"


def batch_key(keys: Sequence[str]) -> str:
    """The ``Idempotency-Key`` of a request: the item's own key for one item, otherwise a
    digest of the item keys, so a retried batch replays and a different batch does not."""
    if len(keys) == 1:
        return keys[0]
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
    return f"batch-{digest[:40]}"


class BeifangAdapter:
    def __init__(self, settings: BeifangSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        self.organization = context.organization
        self.api = BeifangApi(
            context.http,
            organization=context.organization,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            now=context.now,
        )
        self.log = context.logger
        self.duplicates_dropped = 0

    # ------------------------------------------------------------------ registration

    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationOutcome]:
        keys = [r.idempotency_key for r in requests]
        response = await self.api.call(
            "POST",
            f"/v1/plans/{quote(plan.code, safe='')}/registrations",
            operation="register",
            write=True,
            headers={"Idempotency-Key": batch_key(keys)},
            json={"candidates": [wire.candidate(r) for r in requests]},
        )
        self._refused_batch(plan, response)
        self.api.raise_for_status(response, write=True, what="register")
        body = self.api.body(response, write=True, what="register")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):  # it may have been processed: reconcile, never resend
            raise OutcomeUnknown(
                f"{self.organization}: register: the answer has no results list",
                organization=self.organization,
            )
        outcomes: list[RegistrationOutcome] = []
        for index, item in enumerate(results):
            if not isinstance(item, Mapping):
                continue
            key = item.get("idempotency_key")
            if key not in keys:  # fall back on position when the key is not echoed
                position = item.get("index", index)
                key = keys[position] if isinstance(position, int) and position < len(keys) else None
            if key is None:
                continue
            try:
                outcomes.append(wire.registration_outcome(key, item))
            except wire.WireError as exc:  # unknown for this one: the core reconciles it
                self.log.warning("%s: register: %s", self.organization, wire.describe(exc))
        return outcomes

    def _refused_batch(self, plan: ExamPlan, response: httpx.Response) -> None:
        """A 4xx for the whole batch (401/403 and 429 are handled by the token layer and the
        core). Only Beifang's documented business refusal rejects the candidates; a request
        refused before processing goes back to pending; anything else may have been processed,
        so the core settles it by look-up (docs/organizations/beifang.md, "Whole-request
        errors")."""
        status = response.status_code
        if not 400 <= status < 500 or status == 429:
            return
        code, message = error_code(response)
        where = f"{self.organization}: register for plan {plan.code}: HTTP {status} {code}"
        where = f"{where.rstrip()}: {message}" if message else where.rstrip()
        if status in BATCH_REFUSALS and code == BATCH_REFUSALS[status]:
            raise RejectedError(where, code=code, organization=self.organization)
        if status in NOT_PROCESSED:
            raise TransientError(
                f"{where}; refused before processing, nothing was registered",
                organization=self.organization,
                sent=False,
            )
        raise OutcomeUnknown(f"{where}; the outcome is unknown", organization=self.organization)

    async def lookup_registration(
        self, plan: ExamPlan, request: RegistrationRequest
    ) -> RegistrationOutcome | None:
        ref = hashlib.sha256(request.candidate.id_number.upper().encode()).hexdigest()
        response = await self.api.call(
            "GET",
            f"/v1/plans/{quote(plan.code, safe='')}/registrations/{ref}",
            operation="lookup",
        )
        if response.status_code == 404:
            code, message = error_code(response)
            if code == "PLAN_NOT_FOUND":
                raise RejectedError(
                    f"{self.organization}: plan {plan.code}: {message or code}",
                    code=code,
                    organization=self.organization,
                )
            return None
        self.api.raise_for_status(response, write=False, what="lookup")
        body = self.api.body(response, write=False, what="lookup")
        reg_id = body.get("registration_id") if isinstance(body, dict) else None
        if not isinstance(reg_id, str) or not reg_id:
            raise ContractError(
                f"{self.organization}: lookup: the answer has no registration_id",
                payload=body,
                organization=self.organization,
            )
        return wire.registration_outcome(
            request.idempotency_key, {"status": "accepted", "registration_id": reg_id}
        )

    # ------------------------------------------------------------------ streams

    def cursor_since(self, stream: str, since: datetime) -> str:
        """A cursor that starts ``stream`` at ``since`` (Beifang's ``updated_since``), for
        ``xgate sync --since``; Beifang's own cursors stay opaque to us."""
        if stream not in ("scores", "certificates"):
            raise ValueError(f"unknown stream {stream!r}")
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        return SINCE_PREFIX + since.isoformat()

    def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]:
        return self._stream("/v1/scores", cursor, wire.score)

    def certificates(self, cursor: str | None) -> AsyncIterator[Page[CertificateRecord]]:
        return self._stream("/v1/certificates", cursor, wire.certificate)

    async def _stream(
        self,
        path: str,
        cursor: str | None,
        convert: Callable[[str, Any], R | Invalid],
    ) -> AsyncIterator[Page[R]]:
        """Pages after ``cursor`` until the organization has no more.

        A record repeated from the page before (organizations re-read an overlap) is dropped
        by its (id, updated_at); records are put back in stream order within a page.
        """
        previous: set[tuple[str, str]] = set()
        while True:
            params = {"limit": str(self.settings.page_size)}
            if cursor and cursor.startswith(SINCE_PREFIX):
                params["updated_since"] = cursor[len(SINCE_PREFIX) :]
            elif cursor:
                params["cursor"] = cursor
            response = await self.api.call("GET", path, operation="stream", params=params)
            self.api.raise_for_status(response, write=False, what=path)
            body = self.api.body(response, write=False, what=path)
            data, next_cursor, has_more = self._page_shape(path, body)
            if data and next_cursor is None:
                raise ContractError(
                    f"{self.organization}: {path}: a page with records has no next_cursor",
                    payload=body,
                    organization=self.organization,
                )
            seen: set[tuple[str, str]] = set()
            good: list[R] = []
            bad: list[Invalid] = []
            for item in data:
                mark = (
                    (str(item.get("id")), str(item.get("updated_at")))
                    if isinstance(item, Mapping)
                    else None
                )
                if mark is not None and (mark in previous or mark in seen):
                    self.duplicates_dropped += 1
                    continue
                if mark is not None:
                    seen.add(mark)
                record = convert(self.organization, item)
                if isinstance(record, Invalid):
                    bad.append(record)
                else:
                    good.append(record)
            good.sort(key=wire.order_key)
            if data:
                records: list[R | Invalid] = list(good)
                records.extend(bad)
                yield Page(records=records, next_cursor=next_cursor, raw_size=len(response.content))
            if not has_more:
                return
            if not next_cursor or next_cursor == cursor:
                raise ContractError(
                    f"{self.organization}: {path}: has_more without a new cursor",
                    payload=body,
                    organization=self.organization,
                )
            cursor, previous = next_cursor, seen

    def _page_shape(self, path: str, body: Any) -> tuple[list[Any], str | None, bool]:
        if (
            isinstance(body, dict)
            and isinstance(body.get("data"), list)
            and isinstance(body.get("has_more"), bool)
            and (body.get("next_cursor") is None or isinstance(body.get("next_cursor"), str))
        ):
            return body["data"], body.get("next_cursor"), body["has_more"]
        raise ContractError(
            f"{self.organization}: {path}: the page does not have data, next_cursor, has_more",
            payload=body,
            organization=self.organization,
        )

    # ------------------------------------------------------------------ certificates

    async def issue(self, requests: Sequence[IssueRequest]) -> list[IssueOutcome]:
        keys = [r.idempotency_key for r in requests]
        items = [
            {
                "idempotency_key": r.idempotency_key,
                "plan": r.plan.code,
                "id_number": r.candidate.id_number,
                **({"registration_id": r.org_registration_id} if r.org_registration_id else {}),
            }
            for r in requests
        ]
        response = await self.api.call(
            "POST",
            "/v1/certificates/issue",
            operation="issue",
            write=True,
            headers={"Idempotency-Key": batch_key(keys)},
            json={"requests": items},
        )
        self.api.raise_for_status(response, write=True, what="issue")
        body = self.api.body(response, write=True, what="issue")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise OutcomeUnknown(
                f"{self.organization}: issue: the answer has no results list",
                organization=self.organization,
            )
        outcomes = []
        for index, item in enumerate(results):
            if not isinstance(item, Mapping):
                continue
            key = item.get("idempotency_key")
            if key not in keys:
                key = keys[index] if index < len(keys) else None
            if key is None:
                continue
            outcomes.append(self._issue_outcome(key, item))
        return outcomes

    def _issue_outcome(self, key: str, item: Mapping[str, Any]) -> IssueOutcome:
        if item.get("status") == "issued":
            cert = wire.certificate(self.organization, item.get("certificate"))
            if isinstance(cert, Invalid):
                raise ContractError(
                    f"{self.organization}: issue: {cert.reason}",
                    payload=item,
                    organization=self.organization,
                )
            return IssueOutcome(idempotency_key=key, issued=True, certificate=cert)
        raw = item.get("error")
        error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        return IssueOutcome(
            idempotency_key=key,
            issued=False,
            reason_code=str(error.get("code") or "REFUSED"),
            reason=mask_text(str(error.get("message") or "")) or None,
        )

    async def verify(self, number: str, holder_name: str | None = None) -> Verification:
        params = {"holder_name": holder_name} if holder_name is not None else {}
        response = await self.api.call(
            "GET",
            f"/v1/certificates/{quote(number, safe='')}/verify",
            operation="verify",
            params=params,
        )
        if response.status_code == 404:
            return Verification(number=number, found=False)
        self.api.raise_for_status(response, write=False, what="verify")
        body = self.api.body(response, write=False, what="verify")
        if not isinstance(body, dict) or body.get("found") is not True:
            return Verification(number=number, found=False)
        cert = wire.certificate(self.organization, body.get("certificate"))
        if isinstance(cert, Invalid):
            raise ContractError(
                f"{self.organization}: verify: {cert.reason}",
                payload=body,
                organization=self.organization,
            )
        matches = body.get("holder_matches")
        return Verification(
            number=number,
            found=True,
            status=cert.status,
            holder_matches=matches if isinstance(matches, bool) else None,
            certificate=cert,
        )

    # ------------------------------------------------------------------ webhooks

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[ScoreRecord | CertificateRecord]:
        secret = self.settings.webhook_secret
        webhooks.verify_signature(
            headers,
            body,
            secret=secret.get_secret_value() if secret else None,
            now=self.context.now(),
            tolerance=self.settings.webhook_tolerance,
            organization=self.organization,
        )
        return webhooks.records(self.organization, body)
