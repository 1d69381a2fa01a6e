"""Exactly-once reading of a page-number listing that shifts while it is read.

The platform lists records newest first (by last update) and pages them by number, so a page
number is no position at all: a record updated or added meanwhile moves to the front and
shifts every later page. What stays put is time. A *pass* reads one time window
``[updated_after, updated_until]`` page by page, the window's top fixed at the server time of
its first page, so records written during the pass fall outside it. Inside the window only
one thing can still happen: a record is updated and leaves it, shifting the pages after it.
That changes ``total``, so the pass then starts over from its own checkpoint.

The cursor is that checkpoint, a high-water mark:

* ``hw``: every record updated before it has been delivered;
* ``until``/``low`` (only while a pass is under way): the pass's window top, and how far down
  it got: every record updated after ``low`` (up to ``until``) has been delivered;
* ``seen``: fingerprints of records delivered at the boundaries, so the overlap re-read on
  resume (``updated_after``/``updated_until`` are inclusive) is de-duplicated.

``low`` is the newest update time among the last ``overlap`` rows read, not the oldest, so a
record the platform lists a little out of order (a few positions late) is re-read rather than
skipped. Resuming from any cursor therefore yields exactly what was not yet delivered.

A *snapshot* read (``snapshot=True``, for a list that shows only current records) starts every
run from an empty high-water mark, so its first pass lists everything current; when that read
converges it ends with an empty page marked ``complete`` (plugin API 1.1), and the core then
withdraws what it did not list. A run that resumes a pass cut short is never complete.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway import ContractError, Page, TransientError


@dataclass(frozen=True)
class Item:
    """One listed row: its update time (canonical platform time), version fingerprint and
    the canonical record (or ``Invalid``) to deliver."""

    updated_at: str
    fingerprint: str
    record: Any


@dataclass(frozen=True)
class Listing:
    total: int
    server_time: str
    items: Sequence[Item]


#: ``fetch(page_no, updated_after, updated_until)``; ``None`` leaves a bound open.
Fetch = Callable[[int, str | None, str | None], Awaitable[Listing]]


@dataclass
class Cursor:
    hw: str | None = None
    until: str | None = None
    low: str | None = None
    seen: dict[str, set[str]] = field(default_factory=dict)

    def knows(self, item: Item) -> bool:
        return item.fingerprint in self.seen.get(item.updated_at, ())

    def add(self, item: Item) -> None:
        self.seen.setdefault(item.updated_at, set()).add(item.fingerprint)

    def start(self, server_time: str) -> None:
        self.until = self.low = server_time

    def lower(self, moment: str) -> None:
        if self.low is None or moment < self.low:
            self.low = moment
            self._prune()

    def complete(self) -> None:
        """The pass read its whole window: everything up to ``until`` is delivered."""
        self.hw, self.until, self.low = self.until, None, None
        self._prune()

    def _prune(self) -> None:
        def needed(moment: str) -> bool:
            if self.until is None:
                return moment == self.hw
            return moment == self.until or (self.low is not None and moment <= self.low)

        self.seen = {m: fps for m, fps in self.seen.items() if needed(m)}

    def encode(self) -> str:
        body = {
            "v": 1,
            "hw": self.hw,
            "until": self.until,
            "low": self.low,
            "seen": {m: sorted(fps) for m, fps in sorted(self.seen.items())},
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        try:
            body = json.loads(text)
            if body.get("v") != 1:
                raise ValueError("version")
            seen = {str(m): {str(f) for f in fps} for m, fps in body["seen"].items()}
            return cls(hw=body["hw"], until=body["until"], low=body["low"], seen=seen)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError(
                "not a cursor of the liaohe adapter; run the sync with --full to start over"
            ) from None


async def read_incremental(
    fetch: Fetch,
    cursor: str | None,
    *,
    page_size: int,
    overlap: int,
    organization: str,
    max_passes: int = 3,
    max_restarts: int = 10,
    snapshot: bool = False,
) -> AsyncIterator[Page[Any]]:
    """Pages of records not delivered before ``cursor``, each with the cursor after it
    (with ``snapshot``: every current record, then a ``complete`` page)."""
    state = Cursor.decode(cursor)
    whole = snapshot and state.until is None  # no pass under way: list everything again
    if whole:
        state = Cursor()
    last = cursor
    for _ in range(max_passes):
        top = state.low  # None: a fresh pass, its top is the server time of its first page
        page_no, baseline, restarts = 1, -1, 0
        recent: deque[str] = deque(maxlen=overlap)
        emitted: set[tuple[str, str]] = set()
        while True:
            listing = await fetch(page_no, state.hw, top)
            latest = listing.server_time
            if state.until is None:
                state.start(latest)
                top = latest
            if baseline < 0:
                baseline = listing.total
            elif listing.total != baseline:  # a record left the window: pages shifted
                restarts += 1
                if restarts > max_restarts:
                    raise TransientError(
                        f"{organization}: the listing kept changing while it was read; "
                        "the next run resumes from the last checkpoint",
                        organization=organization,
                    )
                top, page_no, baseline = state.low, 1, -1
                recent.clear()
                continue
            done = page_no * page_size >= listing.total
            if not listing.items and not done:
                raise ContractError(
                    f"{organization}: page {page_no} is empty but total is {listing.total}",
                    organization=organization,
                )
            fresh = []
            for item in listing.items:
                recent.append(item.updated_at)
                key = (item.updated_at, item.fingerprint)
                if key in emitted or state.knows(item):
                    continue
                emitted.add(key)
                state.add(item)
                fresh.append(item.record)
            if done:
                state.complete()
            elif len(recent) == overlap:
                state.lower(max(recent))
            encoded = state.encode()
            if fresh or encoded != last:
                yield Page(records=fresh, next_cursor=encoded, raw_size=len(listing.items))
                last = encoded
            if done:
                break
            page_no += 1
        if latest == state.hw:  # nothing changed at the platform while the pass ran
            if whole:
                yield Page(records=[], next_cursor=state.encode(), complete=True)
            return
