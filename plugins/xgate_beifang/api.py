"""Talking to Beifang over the core's client: bearer tokens, and answers turned into typed errors.

Retries, limits and timeouts belong to the core's HTTP layer (``context.http``); this module
only adds what is Beifang's own: the OAuth2 client-credentials token (cached, refreshed before
it expires, refreshed once when a request is refused with 401) and the meaning of its statuses.
It also copes with a plain client that returns 401/429/5xx responses instead of raising.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from gateway import (
    OPERATION_EXTENSION,
    AuthError,
    ContractError,
    OutcomeUnknown,
    RateLimitedError,
    TransientError,
    mask_text,
)

#: The request extension the core's HTTP layer reads to decide whether a write may repeat.
TOKEN_OPERATION = "token"
#: Refresh this share of a token's lifetime early (at most ``MAX_MARGIN`` seconds).
MARGIN_RATIO = 0.1
MAX_MARGIN = 60.0
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


@dataclass
class Token:
    value: str
    refresh_at: datetime


class TokenCache:
    """One token shared by all of an adapter's requests; concurrent callers fetch it once."""

    def __init__(
        self, fetch: Callable[[], Awaitable[tuple[str, float]]], now: Callable[[], datetime]
    ) -> None:
        self._fetch = fetch
        self._now = now
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.fetched = 0

    async def get(self) -> str:
        async with self._lock:
            token = self._token
            if token is None or self._now() >= token.refresh_at:
                value, lifetime = await self._fetch()
                margin = min(MAX_MARGIN, lifetime * MARGIN_RATIO)
                token = Token(value, self._now() + timedelta(seconds=lifetime - margin))
                self._token = token
                self.fetched += 1
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` unless another request already replaced it."""
        if self._token is not None and self._token.value == value:
            self._token = None


def error_code(response: httpx.Response) -> tuple[str, str]:
    """The organization's ``error.code`` and masked ``error.message``, when it sent them."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error, ""
    if isinstance(error, dict):
        return str(error.get("code") or ""), mask_text(str(error.get("message") or ""))
    return "", ""


class BeifangApi:
    """Authenticated requests with Beifang's statuses mapped to ``gateway.errors``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        organization: str,
        client_id: str,
        client_secret: str,
        now: Callable[[], datetime],
    ) -> None:
        self.http = http
        self.organization = organization
        self._client_id = client_id
        self._client_secret = client_secret
        self.tokens = TokenCache(self._fetch_token, now)

    async def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        response = await self._send(
            "POST", "/oauth/token", data=form, operation=TOKEN_OPERATION, write=False
        )
        if response.status_code in (400, 401, 403):
            code, _ = error_code(response)
            raise AuthError(
                f"{self.organization}: client credentials refused ({code or response.status_code})",
                organization=self.organization,
            )
        self.raise_for_status(response, write=False, what="token")
        try:
            body = response.json()
            value, lifetime = str(body["access_token"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise TransientError(
                f"{self.organization}: the token endpoint sent an unreadable answer",
                organization=self.organization,
            ) from None
        if not value or lifetime <= 0:
            raise TransientError(
                f"{self.organization}: the token endpoint sent an empty or expired token",
                organization=self.organization,
            )
        return value, lifetime

    async def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        write: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One authenticated request; a 401 refreshes the token and retries exactly once
        (a refused request was not processed, so repeating it is safe even for writes)."""
        for attempt in (1, 2):
            token = await self.tokens.get()
            merged = {**(headers or {}), "Authorization": f"Bearer {token}"}
            try:
                response = await self._send(
                    method, path, headers=merged, operation=operation, write=write, **kwargs
                )
            except AuthError:  # the core's layer raises on 401/403 instead of returning
                if attempt == 2:
                    raise
                self.tokens.invalidate(token)
                continue
            if response.status_code == 401 and attempt == 1:
                self.tokens.invalidate(token)
                continue
            if response.status_code in (401, 403):
                raise AuthError(
                    f"{self.organization}: {method} {path}: HTTP {response.status_code} "
                    "even with a fresh token",
                    organization=self.organization,
                )
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, method: str, path: str, *, operation: str, write: bool, **kwargs: Any
    ) -> httpx.Response:
        try:
            return await self.http.request(
                method, path, extensions={OPERATION_EXTENSION: operation}, **kwargs
            )
        except NOT_SENT as exc:
            raise TransientError(
                f"{self.organization}: {operation}: {type(exc).__name__}",
                organization=self.organization,
            ) from None
        except httpx.TransportError as exc:
            message = f"{self.organization}: {operation}: {type(exc).__name__}"
            if write:
                raise OutcomeUnknown(
                    message + " after sending; the outcome is unknown",
                    organization=self.organization,
                ) from None
            raise TransientError(message, organization=self.organization, sent=True) from None

    def raise_for_status(self, response: httpx.Response, *, write: bool, what: str) -> None:
        """Statuses the HTTP layer hands back (or a plain client returns) as typed errors."""
        status = response.status_code
        if status < 400:
            return
        where = f"{self.organization}: {what}: HTTP {status}"
        if status == 429:
            raise RateLimitedError(
                where + " (rate limited)",
                retry_after=_seconds(response.headers.get("Retry-After")),
                organization=self.organization,
            )
        if status >= 500:
            if write and status != 503:  # 503 is "not processed"; other 5xx may follow a commit
                raise OutcomeUnknown(
                    where + "; the outcome is unknown", organization=self.organization
                )
            raise TransientError(where, organization=self.organization)
        code, message = error_code(response)
        raise ContractError(
            f"{where} {code}: {message}".rstrip(": "),
            payload=_payload(response),
            organization=self.organization,
        )

    def body(self, response: httpx.Response, *, write: bool, what: str) -> Any:
        """The JSON body. Unreadable: for a read the page is a contract breach (quarantined
        and retried by the core); for a write the organization may have acted, so unknown."""
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            message = f"{self.organization}: {what}: the answer is not valid JSON"
            if write:
                raise OutcomeUnknown(message, organization=self.organization) from None
            raise ContractError(
                message, payload=_payload(response), organization=self.organization
            ) from None


def _payload(response: httpx.Response) -> str:
    return response.content[:65536].decode("utf-8", errors="replace")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
