"""Incremental reading helpers for adapters: the cursor never loses a record, whatever the
organization changes between two reads.

Invariant: resuming from any ``next_cursor`` these helpers produced yields every record not
delivered before it, in its current version (duplicates are allowed: the core de-duplicates by
natural key and by value). Two shapes of organization are covered:

* ``HighWaterMark`` (after dlt's ``incremental``): the organization filters by change time
  ("changed since T"). The mark is the newest change time delivered (``last_value``); the next
  read asks from ``start_value`` (the mark minus a ``lag`` window, for organizations whose
  clocks or commits lag), the filter is inclusive, and records *at* the mark that were already
  delivered are skipped by fingerprint (boundary de-duplication). Fingerprints hash the whole
  canonical record, so a correction stamped in the same second as the mark is still new, and no
  ID number ever lands in a cursor.
* ``PageNumbers``: the organization pages by number. Resuming re-reads ``overlap`` pages before
  the stored one and drops what was delivered there, so records that shifted back by up to
  ``overlap`` pages (a correction moved a record behind them) are not skipped. Where the list
  carries neither a change-time order nor a since filter no page-number cursor can see a
  correction: ``snapshot=True`` then reads the whole list every run, ending with a page marked
  ``complete`` (plugin API 1.1) so the core withdraws what is no longer listed.

Cursors are JSON, opaque to the core, versioned; a cursor another adapter wrote is refused with
a message saying to run ``xgate sync --full``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from gateway.contract import Invalid, Page
from gateway.errors import ContractError
from gateway.models import CertificateRecord, ScoreRecord

T = TypeVar("T")
Item = Any  # a canonical record, a mapping in canonical names, or Invalid

__all__ = ["HighWaterMark", "PageNumbers", "fingerprint", "stamp_of"]


def fingerprint(record: object) -> str:
    """A short hash of a record's whole content (an ``Invalid`` by its payload)."""
    if isinstance(record, BaseModel):
        text = record.model_dump_json(exclude={"organization"})
    elif isinstance(record, Invalid):
        text = json.dumps(record.payload, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stamp_of(record: object) -> datetime | None:
    """The organization's change time of a canonical record (``None`` for anything else)."""
    if isinstance(record, ScoreRecord):
        return record.revised_at
    if isinstance(record, CertificateRecord):
        return record.updated_at
    return None


def _refused(kind: str) -> ValueError:
    return ValueError(f"not a {kind} cursor of this adapter; run the sync with --full")


@dataclass
class HighWaterMark:
    """A resumable position over (change time, record) for organizations with a since filter.

    ``mark = HighWaterMark.decode(cursor, lag=...)``; ask the organization for records changed
    at or after ``mark.start_value``, ordered by change time; for each record call
    ``mark.fresh(record)`` (False: delivered before, skip it); after each page yield
    ``Page(records, next_cursor=mark.encode())``.
    """

    last_value: datetime | None = None
    #: fingerprints of the records delivered whose change time equals ``last_value``
    boundary: set[str] = field(default_factory=set)
    lag: timedelta = timedelta(0)

    @property
    def start_value(self) -> datetime | None:
        """Where the next read starts (inclusive): the mark minus the lag window."""
        return None if self.last_value is None else self.last_value - self.lag

    def fresh(self, record: object, changed_at: datetime | None = None) -> bool:
        """Whether to deliver ``record`` (and remember it). ``changed_at`` defaults to the
        canonical record's stamp; a record without one is always delivered."""
        moment = changed_at if changed_at is not None else stamp_of(record)
        if moment is None:
            return True
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        mark = fingerprint(record)
        if self.last_value is not None and moment < self.last_value:
            return self.lag > timedelta(0)  # inside the lag window: re-delivered, harmless
        if moment == self.last_value:
            if mark in self.boundary:
                return False
            self.boundary.add(mark)
            return True
        self.last_value, self.boundary = moment, {mark}
        return True

    def encode(self) -> str:
        value = None if self.last_value is None else self.last_value.isoformat()
        return json.dumps(
            {"hwm": 1, "last": value, "seen": sorted(self.boundary)}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, cursor: str | None, *, lag: timedelta = timedelta(0)) -> HighWaterMark:
        if not cursor:
            return cls(lag=lag)
        try:
            body = json.loads(cursor)
            if body.get("hwm") != 1:
                raise ValueError("version")
            last = datetime.fromisoformat(body["last"]) if body["last"] else None
            return cls(last, {str(s) for s in body["seen"]}, lag)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise _refused("high-water mark") from None

    @classmethod
    def since(cls, moment: datetime, *, lag: timedelta = timedelta(0)) -> HighWaterMark:
        """A mark that starts a read at ``moment`` (for ``cursor_since``)."""
        return cls(moment if moment.tzinfo else moment.replace(tzinfo=UTC), set(), lag)


#: ``fetch(page_number)`` (1-based) -> (records of that page, whether more pages follow)
FetchPage = Callable[[int], Awaitable[tuple[Sequence[Item], bool]]]


@dataclass
class PageNumbers:
    """Reading a page-number listing so that a resumed read skips nothing.

    ``overlap``: pages re-read before the stored one on resume (records delivered there are
    dropped by fingerprint). ``snapshot``: the list shows only current records and has no
    change order: every read starts at page 1 and its last page is marked ``complete``; only a
    read cut short resumes from its page (and is then not complete).
    """

    overlap: int = 1
    snapshot: bool = False

    async def read(self, fetch: FetchPage, cursor: str | None) -> AsyncIterator[Page[Item]]:
        page_no, seen, finished = self._decode(cursor)
        whole = self.snapshot and (page_no == 0 or finished)
        if whole:
            page_no, seen = 0, []
        start = max(1, page_no + 1 - (self.overlap if page_no else 0))
        delivered = {fp for page in seen for fp in page}
        recent: list[list[str]] = list(seen)
        number = start
        while True:
            items, more = await fetch(number)
            if more and not items:
                # never "the end": a snapshot would then withdraw everything on later pages
                raise ContractError(f"page {number} is empty but more pages are said to follow")
            fresh: list[Item] = []
            prints: list[str] = []
            for item in items:
                mark = fingerprint(item)
                prints.append(mark)
                if mark not in delivered:
                    delivered.add(mark)
                    fresh.append(item)
            recent = [*recent, prints][-max(1, self.overlap) :]
            ended = not more
            # a finished read stays on its last page: the next night re-reads it for new rows
            cursor_out = self._encode(number, recent, ended)
            yield Page(records=fresh, next_cursor=cursor_out, complete=whole and ended)
            if ended:
                return
            number += 1

    def _encode(self, page_no: int, recent: list[list[str]], finished: bool) -> str:
        body = {"pages": 1, "page": page_no, "seen": recent, "done": finished}
        return json.dumps(body, separators=(",", ":"))

    @staticmethod
    def _decode(cursor: str | None) -> tuple[int, list[list[str]], bool]:
        if not cursor:
            return 0, [], False
        try:
            body = json.loads(cursor)
            if body.get("pages") != 1:
                raise ValueError("version")
            seen = [[str(fp) for fp in page] for page in body["seen"]]
            return int(body["page"]), seen, bool(body["done"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise _refused("page-number") from None
