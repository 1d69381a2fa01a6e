"""Every organization's client verifies TLS with one shared context, built once per process
(loading the CA bundle cost about 20 ms per client: per organization at start-up, and per
reader process)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from gateway.http import client as http_client
from gateway.settings import HttpPolicy


def test_clients_share_one_verifying_context(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[Any] = []

    class Recording(httpx.AsyncHTTPTransport):
        def __init__(self, **kw: Any) -> None:
            given.append(kw.get("verify"))
            super().__init__(**kw)

    monkeypatch.setattr(http_client.httpx, "AsyncHTTPTransport", Recording)
    for name in ("a", "b", "c"):
        http_client.build_client(name, HttpPolicy())
    assert len(given) == 3
    context = given[0]
    assert isinstance(context, ssl.SSLContext)
    assert all(g is context for g in given)
    assert context is http_client.tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
