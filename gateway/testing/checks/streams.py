"""Streams: pagination ends, cursors resume without loss, every record is canonical.

The sync stores a page's ``next_cursor`` in the same transaction as the page's records and,
after a crash or on the next night, resumes from the last one stored. So a cursor must be a
position that survives the organization changing its data in between: resuming from it must
deliver every record (at its newest revision) not delivered before. A page number does not
survive: a correction that moves a record shifts every later page.

Records are compared by value, not only by their stamp (as the core does since plugin API 1.1):
an organization that corrects a record without a newer stamp still changed it, and a cursor
that never sees such a correction fails here even though every stamp looks current.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.testing.harness import KitFailure, Session
from gateway.testing.reading import (
    MODELS,
    Key,
    Record,
    StreamRead,
    describe_keys,
    natural_key,
    read_stream,
    same_values,
    stamp,
)

#: At most this many page boundaries are tried as resumption points per stream.
BOUNDARIES = 5

#: Fix texts shared by the cursor checks (a page-number organization gets its own advice).
HIGH_WATER_FIX = (
    "make the cursor a position that survives changes: a high-water mark such as "
    "(updated_at, id) of the last record delivered (gateway.HighWaterMark); page numbers or "
    "offsets do not (a corrected record moves and shifts every later page)"
)
PAGE_NUMBER_FIX = (
    "with page numbers only: if the listing has a 'changed since' filter, read a window from "
    "the high-water mark and re-read an overlap of pages on resume, de-duplicating by natural "
    "key (gateway.PageNumbers); if it has neither such a filter nor an order by change time, "
    "no page-number cursor can see a correction: read the whole list every run as a snapshot "
    "(start at page 1, Page(complete=True) on the last page)"
)


def _boundaries(pages: int) -> list[int]:
    """Resume after page k for a spread of k in 1..pages (the last one: the next night)."""
    if pages <= BOUNDARIES:
        return list(range(1, pages + 1))
    step = (pages - 1) / (BOUNDARIES - 1)
    return sorted({1 + round(i * step) for i in range(BOUNDARIES)})


async def _full_read(session: Session, stream: str) -> StreamRead:
    read = await read_stream(session, session.adapter(), stream, None)
    if not read.good:
        raise KitFailure(
            f"a full read of {stream} delivered no valid records after Sandbox.seed()"
            + (f" ({len(read.bad)} did not validate)" if read.bad else ""),
            fix="check the sandbox seeds records, and that the adapter maps them "
            f"(gateway.models.{MODELS[stream].__name__})",
            see="the-sandbox",
        )
    return read


async def streams_end(session: Session) -> None:
    streams = session.streams()
    await session.sandbox.seed(session.sandbox.seed_size)
    for stream in streams:
        read = await _full_read(session, stream)
        held = read.latest()
        expected = session.sandbox.expected(stream)
        delivered = len(held) + len(read.bad)  # quarantined records count as delivered here
        if expected is not None and delivered < expected:
            raise KitFailure(
                f"a full read of {stream} delivered {delivered} distinct records; the sandbox "
                f"holds {expected}",
                fix="read every page until the organization says there are no more; map every "
                "record (yield Invalid for a broken one rather than dropping it)",
                see="streams-and-cursors",
            )
        if read.cursor is None:
            raise KitFailure(
                f"{stream}: no page of a full read carried a next_cursor, so every sync would "
                "re-read the whole stream and a killed sync could not resume",
                fix="give every page the cursor of the position after it (also the last page: "
                "the next night starts there)",
                see="streams-and-cursors",
            )
        again = await read_stream(session, session.adapter(), stream, read.cursor)
        news = [
            natural_key(r)
            for r in again.good
            if natural_key(r) not in held or stamp(r) > stamp(held[natural_key(r)])
        ]
        if news:
            raise KitFailure(
                f"{stream}: reading again from the final cursor, with nothing changed at the "
                f"organization, delivered {len(news)} record(s) the full read did not: "
                + describe_keys(news),
                fix="the last page's next_cursor must stand after the last record delivered",
                see="streams-and-cursors",
            )


async def resume_from_a_stored_cursor(session: Session) -> None:
    streams = session.streams()
    sandbox = session.sandbox
    await sandbox.seed(sandbox.seed_size)
    for stream in streams:
        base = await _full_read(session, stream)
        if len(base.pages) < 3:
            raise KitFailure(
                f"{stream}: the sandbox's data fits in {len(base.pages)} page(s); resumption "
                "needs at least 3 to be tested",
                fix="raise Sandbox.seed_size or set a smaller page size in Sandbox.settings()",
                see="the-sandbox",
            )
        before = base.latest()
        changed = 0
        for k in _boundaries(len(base.pages)):
            before, touched = await _resume_after(session, stream, k, before)
            changed += touched
        if not changed:
            raise KitFailure(
                f"{stream}: Sandbox.change() changed no record the organization already "
                "held, so this check cannot tell whether the cursor sees corrections",
                fix="make change() correct a delivered score and revoke (or drop, for a list "
                "of current certificates) a delivered certificate, the way the organization "
                "does, with the update time it would give them",
                see="the-sandbox",
            )


async def _resume_after(
    session: Session, stream: str, k: int, before: dict[Key, Record]
) -> tuple[dict[Key, Record], int]:
    """Deliver k pages, let the organization change, resume from the stored cursor (with a new
    adapter, as a restarted process would), and compare with a full read. Returns the
    organization's records after the change and how many of those it held before the change
    touched (corrected, revoked, or gone from a list of current records)."""
    part = await read_stream(session, session.adapter(), stream, None, pages=k)
    cursor = part.cursor
    await session.sandbox.change()
    rest = await read_stream(session, session.adapter(), stream, cursor)
    full = await _full_read(session, stream)
    delivered: dict[Key, Record] = {}
    for record in part.good + rest.good:
        key = natural_key(record)
        old = delivered.get(key)
        if old is None or stamp(record) >= stamp(old):
            delivered[key] = record
    truth = full.latest()
    touched = sum(
        1 for key in before if key not in truth or not same_values(before[key], truth[key])
    )
    missing = [key for key in truth if key not in delivered]
    stale = [
        key
        for key, record in truth.items()
        if key in delivered and not same_values(delivered[key], record)
    ]
    where = f"{stream}: after {k} page(s) were delivered and the organization changed data, " + (
        "resuming from the stored cursor" if cursor is not None else "resuming (no cursor)"
    )
    if missing:
        raise KitFailure(
            f"{where} skipped {len(missing)} record(s) that a full read delivers: "
            + describe_keys(missing),
            fix=f"{HIGH_WATER_FIX}. {PAGE_NUMBER_FIX}",
            see="streams-and-cursors",
        )
    if stale:
        raise KitFailure(
            f"{where} did not deliver the newest revision of {len(stale)} record(s) corrected "
            "in between: " + describe_keys(stale),
            fix="order the stream by last change (updated_at, id) so a corrected or revoked "
            "record comes again after the cursor (and give a correction a newer update time "
            f"where you control it). {PAGE_NUMBER_FIX}",
            see="streams-and-cursors",
        )
    return truth, touched


def _distinct(reasons: Iterable[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(reasons))
    more = f" (and {len(unique) - limit} more)" if len(unique) > limit else ""
    return "; ".join(unique[:limit]) + more


async def records_validate(session: Session) -> None:
    streams = session.streams()
    await session.sandbox.seed(session.sandbox.seed_size)
    for stream in streams:
        read = await read_stream(session, session.adapter(), stream, None)
        total = len(read.good) + len(read.bad)
        model = MODELS[stream].__name__
        if read.invalid:
            reasons = _distinct(reason for _, reason in read.bad)
            raise KitFailure(
                f"{stream}: the adapter marked {read.invalid} of {total} records Invalid although "
                f"the sandbox sent them well-formed: {reasons}",
                fix=f"map every field the organization sends to gateway.models.{model}; keep "
                "Invalid(payload, reason) for records the organization really sent broken",
                see="records",
            )
        if read.bad:
            reasons = _distinct(reason for _, reason in read.bad)
            raise KitFailure(
                f"{stream}: {len(read.bad)} of {total} records do not validate as {model} (the "
                f"core would quarantine them): {reasons}",
                fix=f"yield gateway.models.{model} objects (or mappings with exactly its field "
                "names and types); convert the organization's codes, units and times "
                "(naive times are read as Beijing time)",
                see="records",
            )
