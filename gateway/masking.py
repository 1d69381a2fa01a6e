"""Masking of personal data and secrets, shared by log filters, error messages and reports.

Everything that may reach a log line, an exception text or a staff-facing report goes through
here, so there is exactly one definition of "masked".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Resident ID numbers as people write them: 18 characters, optionally split 6-8-4 by spaces or
# dashes, or glued to a short word (``ID210802...``: a token of at most 10 letters then the
# number; a 64-character hex digest never qualifies). The 15-digit pre-1999 form too. Mobiles
# with or without +86/86 and spaces or dashes.
_ID18 = re.compile(
    r"(?<![0-9A-Za-z])([A-Za-z]{0,10})(\d{6})[ -]?(\d{8})[ -]?(\d{3}[0-9Xx])(?![0-9A-Za-z])"
)
_ID15 = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{6})(\d{3})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![\d+])((?:\+?86[ -]?)?1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ＸｘＫ", "0123456789XxK")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_SECRET_KV = re.compile(
    r"(?i)((?:client_secret|secret|password|passwd|app_secret|access_token|refresh_token|token"
    r"|sign|signature|api_?key|secret_?key|private_?key)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"
)
#: ``Authorization: Basic dXNlcjpwYXNz`` and friends, in dumped headers.
_AUTH_HEADER = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z-]+\s+)?)([^\s\"',}]+)"
)

#: Third-party loggers that put whole URLs (query strings included) into their messages.
HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def mask_id(number: str) -> str:
    """``110105********002X``: region and last four kept, so staff can still tell rows apart."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_mobile(number: str) -> str:
    if len(number) < 7:
        return "*" * len(number)
    return number[:3] + "****" + number[-4:]


def mask_secret(value: str | None) -> str:
    return "" if not value else "********"


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask ID numbers, mobiles, bearer tokens, secret-looking key/values and known secrets."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    if any("\uff10" <= ch <= "\uff5a" for ch in text):  # full-width digits hide nothing
        text = text.translate(_FULL_WIDTH)
    text = _ID18.sub(lambda m: m.group(1) + m.group(2) + "********" + m.group(4)[-4:], text)
    text = _ID15.sub(lambda m: m.group(1) + "*****" + m.group(3)[-4:], text)
    text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    text = _BEARER.sub(r"\1********", text)
    text = _AUTH_HEADER.sub(r"\1********", text)
    return _SECRET_KV.sub(r"\1********", text)


class MaskingFilter(logging.Filter):
    """Rewrites every record's message so nothing unmasked reaches any handler."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not leak its args
            message = str(record.msg)
        record.msg = mask_text(message, self.secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.exc_text = mask_text(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
            del exc
        return True


_FILTER = MaskingFilter()


_BASE_FACTORY = logging.getLogRecordFactory()


def _masking_factory(*args: object, **kwargs: object) -> logging.LogRecord:
    """Create every log record already masked, whichever logger or handler it meets later."""
    record = _BASE_FACTORY(*args, **kwargs)  # type: ignore[arg-type]
    _FILTER.filter(record)
    return record


def install_masking(secrets: Iterable[str] = ()) -> MaskingFilter:
    """Mask every log record of the process (idempotent).

    The record factory masks records as they are created, so handlers added later (pytest's
    ``caplog``, a deployment's own) and loggers of any library see only masked text; the
    filter is also attached to the root handlers and the HTTP libraries' loggers as a second
    line of defence.
    """
    _FILTER.secrets.update(s for s in secrets if s)
    if logging.getLogRecordFactory() is not _masking_factory:
        logging.setLogRecordFactory(_masking_factory)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    mask_loggers(*HTTP_LOGGERS)
    return _FILTER


def mask_loggers(*names: str) -> None:
    """Attach the masking filter to these loggers themselves (idempotent).

    A logger's own filter runs for every record created on it, whatever handlers exist, so
    records from these loggers are masked even when a handler is added after
    ``install_masking`` (pytest's ``caplog``, a handler a deployment adds later).
    """
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def add_secrets(secrets: Iterable[str]) -> None:
    _FILTER.secrets.update(s for s in secrets if s)


def masking_filter() -> MaskingFilter:
    return _FILTER
