"""Pages fetched ahead and applied in groups (``gateway.sync._page_groups``): the order, the
first page alone, groups only of pages already fetched, errors after the pages before them,
and an abandoned read cancelled. The sync's outcome with groups is covered by the sync, crash
and fault tests; these pin the grouping itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from gateway.contract import Page
from gateway.sync import GROUP_PAGES, _page_groups


def page(n: int) -> Page[int]:
    return Page(records=[n], next_cursor=str(n))


async def ready(count: int, fail_after: int | None = None) -> AsyncIterator[Page[int]]:
    """Pages that are there at once (a fast organization); a fetch error after ``fail_after``."""
    for n in range(1, count + 1):
        if fail_after is not None and n > fail_after:
            raise ConnectionError("page fetch failed")
        yield page(n)


async def groups_of(pages: AsyncIterator[Page[int]], most: int = GROUP_PAGES) -> list[list[int]]:
    out: list[list[int]] = []
    async with contextlib.aclosing(_page_groups(pages, most)) as groups:
        async for group in groups:
            out.append([p.records[0] for p in group])  # type: ignore[misc]
    return out


async def test_a_fast_streams_pages_go_in_full_groups_after_the_first_alone() -> None:
    got = await groups_of(ready(20), most=8)
    assert got == [[1], list(range(2, 10)), list(range(10, 18)), [18, 19, 20]]


async def test_a_slow_streams_pages_go_one_per_transaction() -> None:
    """A page not fetched yet is not waited for: each group is what had arrived."""
    arrived: list[asyncio.Event] = [asyncio.Event() for _ in range(6)]

    async def slow() -> AsyncIterator[Page[int]]:
        for n in range(1, 7):
            await arrived[n - 1].wait()
            yield page(n)

    seen: list[list[int]] = []
    arrived[0].set()
    async with contextlib.aclosing(_page_groups(slow(), 8)) as groups:
        async for group in groups:
            seen.append([p.records[0] for p in group])  # type: ignore[misc]
            if len(seen) < 6:
                arrived[len(seen)].set()  # the next page arrives only after this one applied
    assert seen == [[1], [2], [3], [4], [5], [6]]


async def test_an_error_fetched_ahead_surfaces_after_the_pages_before_it() -> None:
    seen: list[list[int]] = []
    with pytest.raises(ConnectionError):
        async with contextlib.aclosing(_page_groups(ready(20, fail_after=5), 8)) as groups:
            async for group in groups:
                seen.append([p.records[0] for p in group])  # type: ignore[misc]
    assert seen == [[1], [2, 3, 4, 5]]


async def test_an_empty_stream_and_a_one_page_stream() -> None:
    assert await groups_of(ready(0)) == []
    assert await groups_of(ready(1)) == [[1]]


async def test_an_abandoned_read_cancels_its_fetch_and_closes_the_source() -> None:
    closed = asyncio.Event()
    fetching = asyncio.Event()

    async def hanging() -> AsyncIterator[Page[int]]:
        try:
            yield page(1)
            yield page(2)
            fetching.set()
            await asyncio.Event().wait()  # an organization that never answers
            yield page(3)
        finally:
            closed.set()

    async with contextlib.aclosing(_page_groups(hanging(), 8)) as groups:
        assert [p.records[0] for p in await anext(groups)] == [1]
        assert [p.records[0] for p in await anext(groups)] == [2]
        await fetching.wait()
    assert closed.is_set()
