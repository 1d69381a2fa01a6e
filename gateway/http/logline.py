"""One structured log line per request attempt, safe by construction.

The line carries a *path template*, never the URL: query strings (where tokens, signatures and
ID numbers travel in older organization APIs) are dropped, and path segments that identify a
person or record become placeholders. That also makes the lines groupable by endpoint. The
masking filter still runs over the line as a second guard.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger("xgate.http")

_NUMBER = re.compile(r"^\d+$")
#: Segments kept verbatim: words (``registrations``, ``oauth``) and short versions (``v1``).
_WORD = re.compile(r"^(?:[A-Za-z][A-Za-z_.-]{0,39}?\d{0,2}|v\d+(?:\.\d+)?)$")


def path_template(path: str) -> str:
    """``/v1/plans/2024-07/registrations/11010519900307123X`` becomes
    ``/v1/plans/{id}/registrations/{id}``.

    Digits-only segments become ``{n}``; anything else that is not a plain word (ID numbers,
    hashes, certificate numbers, plan codes, names in Chinese, percent-encoded text) becomes
    ``{id}``. Over-masking a plan code costs a little detail; under-masking leaks personal data.
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    out = []
    for segment in path.split("/"):
        if not segment or _WORD.match(segment):
            out.append(segment)
        elif _NUMBER.match(segment):
            out.append("{n}")
        else:
            out.append("{id}")
    return "/".join(out) or "/"


def log_attempt(
    *,
    organization: str,
    method: str,
    path: str,
    attempt: int,
    duration_ms: float,
    status: int | None = None,
    error: str | None = None,
) -> None:
    """Emit the attempt line at INFO; the fields also ride on the record as ``record.http``."""
    if not log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "organization": organization,
        "method": method,
        "path": path,
        "status": status,
        "attempt": attempt,
        "duration_ms": round(duration_ms, 1),
    }
    if error is not None:
        fields["error"] = error
    outcome = f"status={status}" if status is not None else f"error={error}"
    log.info(
        "org=%s method=%s path=%s %s attempt=%d duration_ms=%.1f",
        organization,
        method,
        path,
        outcome,
        attempt,
        duration_ms,
        extra={"http": fields},
    )
