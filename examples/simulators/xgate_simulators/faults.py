"""Fault injection for the simulators, as aiohttp middleware driven by a seeded RNG.

A ``FaultPlan`` says how often each fault happens; ``commit_then_drop`` is special: the
handler runs (the organization commits) and only then is the connection dropped, which is the
case that makes naive retries register a candidate twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FaultPlan:
    """Probabilities per request (0..1); ``paths`` limits faults to path prefixes."""

    error_5xx: float = 0.0
    rate_limit: float = 0.0
    retry_after: int = 1
    reset: float = 0.0  # connection dropped before the handler runs
    commit_then_drop: float = 0.0  # handler runs, then the connection is dropped
    stall: float = 0.0  # sleep longer than the client timeout, then answer
    stall_seconds: float = 30.0
    malformed: float = 0.0  # 200 with a broken body
    latency: float = 0.0  # seconds added to every request
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    seed: int = 0
    rng: random.Random = field(init=False)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def uniform(cls, rate: float, seed: int = 0, **kw: float | int | tuple[str, ...]) -> FaultPlan:
        """Spread ``rate`` evenly over 5xx, 429, reset, commit-then-drop and malformed."""
        share = rate / 5
        return cls(
            error_5xx=share,
            rate_limit=share,
            reset=share,
            commit_then_drop=share,
            malformed=share,
            seed=seed,
            **kw,  # type: ignore[arg-type]
        )

    def applies(self, request: web.Request) -> bool:
        if self.paths and not any(request.path.startswith(p) for p in self.paths):
            return False
        return not (self.methods and request.method not in self.methods)

    def draw(self) -> str | None:
        roll = self.rng.random()
        for name in ("error_5xx", "rate_limit", "reset", "commit_then_drop", "stall", "malformed"):
            p = getattr(self, name)
            if roll < p:
                self.counts[name] = self.counts.get(name, 0) + 1
                return name
            roll -= p
        return None


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


Middleware = Callable[..., Awaitable[web.StreamResponse]]


def fault_middleware(get_plan: Callable[[], FaultPlan | None]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        plan = get_plan()
        if plan is None or not plan.applies(request):
            return await handler(request)
        if plan.latency:
            await asyncio.sleep(plan.latency)
        fault = plan.draw()
        if fault == "error_5xx":
            return web.Response(status=plan.rng.choice((502, 503, 504)), text="busy")
        if fault == "rate_limit":
            return web.Response(
                status=429, headers={"Retry-After": str(plan.retry_after)}, text="slow down"
            )
        if fault == "reset":
            _drop(request)
            raise ConnectionResetError("injected reset")
        if fault == "stall":
            await asyncio.sleep(plan.stall_seconds)
        response = await handler(request)
        if fault == "commit_then_drop":
            _drop(request)
            raise ConnectionResetError("injected drop after commit")
        if fault == "malformed" and isinstance(response, web.Response):
            broken = '{"data": [ {"broken'
            return web.Response(status=200, text=broken, content_type="application/json")
        return response

    return middleware
