"""Broken on purpose: built for a plugin API major version this core does not speak."""

from __future__ import annotations

from pydantic import BaseModel

from gateway import Capability, OrganizationSpec, hookimpl


class Adapter:
    def __init__(self, settings: BaseModel, context: object) -> None:
        pass

    async def verify(self, number: str, holder_name: str | None = None) -> None:
        return None


@hookimpl
def xgate_register_organizations(register: object) -> None:
    register(  # type: ignore[operator]
        OrganizationSpec(
            name="oldtimer",
            title="Old",
            version="0.1",
            api_version="0.9",
            capabilities=frozenset({Capability.VERIFY}),
            settings_model=BaseModel,
            factory=Adapter,
        )
    )
