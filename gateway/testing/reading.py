"""Reading an adapter's stream the way the sync does, and comparing what two reads delivered.

Records are validated with ``gateway.records.validate_items``, the function the sync uses, so
"valid" means exactly what the core will store. Comparisons work on natural keys (the core's
upsert keys) at their newest revision, because that is what a sync ends up holding: duplicates
are harmless, a missing key or an older revision is data lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.contract import Invalid, Page
from gateway.masking import mask_id
from gateway.models import CertificateRecord, ScoreRecord
from gateway.records import validate_items
from gateway.testing.harness import KitFailure, Session

Record = ScoreRecord | CertificateRecord
Key = tuple[str, ...]
MODELS: dict[str, type[ScoreRecord] | type[CertificateRecord]] = {
    "scores": ScoreRecord,
    "certificates": CertificateRecord,
}
#: A stream that has not ended after this many pages is taken to loop forever.
MAX_PAGES = 1000


def natural_key(record: Record) -> Key:
    """The core's upsert key: (plan, ID number) for scores, the number for certificates."""
    if isinstance(record, ScoreRecord):
        return (record.plan_code, record.id_number)
    return (record.number,)


def stamp(record: Record) -> datetime:
    return record.revised_at if isinstance(record, ScoreRecord) else record.updated_at


def describe(key: Key) -> str:
    """A key fit for a message: ID numbers masked."""
    if len(key) == 2:
        return f"{key[0]}/{mask_id(key[1])}"
    return key[0]


def describe_keys(keys: Sequence[Key], limit: int = 5) -> str:
    shown = ", ".join(describe(k) for k in list(keys)[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


#: Fields a change of which the core does not count as a new revision: the organization's
#: stamps (a correction is recognised by its values), names and the organization's row id.
NOT_COMPARED = frozenset({"revised_at", "updated_at", "name", "holder_name", "org_record_id"})


def same_values(a: Record, b: Record) -> bool:
    """The same revision as far as the core is concerned (compared by value, not by stamp)."""
    return a.model_dump(exclude=set(NOT_COMPARED)) == b.model_dump(exclude=set(NOT_COMPARED))


def latest(records: Sequence[Record]) -> dict[Key, Record]:
    """Newest revision per natural key, as the sync's upsert leaves it."""
    best: dict[Key, Record] = {}
    for r in records:
        k = natural_key(r)
        if k not in best or stamp(r) >= stamp(best[k]):
            best[k] = r
    return best


@dataclass
class StreamRead:
    """What one read delivered: pages, valid records, rejected items, whether it ended."""

    stream: str
    pages: list[Page[Any]] = field(default_factory=list)
    good: list[Record] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)
    invalid: int = 0  # items the adapter itself marked ``Invalid``
    ended: bool = False

    @property
    def cursor(self) -> str | None:
        """The cursor the core would hold after these pages (the last non-None one)."""
        for page in reversed(self.pages):
            if page.next_cursor is not None:
                return str(page.next_cursor)
        return None

    def latest(self) -> dict[Key, Record]:
        return latest(self.good)


async def read_stream(
    session: Session,
    adapter: Any,
    stream: str,
    cursor: str | None,
    *,
    pages: int | None = None,
    situation: str = "",
) -> StreamRead:
    """Read ``stream`` from ``cursor`` to its end (or ``pages`` pages), validating each page."""
    where = f"adapter.{stream}({'None' if cursor is None else 'cursor'})"
    iterator = getattr(adapter, stream)(cursor)
    if not hasattr(iterator, "__anext__"):
        raise KitFailure(
            f"{where} returned {type(iterator).__name__}, not an async iterator of Page",
            fix=f"write {stream} as an async generator: `async def {stream}(self, cursor)` "
            "that yields gateway.Page(records=..., next_cursor=...)",
            see="streams-and-cursors",
        )
    read = StreamRead(stream)
    model = MODELS[stream]
    try:
        while pages is None or len(read.pages) < pages:
            if len(read.pages) >= MAX_PAGES:
                raise KitFailure(
                    f"{where} did not end after {MAX_PAGES} pages ({len(read.latest())} distinct "
                    "records)",
                    fix="stop when the organization has no more records; never hand back the "
                    "cursor you were given when a page is empty",
                    see="streams-and-cursors",
                )
            try:
                page = await iterator.__anext__()
            except StopAsyncIteration:
                read.ended = True
                break
            except KitFailure:
                raise
            except Exception as exc:
                raise KitFailure(
                    f"{where} raised {type(exc).__name__} on page {len(read.pages) + 1}"
                    f"{situation}: {exc}",
                    fix="use context.http for every request and let the HTTP layer's errors "
                    "propagate (it retries what is worth retrying); map every record or yield "
                    "Invalid(payload, reason) for one the organization sent broken",
                    see="errors",
                ) from None
            _check_page(where, page, len(read.pages) + 1)
            good, bad = validate_items(model, session.organization, page.records)
            read.invalid += sum(isinstance(r, Invalid) for r in page.records)
            read.pages.append(page)
            read.good.extend(good)  # type: ignore[arg-type]
            read.bad.extend(bad)
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
    return read


def _check_page(where: str, page: object, number: int) -> None:
    if not isinstance(page, Page):
        raise KitFailure(
            f"{where} yielded {type(page).__name__} as page {number}, not gateway.Page",
            fix="yield gateway.Page(records=[...], next_cursor=...)",
            see="streams-and-cursors",
        )
    if isinstance(page.records, str | bytes | Mapping) or not isinstance(page.records, Sequence):
        raise KitFailure(
            f"{where}: page {number} has records of type {type(page.records).__name__}",
            fix="Page.records must be a list of canonical records, mappings or Invalid items",
            see="streams-and-cursors",
        )
    if page.next_cursor is not None and not isinstance(page.next_cursor, str):
        raise KitFailure(
            f"{where}: page {number} has a next_cursor of type {type(page.next_cursor).__name__}",
            fix="a cursor is an opaque string (the core stores it as text); encode yours",
            see="streams-and-cursors",
        )
