"""Broken on purpose (the case of issue 11): a page-number listing in creation order and an
organization that corrects records without a newer stamp. Resuming from the page number never
delivers a correction of a record on an earlier page; every stamp looks current, so only a
comparison by value notices (kit rule: resume from a stored cursor)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fake_example_org import ExampleOrgSandbox, FakeExampleOrg
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import Invalid, Page


class CreationOrderOrg(FakeExampleOrg):
    """Lists by creation (``seq``), pages by number; corrections keep their old stamp."""

    def page(self, rows: list[Any], params: httpx.QueryParams) -> tuple[list[Any], bool]:
        rows = sorted(rows, key=lambda r: r.seq)
        size, number = int(params.get("size", "100")), int(params.get("page", "1"))
        return rows[(number - 1) * size : number * size], number * size < len(rows)

    def correct_oldest(self) -> None:
        result = min(self.results.values(), key=lambda r: r.seq)
        result.theory = min(100.0, (result.theory or 0) + 5)
        result.total = ((result.theory or 0) + (result.practical or 0)) / 2

    def revoke_oldest(self) -> None:
        valid = [c for c in self.certificates.values() if c.state == "VALID"]
        if valid:
            cert = min(valid, key=lambda c: c.seq)
            cert.state, cert.revoke_reason = "REVOKED", "考核违规"


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
            more = data["more"]
            # the last page's cursor stays on it, so the next night re-reads it for new rows
            yield Page(records=records, next_cursor=str(number if more else number - 1))
            if not more:
                return


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=PageNumberAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox(CreationOrderOrg())
