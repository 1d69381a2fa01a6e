"""Broken on purpose: logs each candidate's ID number and mobile at DEBUG level (kit rule: no
personal data in logs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from fake_example_org import ExampleOrgSandbox
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import ExamPlan, RegistrationOutcome, RegistrationRequest


class ChattyAdapter(ExampleOrgAdapter):
    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationOutcome]:
        for r in requests:
            self.log.debug("sending %s (%s)", r.candidate.id_number, r.candidate.mobile)
        return await super().register(plan, requests)


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=ChattyAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox()
