"""Broken on purpose: an incomplete mapping table passes Example Org's "FAIL" result code
through as ``passed``, so every failed candidate's score is invalid (kit rule: records
validate)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from fake_example_org import ExampleOrgSandbox
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import Page, ScoreRecord


def sloppy_score(organization: str, item: Any) -> dict[str, Any]:
    return {
        "plan_code": item["plan"],
        "id_number": item["id_number"],
        "name": item["name"],
        "theory": item["theory"],
        "practical": item["practical"],
        "total": item["total"],
        "passed": {"PASS": True}.get(item["result"], item["result"]),
        "revised_at": item["changed_at"],
    }


class SloppyAdapter(ExampleOrgAdapter):
    def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]:
        return self._stream("/v2/results", cursor, sloppy_score)  # type: ignore[arg-type]


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=SloppyAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox()
