"""A minimal well-formed plugin with an in-memory adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from pydantic import BaseModel

from gateway import Capability, OrganizationSpec, Page, hookimpl
from gateway.models import ScoreRecord

seen_events: list[str] = []


class GoodSettings(BaseModel):
    base_url: str = "http://127.0.0.1:9"
    client_secret: str


class GoodAdapter:
    def __init__(self, settings: GoodSettings, context: object) -> None:
        self.settings = settings

    async def scores(self, cursor: str | None) -> AsyncIterator[Page[ScoreRecord]]:
        yield Page(records=[], next_cursor=None)

    async def verify(self, number: str, holder_name: str | None = None) -> object:
        raise NotImplementedError


@hookimpl
def xgate_register_organizations(register: object) -> None:
    register(  # type: ignore[operator]
        OrganizationSpec(
            name="good",
            title="Good Org",
            version="1.2.3",
            capabilities=frozenset({Capability.SCORES, Capability.VERIFY}),
            settings_model=GoodSettings,
            factory=GoodAdapter,
        )
    )


@hookimpl
def xgate_score_recorded(organization: str, score: object, revision: int, corrected: bool) -> None:
    seen_events.append(f"{organization}:{revision}")


def names(items: Sequence[str]) -> list[str]:
    return list(items)
