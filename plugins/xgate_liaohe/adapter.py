"""The Liaohe adapter: canonical requests in, signed platform calls out, canonical records back.

It makes every request through ``context.http`` (the core's client: retries, limits, masked
logging) and waits only with ``context.sleep``. Two things the core cannot do are done here:
re-signing a request the platform refused as a replay (a retry at the transport level resends
the same nonce), and turning the platform's "already registered" row into an accepted outcome
by looking the registration up, which is what makes a repeated upload harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from gateway import (
    OPERATION_EXTENSION,
    AdapterContext,
    CertificateRecord,
    ContractError,
    ExamPlan,
    Invalid,
    OrganizationError,
    OutcomeUnknown,
    Page,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    ScoreRecord,
    TransientError,
    Verification,
    mask_text,
)
from xgate_liaohe import files, wire
from xgate_liaohe.paging import Item, Listing, read_incremental
from xgate_liaohe.records import certificate_record, row_version, score_record
from xgate_liaohe.settings import LiaoheSettings
from xgate_liaohe.signing import Signer

#: The operation name the core's HTTP layer may retry even though uploads are POSTs: the
#: platform answers a repeated row with "already registered", never a second registration.
UPLOAD_OPERATION = "upload_registrations"
#: Fresh signatures tried when the platform says a nonce was already used (a resend).
RESIGN_ATTEMPTS = 5
#: Consecutive unreadable job answers tolerated while polling.
BAD_POLLS = 3

T = TypeVar("T")


class _Replayed(Exception):
    """The platform refused the nonce: the same request needs a fresh signature."""


class LiaoheAdapter:
    """Capabilities: register (with look-up), scores, certificates, verify."""

    def __init__(self, settings: LiaoheSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        self.org = context.organization
        self.http = context.http
        self.log = context.logger
        self.signer = Signer(
            settings.app_key,
            settings.app_secret.get_secret_value(),
            settings.sign_method,
            context.now,
        )

    # ------------------------------------------------------------------ requests

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        parse: Callable[[httpx.Response], T],
        *,
        upload: tuple[str, bytes, str] | None = None,
    ) -> T:
        processed = False  # a refused replay proves an earlier copy reached the platform
        for _ in range(RESIGN_ATTEMPTS):
            signed = self.signer.sign(params)
            try:
                if upload is None:
                    response = await self.http.request(method, path, params=signed)
                else:
                    response = await self.http.request(
                        method,
                        path,
                        data=signed,
                        files={"file": upload},
                        extensions={OPERATION_EXTENSION: UPLOAD_OPERATION},
                    )
            except TransientError as exc:
                if processed and upload is not None and not isinstance(exc, OutcomeUnknown):
                    raise OutcomeUnknown(
                        f"{exc} (an earlier copy was received)", organization=self.org
                    ) from exc
                raise
            try:
                return parse(response)
            except _Replayed:
                processed = True
                self.log.info("%s: %s nonce refused as a replay; signing again", self.org, path)
        message = f"{self.org}: {path}: the platform refused {RESIGN_ATTEMPTS} fresh nonces"
        if upload is not None:
            raise OutcomeUnknown(message, organization=self.org)
        raise TransientError(message, organization=self.org)

    def _data(self, response: httpx.Response) -> Any:
        try:
            return wire.envelope(response, self.org)
        except wire.PlatformError as exc:
            if exc.code == wire.NONCE_REUSED:
                raise _Replayed from None
            raise

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return await self._exchange("GET", path, params, self._data)

    # ------------------------------------------------------------------ registration

    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationOutcome]:
        """Upload one file for the batch, wait for its job, map each row's result.

        Once the upload is accepted the rows are registered whatever happens next, so a
        failure after that point is ``OutcomeUnknown`` (the core settles it by look-up).
        """
        if not requests:
            return []
        upload = files.registration_file(
            plan, [r.candidate for r in requests], self.settings.upload_format
        )
        params = {
            "plan": plan.code,
            "file_md5": hashlib.md5(upload[1]).hexdigest(),
            "row_count": str(len(requests)),
        }
        try:
            data = await self._exchange(
                "POST", "/api/reg/upload", params, self._data, upload=upload
            )
        except wire.PlatformError as exc:
            if exc.code in wire.BATCH_REFUSALS:
                return [self._rejected(r, exc.code, exc.message) for r in requests]
            raise ContractError(
                f"{self.org}: upload refused: code {exc.code} {exc.message}", organization=self.org
            ) from None
        except ContractError as exc:
            raise OutcomeUnknown(
                f"{self.org}: the upload answer was unreadable, it may have been processed: {exc}",
                organization=self.org,
            ) from None
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise OutcomeUnknown(
                f"{self.org}: the upload answer names no job", organization=self.org
            )
        # The upload reached the platform: whatever fails from here on (a stale timestamp or a
        # refused signature on a poll, a broken answer, a plugin bug) must not tell the core
        # "nothing was sent", or it would upload the batch again. The look-up settles it.
        try:
            rows = await self._wait_for_job(job_id)
            return await self._outcomes(plan, requests, rows)
        except Exception as exc:
            detail = mask_text(str(exc), [self.settings.app_secret.get_secret_value()])
            raise OutcomeUnknown(
                f"{self.org}: upload job {job_id} accepted but its result is unknown: "
                f"{type(exc).__name__}: {detail}",
                organization=self.org,
            ) from exc

    async def _wait_for_job(self, job_id: str) -> list[Any]:
        interval = self.settings.poll_interval
        polls = max(1, math.ceil(self.settings.poll_timeout / interval)) if interval else 100
        bad = 0
        for _ in range(polls):
            await self.context.sleep(interval)
            try:
                data = await self._get("/api/reg/job", {"job_id": job_id})
            except ContractError as exc:  # a job status is re-readable: ask again
                bad += 1
                if bad >= BAD_POLLS:
                    raise
                self.log.warning("%s: unreadable job status, polling again: %s", self.org, exc)
                continue
            bad = 0
            if not isinstance(data, dict):
                raise ContractError(f"{self.org}: job status without data", organization=self.org)
            if data.get("status") == "done":
                results = data.get("results")
                if not isinstance(results, list):
                    raise ContractError(
                        f"{self.org}: finished job without results", organization=self.org
                    )
                return results
        raise TransientError(
            f"{self.org}: job {job_id} still processing after {polls} polls",
            organization=self.org,
            sent=True,
        )

    async def _outcomes(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest], rows: list[Any]
    ) -> list[RegistrationOutcome]:
        """Rows are numbered from 1 in file order. A row missing, not matching its request,
        or "already registered" but not confirmed by a look-up is left out: the core treats
        that candidate as unknown and settles it by look-up later."""
        outcomes: list[RegistrationOutcome | None] = []
        existing: list[tuple[int, RegistrationRequest]] = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("row"), int):
                continue
            index = row["row"] - 1
            if not 0 <= index < len(requests):
                continue
            request = requests[index]
            if str(row.get("id_no", "")).upper() != request.candidate.id_number:
                self.log.warning(
                    "%s: job row %d does not match %s; leaving it to look-up",
                    self.org,
                    row["row"],
                    request.candidate.masked_id,
                )
                continue
            code = row.get("code")
            if code == wire.OK and row.get("reg_id"):
                outcomes.append(self._accepted(request, str(row["reg_id"])))
            elif code == wire.ALREADY_REGISTERED:
                existing.append((len(outcomes), request))
                outcomes.append(None)
            elif isinstance(code, int) and code != wire.OK:
                outcomes.append(self._rejected(request, code, str(row.get("msg", ""))))
        found = await asyncio.gather(*(self._confirm(plan, r) for _, r in existing))
        for (position, _), outcome in zip(existing, found, strict=True):
            outcomes[position] = outcome
        return [o for o in outcomes if o is not None]

    async def _confirm(
        self, plan: ExamPlan, request: RegistrationRequest
    ) -> RegistrationOutcome | None:
        """Look up an "already registered" row. The upload went through, so a failing
        look-up must not fail the batch: the candidate is just left unknown."""
        try:
            return await self.lookup_registration(plan, request)
        except OrganizationError as exc:
            self.log.warning(
                "%s: look-up of %s failed, left unknown: %s",
                self.org,
                request.candidate.masked_id,
                exc,
            )
            return None

    async def lookup_registration(
        self, plan: ExamPlan, request: RegistrationRequest
    ) -> RegistrationOutcome | None:
        try:
            data = await self._get(
                "/api/reg/query", {"plan": plan.code, "id_no": request.candidate.id_number}
            )
        except wire.PlatformError as exc:
            if exc.code == wire.NOT_FOUND:
                return None
            raise ContractError(
                f"{self.org}: look-up refused: code {exc.code} {exc.message}",
                organization=self.org,
            ) from None
        reg_id = data.get("reg_id") if isinstance(data, dict) else None
        if not reg_id:
            raise ContractError(
                f"{self.org}: look-up of {request.candidate.masked_id} has no registration id",
                organization=self.org,
            )
        return self._accepted(request, str(reg_id))

    @staticmethod
    def _accepted(request: RegistrationRequest, reg_id: str) -> RegistrationOutcome:
        return RegistrationOutcome(
            idempotency_key=request.idempotency_key,
            status=RegistrationStatus.ACCEPTED,
            org_registration_id=reg_id,
        )

    @staticmethod
    def _rejected(request: RegistrationRequest, code: int, message: str) -> RegistrationOutcome:
        return RegistrationOutcome(
            idempotency_key=request.idempotency_key,
            status=RegistrationStatus.REJECTED,
            reason_code=str(code),
            reason=mask_text(message) or None,
        )

    # ------------------------------------------------------------------ streams

    async def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]:
        async for page in read_incremental(
            self._score_page,
            cursor,
            page_size=self.settings.page_size,
            overlap=self.settings.overlap,
            organization=self.org,
        ):
            yield page

    async def certificates(self, cursor: str | None) -> AsyncIterator[Page[CertificateRecord]]:
        async for page in read_incremental(
            self._certificate_page,
            cursor,
            page_size=self.settings.page_size,
            overlap=self.settings.overlap,
            organization=self.org,
            snapshot=self.settings.certificate_listing == "current",
        ):
            yield page

    def _window(self, page_no: int, after: str | None, until: str | None) -> dict[str, str]:
        params = {"page_no": str(page_no), "page_size": str(self.settings.page_size)}
        if after is not None:
            params["updated_after"] = after
        if until is not None:
            params["updated_until"] = until
        return params

    async def _score_page(self, page_no: int, after: str | None, until: str | None) -> Listing:
        params = self._window(page_no, after, until)
        return await self._exchange("GET", "/api/score/export", params, self._score_listing)

    def _score_listing(self, response: httpx.Response) -> Listing:
        """The export is a CSV download; paging facts travel in headers. An error is JSON."""
        wire.check_status(response, self.org)
        if wire.is_json(response):
            self._data(response)  # raises for a non-zero code
            raise ContractError(
                f"{self.org}: score export answered JSON instead of a file",
                payload=response.text[:500],
                organization=self.org,
            )
        try:
            total = int(response.headers["X-Total"])
            expected = int(response.headers["X-Row-Count"])
            server_time = wire.org_time(response.headers["X-Server-Time"])
            rows = files.read_csv(response.content, files.SCORE_HEADERS)
        except (KeyError, ValueError) as exc:
            raise ContractError(
                f"{self.org}: unreadable score export: {mask_text(str(exc))}",
                payload=response.content[:500].decode(files.ENCODING, "replace"),
                organization=self.org,
            ) from None
        if len(rows) != expected:
            raise ContractError(
                f"{self.org}: score export holds {len(rows)} rows, header says {expected}",
                organization=self.org,
            )
        return Listing(total, server_time, [self._score_item(row) for row in rows])

    def _score_item(self, row: dict[str, str]) -> Item:
        record = score_record(self.org, row)
        return Item(self._moment(row.get("更新时间"), record), row_version(row), record)

    async def _certificate_page(
        self, page_no: int, after: str | None, until: str | None
    ) -> Listing:
        params = self._window(page_no, after, until)
        data = await self._get("/api/cert/list", params)
        try:
            total = int(data["total"])
            server_time = wire.org_time(data["server_time"])
            entries = list(data["list"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ContractError(
                f"{self.org}: unreadable certificate list: {type(exc).__name__}",
                payload=data,
                organization=self.org,
            ) from None
        items = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ContractError(
                    f"{self.org}: certificate list entry is not an object", organization=self.org
                )
            record = certificate_record(self.org, entry)
            moment = self._moment(entry.get("update_time"), record)
            items.append(Item(moment, row_version(entry), record))
        return Listing(total, server_time, items)

    def _moment(self, raw: object, record: object) -> str:
        """A row's update time for paging. A row without a readable one cannot be placed in
        the listing's order, so the page is refused rather than the row quarantined."""
        try:
            return wire.org_time(raw)
        except (TypeError, ValueError):
            raise ContractError(
                f"{self.org}: a listed row has no readable update time",
                payload=record.payload if isinstance(record, Invalid) else None,
                organization=self.org,
            ) from None

    # ------------------------------------------------------------------ verification

    async def verify(self, number: str, holder_name: str | None = None) -> Verification:
        params = {"cert_no": number}
        if holder_name:
            params["name"] = holder_name
        try:
            data = await self._get("/api/cert/verify", params)
        except wire.PlatformError as exc:
            if exc.code == wire.NOT_FOUND:
                return Verification(number=number, found=False)
            raise ContractError(
                f"{self.org}: verification refused: code {exc.code} {exc.message}",
                organization=self.org,
            ) from None
        record = certificate_record(self.org, data if isinstance(data, dict) else {})
        if isinstance(record, Invalid):
            raise ContractError(
                f"{self.org}: unreadable verification answer: {record.reason}",
                payload=record.payload,
                organization=self.org,
            )
        matches = data.get("name_match") if holder_name else None
        return Verification(
            number=record.number,
            found=True,
            status=record.status,
            holder_matches=matches if isinstance(matches, bool) else None,
            certificate=record,
        )
