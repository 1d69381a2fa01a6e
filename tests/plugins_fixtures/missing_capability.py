"""Broken on purpose: declares `register` but has no lookup_registration."""

from __future__ import annotations

from pydantic import BaseModel

from gateway import Capability, OrganizationSpec, hookimpl


class Adapter:
    def __init__(self, settings: BaseModel, context: object) -> None:
        pass

    async def register(self, plan: object, requests: object) -> list[object]:
        return []


@hookimpl
def xgate_register_organizations(register: object) -> None:
    register(  # type: ignore[operator]
        OrganizationSpec(
            name="halfway",
            title="Halfway Org",
            version="0.1",
            capabilities=frozenset({Capability.REGISTER}),
            settings_model=BaseModel,
            factory=Adapter,
        )
    )
