"""The platform's envelope and vocabulary: result codes, times, and its Chinese labels.

Every JSON answer is HTTP 200 with ``{"code": 0, "msg": "ok", "data": ...}``; a non-zero
code is the real status. Codes that mean the same thing everywhere are mapped to the core's
typed errors here; the rest surface as ``PlatformError`` for the caller to interpret.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from gateway import AuthError, ContractError, IdType, TransientError, mask_text

OK = 0
BAD_SIGNATURE = 1001
EXPIRED_TIMESTAMP = 1002
NONCE_REUSED = 1003
UNKNOWN_APP_KEY = 1004
ALREADY_REGISTERED = 2001
PLAN_CLOSED = 2002
LEVEL_NOT_ALLOWED = 2003
PLAN_NOT_FOUND = 2006
BAD_PARAMETER = 4001
BAD_FILE = 4002
NOT_FOUND = 4004
SYSTEM_BUSY = 5000

AUTH_CODES = frozenset({BAD_SIGNATURE, EXPIRED_TIMESTAMP, UNKNOWN_APP_KEY})
#: Request-level codes that refuse a whole upload for business reasons (every row rejected).
BATCH_REFUSALS = frozenset({PLAN_CLOSED, LEVEL_NOT_ALLOWED, PLAN_NOT_FOUND})

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The platform's timestamps: Beijing time, to the second, without an offset."""

ID_TYPE_LABELS: dict[IdType, str] = {
    IdType.RESIDENT: "居民身份证",
    IdType.HK_MACAO: "港澳居民来往内地通行证",
    IdType.TAIWAN: "台湾居民来往大陆通行证",
    IdType.PASSPORT: "护照",
    IdType.FOREIGN_PERMANENT: "外国人永久居留身份证",
}
SEX_LABELS = {"M": "男", "F": "女"}
LEVEL_LABELS = {1: "初级", 2: "中级", 3: "高级"}


class PlatformError(Exception):
    """A non-zero result code the generic mapping leaves to the caller."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"code {code}: {message}")
        self.code = code
        self.message = message


def org_time(text: object) -> str:
    """Canonical form of a platform timestamp, so cursor comparisons are plain string order.

    Raises ``ValueError`` for anything that is not a date and time.
    """
    moment = datetime.fromisoformat(str(text).strip().replace("/", "-"))
    if moment.tzinfo is not None:
        raise ValueError(f"expected Beijing time without an offset, got {text!r}")
    return moment.strftime(TIME_FORMAT)


def check_status(response: httpx.Response, organization: str) -> None:
    """Statuses the core's HTTP layer hands back unchanged: 5xx it did not retry and 4xx."""
    if response.status_code >= 500:
        raise TransientError(
            f"{organization}: HTTP {response.status_code} from {response.url.path}",
            organization=organization,
        )
    if response.status_code != 200:
        raise ContractError(
            f"{organization}: unexpected HTTP {response.status_code} from {response.url.path}",
            payload=response.text[:500],
            organization=organization,
        )


def is_json(response: httpx.Response) -> bool:
    media: str = response.headers.get("content-type", "")
    return media.split(";")[0].strip() == "application/json"


def envelope(response: httpx.Response, organization: str) -> Any:
    """The ``data`` of a successful answer; typed errors for the codes with one meaning."""
    check_status(response, organization)
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ContractError(
            f"{organization}: unreadable answer from {response.url.path}",
            payload=response.text[:500],
            organization=organization,
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        raise ContractError(
            f"{organization}: answer from {response.url.path} has no result code",
            payload=body,
            organization=organization,
        )
    code: int = body["code"]
    if code == OK:
        return body.get("data")
    message = mask_text(str(body.get("msg", "")))
    where = f"{organization}: {response.url.path}: code {code} {message}".rstrip()
    if code in AUTH_CODES:
        raise AuthError(where, organization=organization)
    if code == SYSTEM_BUSY:
        raise TransientError(where, organization=organization, sent=False)
    raise PlatformError(code, message)
