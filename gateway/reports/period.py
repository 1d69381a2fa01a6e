"""Report periods: ISO weeks (Monday to Sunday) in Asia/Shanghai and the school year.

A week is always a local (Beijing) week: it starts at Monday 00:00 Asia/Shanghai, which is
Sunday 16:00 UTC, and stored timestamps (UTC) are bucketed by their Beijing date. The school
year runs from 1 September to 31 August (teaching ends in July; August belongs to the year
that is ending), labelled ``2026-2027``. ``local_day`` is the one SQL expression for "the
Beijing date of this timestamp" on either database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, literal_column

from gateway.errors import InputError
from gateway.models import BEIJING

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week: ``Week(2026, 49)`` is Monday 30 November to Sunday 6 December 2026."""

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def start(self) -> datetime:
        """Monday 00:00 Asia/Shanghai, as aware UTC."""
        return datetime.combine(self.monday, time(), BEIJING).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 Asia/Shanghai (exclusive), as aware UTC."""
        return self.start + timedelta(days=7)

    def previous(self) -> Week:
        return week_of(self.monday - timedelta(days=7))

    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]


def week_of(day: date) -> Week:
    iso = day.isocalendar()
    return Week(iso.year, iso.week)


def local_date(moment: datetime) -> date:
    """The Beijing date of an instant (a naive value is taken as UTC, as SQLite returns it)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).date()


def current_week(now: datetime | None = None) -> Week:
    return week_of(local_date(now or datetime.now(UTC)))


def last_full_week(now: datetime | None = None) -> Week:
    """The week before the current one: what the Monday-morning report is about."""
    return current_week(now).previous()


def parse_week(text: str) -> Week:
    """``2026-W49`` (or ``2026W49``); anything else is a clear input error."""
    match = _WEEK.match(text.strip())
    if match:
        year, number = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            pass
        else:
            return Week(year, number)
    raise InputError(f"--week {text!r}: write an ISO week such as 2026-W49 (Monday to Sunday)")


def school_year_start(day: date) -> date:
    """1 September of the school year ``day`` belongs to."""
    return date(day.year if day.month >= 9 else day.year - 1, 9, 1)


def school_year_label(day: date) -> str:
    start = school_year_start(day)
    return f"{start.year}-{start.year + 1}"


def weeks_between(first: date, last: Week) -> list[Week]:
    """Every ISO week from the one holding ``first`` up to ``last``, in order."""
    weeks, week = [], week_of(first)
    while week <= last:
        weeks.append(week)
        week = week_of(week.monday + timedelta(days=7))
    return weeks


def local_day(column: Any, dialect: str) -> Any:
    """SQL for the Beijing date of a stored UTC timestamp (China has no daylight saving since
    1991, so SQLite's fixed ``+8 hours`` is exact; PostgreSQL converts by zone name)."""
    if dialect == "sqlite":
        return func.date(column, literal_column("'+8 hours'"))
    return func.date(func.timezone(literal_column("'Asia/Shanghai'"), column))


def as_date(value: Any) -> date:
    """A ``local_day`` result (a date on PostgreSQL, ``YYYY-MM-DD`` text on SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
