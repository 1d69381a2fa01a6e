"""What every simulator shares: a loopback aiohttp server, a clock tests drive, stream faults,
and a ``python -m xgate_simulators.<org>`` entry.

A simulator subclasses ``SimulatorServer`` and implements ``routes()``. It starts in-process on
an ephemeral port (``async with sim.running() as url``) so tests never collide on ports, and
the fault middleware sits outermost so injected faults hit before and after the handler
exactly as a flaky network would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pickle
import random
import signal
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from xgate_simulators.faults import FaultPlan, fault_middleware

T = TypeVar("T")


class SimClock:
    """The organization's clock: fixed start, moves only when told (or when data is written).

    Deterministic timestamps make runs repeatable, and tests expire tokens or pass deadlines by
    ``advance`` instead of sleeping.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulator clock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


@dataclass
class StreamFaults:
    """Faults inside a well-formed page: records repeated from the page before (as an
    organization that re-reads an overlap does) and records out of order within a page."""

    duplicate: float = 0.0  # chance a page starts with the last records of the page before
    shuffle: float = 0.0  # chance a page's records come out of order
    max_duplicates: int = 3
    seed: int = 0
    rng: random.Random = field(init=False)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def disturb(self, page: Sequence[T], before: Sequence[T]) -> list[T]:
        """``before`` holds the records preceding this page, in stream order."""
        out = list(page)
        if before and self.rng.random() < self.duplicate:
            n = self.rng.randint(1, min(self.max_duplicates, len(before)))
            out = list(before[-n:]) + out
            self.counts["duplicate"] = self.counts.get("duplicate", 0) + 1
        if len(out) > 1 and self.rng.random() < self.shuffle:
            self.rng.shuffle(out)
            self.counts["shuffle"] = self.counts.get("shuffle", 0) + 1
        return out


class SimulatorServer:
    """An aiohttp application on 127.0.0.1 with fault injection; subclasses add routes."""

    title = "simulator"

    def __init__(self, *, faults: FaultPlan | None = None, host: str = "127.0.0.1") -> None:
        self.faults = faults
        self.host = host
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def set_faults(self, faults: FaultPlan | None) -> None:
        self.faults = faults

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[fault_middleware(lambda: self.faults)])
        app.add_routes(self.routes())
        return app

    async def start(self, port: int = 0) -> str:
        """Listen on ``port`` (0: a free one) and return the base URL."""
        if self._runner is not None:
            return self.url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        runner = web.AppRunner(self.build_app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self.url = f"http://{self.host}:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    #: attributes that belong to one process (sockets, tasks), never saved
    _PROCESS_STATE = frozenset({"_runner", "_tasks", "url", "host", "faults"})

    def save_state(self, path: Path) -> None:
        """Keep the organization's state (ground truth, counters, clock) in a file, so a later
        process (the demo's second run) meets the same organization. Our own file: pickle."""
        state = {}
        for key, value in vars(self).items():
            if key in self._PROCESS_STATE:
                continue
            try:
                pickle.dumps(value)
            except Exception:  # callables and the like stay per process
                continue
            state[key] = value
        path.write_bytes(pickle.dumps(state))

    def load_state(self, path: Path) -> bool:
        """Restore what ``save_state`` kept; False when there is no such file."""
        if not path.exists():
            return False
        vars(self).update(pickle.loads(path.read_bytes()))  # our own file, never a download
        return True

    @contextlib.asynccontextmanager
    async def running(self, port: int = 0) -> AsyncIterator[str]:
        url = await self.start(port)
        try:
            yield url
        finally:
            await self.stop()


def serve(
    factory: Callable[[argparse.Namespace], SimulatorServer],
    argv: Sequence[str] | None = None,
    *,
    description: str = "",
) -> None:
    """Command-line entry: start one simulator, print its URL, serve until interrupted."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", type=float, default=0.0, help="uniform fault rate 0..1")
    args = parser.parse_args(argv)

    async def main() -> None:
        sim = factory(args)
        sim.host = args.host
        if args.faults:
            sim.set_faults(FaultPlan.uniform(args.faults, seed=args.seed))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with sim.running(args.port) as url:
            print(url, flush=True)
            await stop.wait()

    asyncio.run(main())
