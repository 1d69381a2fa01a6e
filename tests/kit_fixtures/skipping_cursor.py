"""Broken on purpose: the cursor is a page number, so a correction that moves a record shifts
every later page and resuming skips records (kit rule: resume from a stored cursor)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fake_example_org import ExampleOrgSandbox, FakeExampleOrg
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import Invalid, Page


class PagedOrg(FakeExampleOrg):
    """Also answers ``?page=N`` (1-based), as many older APIs do."""

    def page(self, rows: list[Any], params: httpx.QueryParams) -> tuple[list[Any], bool]:
        if "page" not in params:
            return super().page(rows, params)  # type: ignore[return-value]
        rows = sorted(rows, key=lambda r: (r.changed_at, r.seq))
        size, number = int(params.get("size", "100")), int(params["page"])
        return rows[(number - 1) * size : number * size], number * size < len(rows)


class PageNumberAdapter(ExampleOrgAdapter):
    async def _stream(
        self, path: str, cursor: str | None, convert: Callable[[str, Any], Any]
    ) -> AsyncIterator[Page[Any]]:
        number = int(cursor or 0)
        while True:
            number += 1
            params = {"size": self.settings.page_size, "page": number}
            data = (await self.http.get(path, params=params, headers=self.auth)).json()
            if not data["items"]:
                return
            records: list[Any | Invalid] = [convert(self.organization, i) for i in data["items"]]
            yield Page(records=records, next_cursor=str(number))
            if not data["more"]:
                return


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=PageNumberAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox(PagedOrg())
