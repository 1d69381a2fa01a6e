"""The collector is off only while a command starts, and start-up objects are frozen once."""

from __future__ import annotations

import gc
from typing import Any, ClassVar

import pytest

from gateway import heap


class FakeTimer:
    made: ClassVar[list[FakeTimer]] = []

    def __init__(self, interval: float, function: Any) -> None:
        self.interval, self.function, self.daemon, self.started = interval, function, False, False
        FakeTimer.made.append(self)

    def start(self) -> None:
        self.started = True


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(heap.threading, "Timer", FakeTimer)
    monkeypatch.setattr(heap, "_frozen", False)
    FakeTimer.made.clear()
    was, threshold = gc.isenabled(), gc.get_threshold()
    yield
    gc.enable() if was else gc.disable()
    gc.set_threshold(*threshold)


def test_starting_disables_collection_with_a_timer_that_turns_it_back_on(collector: Any) -> None:
    heap.starting()
    assert not gc.isenabled()
    (timer,) = FakeTimer.made
    assert (timer.interval, timer.function, timer.daemon, timer.started) == (
        heap.START_LIMIT,
        gc.enable,
        True,
        True,
    )
    timer.function()  # what the timer does if no work ever begins
    assert gc.isenabled()


def test_working_freezes_once_and_collects_from_then_on(
    collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    freezes: list[int] = []
    monkeypatch.setattr(heap.gc, "freeze", lambda: freezes.append(1))
    gc.set_threshold(700, 10, 10)
    heap.starting()
    heap.working()
    assert gc.isenabled() and freezes == [1]
    assert gc.get_threshold() == (heap.WORK_THRESHOLD, 10, 10)  # young objects die by refcount
    gc.disable()
    heap.working()  # a worker's second job: collection on again, no second freeze
    assert gc.isenabled() and freezes == [1]


async def test_opening_the_gateway_is_where_work_begins(
    collector: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from gateway.runtime import open_gateway
    from gateway.settings import Settings

    calls: list[str] = []
    monkeypatch.setattr(heap, "working", lambda: calls.append("working"))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with open_gateway(settings=settings, create=True):
        assert calls == ["working"]
