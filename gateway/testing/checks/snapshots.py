"""Snapshot reads (plugin API 1.1): a read marked complete lists every current certificate.

``Page(complete=True)`` on the last page of a read tells the core that the read listed
*everything* the organization holds now; the core then withdraws every certificate the read did
not list and reverses its credit. So the one rule is strict: any read marked complete, whatever
cursor it started from, lists every current certificate. A read resumed from a stored cursor, a
``since`` cursor or a filtered listing must not claim it (the core would withdraw the records
before the cursor). An adapter that never marks a read complete skips this check.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.contract import Capability
from gateway.testing.harness import KitFailure, KitSkip, Session
from gateway.testing.reading import StreamRead, describe_keys, natural_key, read_stream

STREAM = "certificates"


def _complete(read: StreamRead, where: str) -> bool:
    marked = [i for i, page in enumerate(read.pages, 1) if page.complete]
    if marked and (marked[-1] != len(read.pages) or len(marked) > 1):
        raise KitFailure(
            f"{where}: page {marked[0]} of {len(read.pages)} is marked complete",
            fix="set Page(complete=True) on the last page of a read only",
            see="snapshot-reads",
        )
    return bool(marked)


def _lists_everything(read: StreamRead, truth: set[tuple[str, ...]], where: str) -> None:
    listed = {natural_key(r) for r in read.good}
    missing = sorted(truth - listed)
    if missing or read.bad:
        raise KitFailure(
            f"{where} was marked complete but did not list {len(missing)} current "
            "certificate(s)"
            + (f" and {len(read.bad)} did not validate" if read.bad else "")
            + (": " + describe_keys(missing) if missing else "")
            + "; the core would withdraw them and reverse their credit",
            fix="mark complete only a read that started at the first page of an unfiltered "
            "listing and read it to the end in this call; a read resumed from a stored cursor "
            "or started from a since cursor is not complete",
            see="snapshot-reads",
        )


async def snapshot_reads_list_everything(session: Session) -> None:
    session.require(Capability.CERTIFICATES)
    sandbox = session.sandbox
    await sandbox.seed(sandbox.seed_size)
    full = await read_stream(session, session.adapter(), STREAM, None)
    if not _complete(full, "a full read of certificates"):
        raise KitSkip("the adapter marks no certificates read complete (no snapshot reads)")
    truth = {natural_key(r) for r in full.good}
    expected = sandbox.expected(STREAM)
    if expected is not None and len(truth) + len(full.bad) < expected:
        raise KitFailure(
            f"a full read of certificates was marked complete but listed {len(truth)} distinct "
            f"certificates; the sandbox holds {expected} current ones",
            fix="read every page; mark complete only when the listing is exhausted",
            see="snapshot-reads",
        )
    if len(full.pages) > 1:
        part = await read_stream(session, session.adapter(), STREAM, None, pages=1)
        rest = await read_stream(session, session.adapter(), STREAM, part.cursor)
        where = "a read resumed from the cursor after page 1"
        if _complete(rest, where):
            _lists_everything(rest, truth, where)
    since = getattr(session.adapter(), "cursor_since", None)
    if callable(since):
        cursor = since(STREAM, datetime.now(UTC))
        read = await read_stream(session, session.adapter(), STREAM, cursor)
        where = "a read from cursor_since(now)"
        if _complete(read, where):
            _lists_everything(read, truth, where)
    gone = await sandbox.withdraw()
    if gone is None:
        return
    after = await read_stream(session, session.adapter(), STREAM, full.cursor)
    where = "the next night's read after Sandbox.withdraw()"
    if not _complete(after, where):
        raise KitFailure(
            f"{where} (from the stored cursor of a complete read) was not marked complete",
            fix="after a complete read, start the next read from the first page again: its "
            "cursor must say so (the core stores the last page's next_cursor)",
            see="snapshot-reads",
        )
    listed = {natural_key(r)[0] for r in after.good}
    if gone in listed:
        raise KitFailure(
            f"{where} still lists the withdrawn certificate {gone}",
            fix="Sandbox.withdraw() must make the organization stop listing it",
            see="the-sandbox",
        )
    _lists_everything(after, truth - {(gone,)}, where)
