"""Broadcast hooks go through pluggy: ordering and wrappers as pluggy users expect, and every
implementation isolated, so one broken observer (or one broken plugin) stops nothing else."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from gateway import hookimpl
from gateway.plugins import load_plugins

calls: list[str] = []


class First:
    @staticmethod
    @hookimpl(tryfirst=True)
    def xgate_certificate_withdrawn(organization: str, number: str, reason: str) -> None:
        calls.append(f"first:{number}")


class Broken:
    @staticmethod
    @hookimpl
    def xgate_certificate_withdrawn(organization: str, number: str) -> None:
        calls.append("broken")
        raise RuntimeError("observer bug 110101199003077777")


class Last:
    @staticmethod
    @hookimpl(trylast=True)
    def xgate_certificate_withdrawn(number: str) -> None:
        calls.append(f"last:{number}")


class Wrapper:
    @staticmethod
    @hookimpl(wrapper=True)
    def xgate_certificate_withdrawn(number: str) -> Generator[None, Any, Any]:
        calls.append("before")
        result = yield
        calls.append(f"after:{len(result)}")
        return result


class BrokenWrapper:
    @staticmethod
    @hookimpl(wrapper=True)
    def xgate_certificate_withdrawn(number: str) -> Generator[None, Any, Any]:
        raise RuntimeError("wrapper bug")
        yield  # pragma: no cover


class Unknown:
    """A hook implementation with no specification (pluggy's check_pending finds it)."""

    @staticmethod
    @hookimpl
    def on_certificate(number: str) -> None:  # pragma: no cover
        pass


def test_ordering_wrappers_and_isolation(caplog: pytest.LogCaptureFixture) -> None:
    plugins = [
        ("a_last", Last),
        ("b_broken", Broken),
        ("c_wrapper", Wrapper),
        ("d_first", First),
        ("e_broken_wrapper", BrokenWrapper),
    ]
    host = load_plugins(lambda: [], extra=plugins)
    assert host.errors == []
    calls.clear()
    host.emit("xgate_certificate_withdrawn", organization="o", number="N1", reason="gone")
    assert calls[0] == "before" and calls[-1].startswith("after:")
    inner = calls[1:-1]
    assert inner[0] == "first:N1" and inner[-1] == "last:N1" and "broken" in inner
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("b_broken" in m and "observer bug" in m for m in failures)
    assert any("e_broken_wrapper" in m and "wrapper bug" in m for m in failures)
    assert not any("110101199003077777" in m for m in failures)  # masked


def test_a_plugin_with_an_unknown_hook_fails_alone() -> None:
    host = load_plugins(lambda: [], extra=[("a_unknown", Unknown), ("b_first", First)])
    assert [e.plugin for e in host.errors] == ["a_unknown"]
    assert "on_certificate" in str(host.errors[0])
    calls.clear()
    host.emit("xgate_certificate_withdrawn", organization="o", number="N2", reason="gone")
    assert calls == ["first:N2"]
