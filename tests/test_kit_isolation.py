"""A failing plugin is confined to its own organization: the others register and sync as if it
were not there (sync and outbox on every database backend)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from gateway import Capability, OrganizationSpec, hookimpl
from gateway.models import Candidate, ExamPlan, ScoreRecord
from gateway.outbox import OutboxItem, deliver, enqueue
from gateway.store import tables as t
from gateway.sync import run_sync
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg

pytestmark = pytest.mark.storage


class ExplodingSettings(BaseModel):
    fuse: str = "lit"


def explode(settings: ExplodingSettings, context: object) -> object:
    raise RuntimeError("adapter constructor bug")


class Exploding:
    """A plugin whose adapter cannot even be built."""

    @staticmethod
    @hookimpl
    def xgate_register_organizations(register: Callable[[Any], None]) -> None:
        register(
            OrganizationSpec(
                name="exploding",
                title="Exploding",
                version="0.1",
                capabilities=frozenset({Capability.SCORES}),
                settings_model=ExplodingSettings,
                factory=explode,
            )
        )


def plan(org: str) -> ExamPlan:
    return ExamPlan(code="P1", organization=org, certificate_code="HGJL", level=2)


def people(n: int, seed: int) -> list[OutboxItem]:
    return [
        OutboxItem(Candidate(name=f"考生{i}", id_number=x)) for i, x in enumerate(make_ids(n, seed))
    ]


async def registrations(gw: Any, organization: str) -> dict[str, int]:
    async with gw.db.connect() as conn:
        rows = await conn.execute(
            select(t.registrations.c.status, func.count())
            .where(t.registrations.c.organization == organization)
            .group_by(t.registrations.c.status)
        )
        return {r[0]: r[1] for r in rows}


async def test_a_plugin_that_raises_in_register_leaves_the_other_organizations_alone(
    make_gateway: Any,
) -> None:
    orgs = {
        "good": {"plugin": "fake", "name": "good"},
        "buggy": {"plugin": "fake", "name": "buggy"},
    }
    async with make_gateway(orgs=orgs) as gw:
        calls: list[int] = []

        async def broken(plan: ExamPlan, requests: Sequence[Any]) -> list[Any]:
            calls.append(len(requests))
            raise RuntimeError("plugin bug in register")

        gw.organization("buggy").adapter.register = broken
        await enqueue(gw, "buggy", plan("buggy"), people(3, seed=21))
        await enqueue(gw, "good", plan("good"), people(4, seed=22))
        bad = await deliver(gw, "buggy")
        good = await deliver(gw, "good")
        assert any("RuntimeError: plugin bug in register" in e for e in bad.errors)
        assert good.ok and good.accepted == 4
        assert await registrations(gw, "good") == {"accepted": 4}
        # the buggy organization's candidates are kept, not lost and not registered anywhere
        assert sum((await registrations(gw, "buggy")).values()) == 3
        assert "accepted" not in await registrations(gw, "buggy")
        assert len(fakeorg.org("buggy").registrations) == 0
        assert len(calls) <= 3  # a bug is not retried in a loop within one delivery


async def test_a_plugin_whose_adapter_cannot_be_built_does_not_stop_the_sync(
    make_gateway: Any,
) -> None:
    orgs = {
        "fake": {"plugin": "fake", "name": "fake"},
        "broken": {"plugin": "exploding"},
        "misconfigured": {"plugin": "fake", "page_size": "many"},
    }
    async with make_gateway(orgs=orgs, extra=[("exploding", Exploding())]) as gw:
        revised = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
        fakeorg.org("fake").scores = [
            ScoreRecord(
                organization="fake",
                plan_code="P1",
                id_number=n,
                theory=80,
                practical=75,
                revised_at=revised,
            )
            for n in make_ids(6, seed=23)
        ]
        report = await run_sync(gw)
        by = {(s.organization, s.stream): s for s in report.streams}
        assert by[("fake", "scores")].status == "ok" and by[("fake", "scores")].new == 6
        assert by[("broken", "*")].status == "failed"
        assert "adapter factory failed" in (by[("broken", "*")].error or "")
        assert "adapter constructor bug" in (by[("broken", "*")].error or "")
        assert by[("misconfigured", "*")].status == "failed"
        assert "organizations.misconfigured.page_size" in (by[("misconfigured", "*")].error or "")
        assert not report.ok


async def test_an_organization_error_names_the_organization_once(make_gateway: Any) -> None:
    """A plugin built for 1.0 that starts its messages with the organization's name, as the
    HTTP layer used to: the report says "huaxin: ..." once, never "huaxin: ...: huaxin: ..."."""
    from gateway import AuthError

    assert str(AuthError("huaxin: token refused", organization="huaxin")) == "token refused"
    assert str(AuthError("huaxinx: token refused", organization="huaxin")).startswith("huaxinx")
    async with make_gateway(orgs={"huaxin": {"plugin": "fake", "name": "huaxin"}}) as gw:

        async def refused(plan: ExamPlan, requests: Sequence[Any]) -> list[Any]:
            raise AuthError("huaxin: authentication failed: bad secret", organization="huaxin")

        gw.organization("huaxin").adapter.register = refused
        await enqueue(gw, "huaxin", plan("huaxin"), people(1, seed=23))
        report = await deliver(gw, "huaxin")
        assert report.errors and all(e.count("huaxin") == 1 for e in report.errors), report.errors
