"""Log output for people (text) and for log collectors (one JSON object a line).

Invariant: every line is masked exactly as before (the masking record factory and filter from
``gateway.masking`` run first; an exception's text is masked again here), and carries the
request or job id of the work that wrote it, from a context variable set by the web server's
middleware and by the job wrapper, so one job's lines can be found among many workers'.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from gateway.masking import install_masking, mask_text

_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("xgate_log_context", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: attributes every LogRecord has; anything else was passed with ``extra=``
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "xgate", "taskName"}


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` (job_id, request_id, ...) to every line logged inside the block."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def job_context(job_id: int | None) -> contextlib.AbstractContextManager[None]:
    return log_context(job_id=job_id)


def current_context() -> dict[str, Any]:
    return dict(_CONTEXT.get() or {})


class ContextFilter(logging.Filter):
    """Copy the current log context onto the record as ``record.xgate``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.xgate = current_context()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", job_id/request_id, extra fields, "exc"}``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "xgate", None) or {})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = mask_text(self.formatException(record.exc_info))
        elif record.exc_text:  # the masking filter already formatted (and masked) it
            data["exc"] = record.exc_text
        # the fields a line carries (``extra=``, such as the HTTP layer's path and error) are
        # not the message the masking filter saw: mask the whole line
        return mask_text(json.dumps(data, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """The classic line, with ``[job_id=7]`` appended when a context is set."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = getattr(record, "xgate", None)
        if context:
            line += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return mask_text(line) if record.exc_info else line


def configure_logging(level: int, log_format: str = "text") -> logging.Handler:
    """One stderr handler on the root logger in ``log_format`` (``text`` or ``json``)."""
    if log_format not in ("text", "json"):
        raise ValueError(f"log format must be text or json, not {log_format!r}")
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "xgate", False):
            root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.xgate = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    install_masking()
    return handler
