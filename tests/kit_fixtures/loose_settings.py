"""Broken on purpose: the settings model accepts unknown keys and keeps the key as plain text
(kit rule: settings errors name the field)."""

from __future__ import annotations

import dataclasses

from fake_example_org import ExampleOrgSandbox
from pydantic import BaseModel
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC


class LooseSettings(BaseModel):
    base_url: str
    api_key: str
    page_size: int = 100
    access_token: str = ""


class LooseAdapter(ExampleOrgAdapter):
    def __init__(self, settings: LooseSettings, context: object) -> None:
        self.settings = settings  # type: ignore[assignment]
        self.http = context.http  # type: ignore[attr-defined]
        self.log = context.logger  # type: ignore[attr-defined]
        self.organization = context.organization  # type: ignore[attr-defined]
        self.auth = {"X-Api-Key": settings.api_key}


SPEC = dataclasses.replace(TEMPLATE_SPEC, settings_model=LooseSettings, factory=LooseAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox()
