"""Not broken: the template rewritten for a page-number organization with the plugin API 1.1
helpers, to show they keep the contract. Results are listed by change time, paged by number,
with no filter (``gateway.PageNumbers`` with an overlap); certificates are a list of the
current ones only, in no useful order (``PageNumbers(snapshot=True)``: the whole list every
run, marked complete)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
from fake_example_org import ExampleOrgSandbox, FakeExampleOrg
from xgate_example_org import wire
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import Page, PageNumbers


class PagedOrg(FakeExampleOrg):
    """``?page=N&size=S``: results by change time; certificates in force only, by number."""

    def page(self, rows: list[Any], params: httpx.QueryParams) -> tuple[list[Any], bool]:
        if rows and hasattr(rows[0], "cert_no"):
            rows = sorted((r for r in rows if r.state == "VALID"), key=lambda r: r.cert_no)
        else:
            rows = sorted(rows, key=lambda r: (r.changed_at, r.seq))
        size, number = int(params.get("size", "100")), int(params.get("page", "1"))
        return rows[(number - 1) * size : number * size], number * size < len(rows)


class PagedAdapter(ExampleOrgAdapter):
    def scores(self, cursor: str | None) -> AsyncIterator[Page[Any]]:
        return PageNumbers(overlap=2).read(self._fetch("/v2/results", wire.score), cursor)

    def certificates(self, cursor: str | None) -> AsyncIterator[Page[Any]]:
        reader = PageNumbers(snapshot=True)
        return reader.read(self._fetch("/v2/certificates", wire.certificate), cursor)

    def _fetch(self, path: str, convert: Callable[[str, Any], Any]) -> Callable[[int], Any]:
        async def fetch(page_no: int) -> tuple[Sequence[Any], bool]:
            params = {"size": self.settings.page_size, "page": page_no}
            data = self._answer(await self.http.get(path, params=params, headers=self.auth), path)
            return [convert(self.organization, i) for i in data["items"]], bool(data["more"])

        return fetch


class PagedSandbox(ExampleOrgSandbox):
    def expected(self, stream: str) -> int:
        if stream == "scores":
            return len(self.org.results)
        return sum(c.state == "VALID" for c in self.org.certificates.values())

    async def withdraw(self) -> str:
        cert = min(
            (c for c in self.org.certificates.values() if c.state == "VALID"), key=lambda c: c.seq
        )
        cert.state = "REVOKED"  # gone from the list of certificates in force
        return cert.cert_no


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=PagedAdapter)


def sandbox() -> ExampleOrgSandbox:
    return PagedSandbox(PagedOrg())
