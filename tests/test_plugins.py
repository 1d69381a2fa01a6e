from __future__ import annotations

import importlib
import importlib.metadata as md
from collections.abc import Iterable

import pytest

from gateway.plugins import load_plugins
from tests.plugins_fixtures import good


class FakeDist:
    def __init__(self, name: str) -> None:
        self.metadata = {"Name": name}
        self.version = "9.9"


class FakeEntryPoint:
    """Stands in for an installed distribution's entry point."""

    def __init__(self, name: str, module: str, dist: str) -> None:
        self.name = name
        self.value = module
        self.dist = FakeDist(dist)

    def load(self) -> object:
        return importlib.import_module(self.value)


def eps(*items: tuple[str, str]) -> Iterable[md.EntryPoint]:
    return [FakeEntryPoint(n, m, f"xgate-{n}") for n, m in items]  # type: ignore[misc]


ALL = (
    ("good", "tests.plugins_fixtures.good"),
    ("brokenimport", "tests.plugins_fixtures.does_not_exist"),
    ("misspelt", "tests.plugins_fixtures.misspelt"),
    ("halfway", "tests.plugins_fixtures.missing_capability"),
    ("oldtimer", "tests.plugins_fixtures.old_api"),
)


def test_broken_plugins_each_get_one_message_and_good_ones_still_load() -> None:
    host = load_plugins(lambda: eps(*ALL))
    assert set(host.specs) == {"good"}
    messages = {e.plugin: str(e) for e in host.errors}
    assert set(messages) == {"brokenimport", "misspelt", "halfway", "oldtimer"}
    assert "xgate-brokenimport 9.9" in messages["brokenimport"]
    assert "cannot be imported" in messages["brokenimport"]
    assert "xgate_register_organisations" in messages["misspelt"]
    assert "lookup_registration" in messages["halfway"] and "register" in messages["halfway"]
    assert "0.9" in messages["oldtimer"] and "1.1" in messages["oldtimer"]


def test_good_plugin_works_after_broken_ones() -> None:
    host = load_plugins(lambda: eps(*ALL))
    spec = host.spec("good").spec
    adapter = spec.factory(spec.settings_model(client_secret="s"), None)
    assert adapter.settings.client_secret == "s"
    good.seen_events.clear()
    host.emit("xgate_score_recorded", organization="o", score=None, revision=2, corrected=True)
    assert good.seen_events == ["o:2"]


def test_disable_plugins_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XGATE_DISABLE_PLUGINS", "good, misspelt")
    host = load_plugins(lambda: eps(*ALL[:3]))
    assert host.specs == {}
    assert [e.plugin for e in host.errors] == ["brokenimport"]


def test_event_hook_that_raises_is_confined(caplog: pytest.LogCaptureFixture) -> None:
    class Boom:
        from gateway import hookimpl

        @staticmethod
        @hookimpl
        def xgate_certificate_revoked(organization: str, certificate: object) -> None:
            raise RuntimeError("observer bug")

    host = load_plugins(lambda: [], extra=[("boom", Boom())])
    host.emit("xgate_certificate_revoked", organization="x", certificate=None)
    assert "observer bug" in caplog.text and "boom" in caplog.text


def test_builtin_plugins_are_entry_points_with_distribution() -> None:
    host = load_plugins()
    for name in ("beifang", "liaohe"):
        if name in host.specs:
            dist = host.specs[name].distribution
            assert dist and dist.startswith("xgate ")
    assert {ep.name for ep in md.entry_points(group="xgate.plugins")} >= {"beifang", "liaohe"}


def test_emit_reaches_implementations_registered_later_and_skips_unheard_hooks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = load_plugins(lambda: [])
    host.emit("xgate_score_recorded", organization="o", score=None, revision=1, corrected=False)
    heard: list[dict[str, object]] = []

    class Late:
        from gateway import hookimpl

        @staticmethod
        @hookimpl
        def xgate_score_recorded(
            organization: str, score: object, revision: int, corrected: bool
        ) -> None:
            heard.append(
                {
                    "organization": organization,
                    "score": score,
                    "revision": revision,
                    "corrected": corrected,
                }
            )

    host.pm.register(Late(), name="late")  # whether anyone listens is asked per event
    host.emit("xgate_score_recorded", organization="o", score="s", revision=2, corrected=True)
    assert heard == [{"organization": "o", "score": "s", "revision": 2, "corrected": True}]
    host.emit("xgate_no_such_hook", organization="o")  # a wrong name is logged, never raised
    assert "xgate_no_such_hook" in caplog.text
