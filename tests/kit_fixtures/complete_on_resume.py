"""Broken on purpose: the adapter marks every read complete, also one resumed from a stored
cursor, so the core would withdraw every certificate listed before the cursor (kit rule:
snapshot reads list everything)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

from fake_example_org import ExampleOrgSandbox
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import Page


class AlwaysCompleteAdapter(ExampleOrgAdapter):
    async def _stream(
        self, path: str, cursor: str | None, convert: Callable[[str, Any], Any]
    ) -> AsyncIterator[Page[Any]]:
        pages: list[Page[Any]] = [p async for p in super()._stream(path, cursor, convert)]
        for i, page in enumerate(pages):
            yield dataclasses.replace(page, complete=i == len(pages) - 1)


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=AlwaysCompleteAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox()
