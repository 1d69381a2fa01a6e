"""Broken on purpose: registers blindly (no key, no look-up first) at an organization that does
not de-duplicate, so a resend after a crash registers the candidate twice (kit rule:
registration is idempotent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from fake_example_org import ExampleOrgSandbox, FakeExampleOrg
from xgate_example_org import wire
from xgate_example_org.adapter import ExampleOrgAdapter
from xgate_example_org.plugin import SPEC as TEMPLATE_SPEC

from gateway import ExamPlan, RegistrationOutcome, RegistrationRequest


class ForgetfulOrg(FakeExampleOrg):
    dedupe = False  # every registration request creates a registration


class BlindAdapter(ExampleOrgAdapter):
    async def register(
        self, plan: ExamPlan, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationOutcome]:
        response = await self.http.post(
            "/v2/registrations",
            json={"plan": plan.code, "candidates": [wire.candidate(r) for r in requests]},
            headers=self.auth,
        )
        results = {item["ref"]: item for item in response.json()["results"]}
        return [
            wire.registration_outcome(r.idempotency_key, results[r.idempotency_key])
            for r in requests
        ]


SPEC = dataclasses.replace(TEMPLATE_SPEC, factory=BlindAdapter)


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox(ForgetfulOrg())
