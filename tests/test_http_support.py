"""Scripted transports and a fake clock shared by the ``test_http_*`` modules (no tests here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

Step = int | tuple[int, dict[str, str]] | type[httpx.TransportError]


@dataclass
class Script:
    """A MockTransport handler that answers from a list of steps, repeating the last one.

    A step is a status code, ``(status, headers)``, or an httpx transport error class to raise.
    Every request it receives is kept in ``calls`` (with its body), so tests assert what was
    really sent.
    """

    steps: list[Step]
    calls: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        self.bodies.append(request.read())
        step = self.steps[min(len(self.calls), len(self.steps)) - 1]
        if isinstance(step, type):
            raise step("injected", request=request)
        status, headers = step if isinstance(step, tuple) else (step, {})
        return httpx.Response(status, headers=headers, json={"status": status})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class FakeClock:
    """Monotonic time that only moves when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def client_for(
    script: Script | httpx.AsyncBaseTransport,
    sleep: Any,
    organization: str = "org",
    **policy: Any,
) -> Any:
    from gateway.http import build_client
    from gateway.settings import HttpPolicy

    extra: dict[str, Any] = {}
    for key in ("repeatable", "now", "wall", "rng", "secrets"):
        if key in policy:
            extra[key] = policy.pop(key)
    transport = script.transport() if isinstance(script, Script) else script
    return build_client(
        organization,
        HttpPolicy(**policy),
        base_url="https://org.example",
        sleep=sleep,
        transport=transport,
        **extra,
    )
