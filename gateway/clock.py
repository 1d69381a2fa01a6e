"""Time, one way: the core stores and compares UTC; staff read Beijing time.

Invariants: every timestamp the core writes is timezone-aware UTC (``utcnow``); a naive value
read back from a database that dropped the zone (SQLite) is UTC (``as_utc``); what staff see is
Asia/Shanghai to the second (``local_text``), never microseconds or an unlabelled UTC time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
@overload
def as_utc(value: object) -> object: ...
def as_utc(value: object) -> object:
    """A naive datetime is UTC (SQLite drops the zone); an aware one is converted; anything
    else is returned as it is."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local_text(value: datetime | None) -> str:
    """``2026-12-02 23:05:07 +08:00``: text in Beijing time, to the second; '' for None."""
    if value is None:
        return ""
    return as_utc(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S +08:00")
