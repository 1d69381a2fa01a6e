"""gateway.incremental: high-water marks and page-number reading that never skip a record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from gateway import HighWaterMark, Page, PageNumbers
from gateway.models import CertificateRecord, CertificateStatus
from tests.idgen import make_ids

T0 = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
IDS = make_ids(40, seed=71)


def cert(i: int, *, second: int = 0, status: str = "valid") -> CertificateRecord:
    return CertificateRecord(
        organization="x",
        number=f"NO-{i:04d}",
        certificate_code="PLC",
        level=1,
        id_number=IDS[i],
        issued_on=date(2026, 12, 1),
        status=status,  # type: ignore[arg-type]
        updated_at=T0 + timedelta(seconds=second),
    )


class Org:
    """Certificates listed by change time (ascending), stamped in whole seconds."""

    def __init__(self, n: int) -> None:
        self.rows = {i: cert(i, second=i // 3) for i in range(n)}  # three per second

    def since(self, start: datetime | None) -> list[CertificateRecord]:
        rows = sorted(self.rows.values(), key=lambda c: (c.updated_at, c.number))
        return [c for c in rows if start is None or c.updated_at >= start]


async def read_mark(
    org: Org,
    cursor: str | None,
    *,
    limit: int = 4,
    pages: int | None = None,
    lag: timedelta = timedelta(0),
) -> tuple[list[CertificateRecord], str | None]:
    mark = HighWaterMark.decode(cursor, lag=lag)
    rows = org.since(mark.start_value)
    out: list[CertificateRecord] = []
    for n, i in enumerate(range(0, len(rows), limit)):
        if pages is not None and n >= pages:
            break
        chunk = [r for r in rows[i : i + limit] if mark.fresh(r)]
        out.extend(chunk)
        cursor = mark.encode()
    return out, cursor


async def test_a_mark_resumes_without_loss_and_without_repeats() -> None:
    org = Org(12)
    part, cursor = await read_mark(org, None, pages=2)
    rest, cursor = await read_mark(org, cursor)
    assert sorted(c.number for c in part + rest) == sorted(c.number for c in org.rows.values())
    assert len(part + rest) == 12  # records at the boundary second are not delivered twice
    again, _ = await read_mark(org, cursor)
    assert again == []


async def test_a_correction_in_the_same_second_as_the_mark_is_still_delivered() -> None:
    org = Org(9)
    _, cursor = await read_mark(org, None)
    last = max(org.rows.values(), key=lambda c: c.updated_at)
    corrected = last.model_copy(
        update={"status": CertificateStatus.REVOKED}
    )  # same stamp, other values
    org.rows[int(last.number[3:])] = corrected
    news, _ = await read_mark(org, cursor)
    assert news == [corrected]


async def test_a_lag_window_re_reads_recent_records() -> None:
    org = Org(9)
    _, cursor = await read_mark(org, None)
    late = cert(39, second=1)  # committed late with an older stamp
    org.rows[39] = late
    missed, _ = await read_mark(org, cursor)
    assert late not in missed
    caught, _ = await read_mark(org, cursor, lag=timedelta(seconds=5))
    assert late in caught


def test_foreign_cursors_are_refused_with_the_way_out() -> None:
    with pytest.raises(ValueError, match="--full"):
        HighWaterMark.decode('{"v": 1}')
    with pytest.raises(ValueError, match="--full"):
        PageNumbers()._decode("17")
    mark = HighWaterMark.since(T0)
    assert HighWaterMark.decode(mark.encode()).start_value == T0


class PagedOrg:
    """A page-number listing. ``order``: "changed" (a correction moves to the end) or
    "created" (nothing moves)."""

    def __init__(self, n: int, size: int = 4) -> None:
        self.rows = [cert(i, second=i) for i in range(n)]
        self.size = size
        self.clock = n

    async def fetch(self, page_no: int) -> tuple[Sequence[Any], bool]:
        rows = sorted(self.rows, key=lambda c: c.updated_at)
        start = (page_no - 1) * self.size
        return rows[start : start + self.size], start + self.size < len(rows)

    def correct(self, index: int, **update: Any) -> CertificateRecord:
        self.clock += 1
        new = self.rows[index].model_copy(
            update={"updated_at": T0 + timedelta(seconds=self.clock), **update}
        )
        self.rows[index] = new
        return new


async def pages(it: AsyncIterator[Page[Any]], limit: int | None = None) -> list[Page[Any]]:
    out = []
    async for page in it:
        out.append(page)
        if limit is not None and len(out) >= limit:
            break
    return out


def numbers(read: list[Page[Any]]) -> list[str]:
    return [r.number for p in read for r in p.records]


async def test_page_numbers_with_overlap_skip_nothing_when_records_shift() -> None:
    org = PagedOrg(16)
    reader = PageNumbers(overlap=1)
    part = await pages(reader.read(org.fetch, None), limit=2)
    cursor = part[-1].next_cursor
    moved = org.correct(
        1, status=CertificateStatus.REVOKED
    )  # page 1 record moves to the end: pages shift back
    rest = await pages(reader.read(org.fetch, cursor))
    delivered = numbers(part) + numbers(rest)
    assert set(delivered) == {c.number for c in org.rows}  # NO-0008 shifted onto page 2: kept
    assert any(r == moved for p in rest for r in p.records)
    assert not any(p.complete for p in part + rest)  # not a snapshot reader


async def test_without_overlap_the_same_shift_skips_a_record() -> None:
    org = PagedOrg(16)
    reader = PageNumbers(overlap=0)
    part = await pages(reader.read(org.fetch, None), limit=2)
    org.correct(1, status=CertificateStatus.REVOKED)
    rest = await pages(reader.read(org.fetch, part[-1].next_cursor))
    assert set(numbers(part) + numbers(rest)) != {c.number for c in org.rows}


async def test_a_snapshot_reader_marks_only_whole_reads_complete() -> None:
    org = PagedOrg(10)
    reader = PageNumbers(snapshot=True)
    whole = await pages(reader.read(org.fetch, None))
    assert [p.complete for p in whole] == [False, False, True]
    assert set(numbers(whole)) == {c.number for c in org.rows}
    cut = await pages(reader.read(org.fetch, None), limit=1)
    resumed = await pages(reader.read(org.fetch, cut[-1].next_cursor))
    assert not any(p.complete for p in resumed)
    # the next night starts from page 1 again, and is complete again
    org.rows.pop(3)
    night = await pages(reader.read(org.fetch, whole[-1].next_cursor))
    assert night[-1].complete and set(numbers(night)) == {c.number for c in org.rows}


async def test_an_empty_page_before_the_end_is_a_contract_error_not_the_end() -> None:
    from gateway import ContractError

    async def fetch(page_no: int) -> tuple[Sequence[Any], bool]:
        return ([cert(page_no)] if page_no == 1 else []), True

    with pytest.raises(ContractError, match="page 2 is empty"):
        await pages(PageNumbers(snapshot=True).read(fetch, None))
