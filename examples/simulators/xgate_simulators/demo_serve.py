"""``xgate demo --serve``: the demo's organizations and the console, running until Ctrl-C.

After ``xgate demo`` the simulated organizations are stopped (their state is kept in the demo
folder). To do every console job in a browser, including submitting a list, the organizations
must answer: this starts them again from their saved state on fresh loopback ports, rewrites
the demo's ``xgate.toml`` with those ports, and serves the gateway (console, webhooks) on
``host:port`` until interrupted; the organizations' state is saved when it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.runtime import open_gateway
from gateway.settings import load_settings
from xgate_simulators.demo import DEMO_SEED, write_config


async def serve_demo(
    directory: Path,
    host: str,
    port: int,
    *,
    announce: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
) -> None:
    from aiohttp import web

    from gateway.server import build_app
    from xgate_simulators.beifang import BeifangSimulator
    from xgate_simulators.liaohe import LiaoheSimulator

    sims: dict[str, Any] = {
        "beifang": BeifangSimulator(seed=DEMO_SEED),
        "liaohe": LiaoheSimulator(seed=DEMO_SEED),
    }
    states = {name: directory / "simulators" / f"{name}.state" for name in sims}
    for name, sim in sims.items():
        sim.load_state(states[name])
    urls = {name: await sim.start() for name, sim in sims.items()}
    try:
        settings = load_settings(write_config(directory, urls))
        async with open_gateway(settings=settings) as gw:
            runner = web.AppRunner(build_app(gw), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            announce(f"http://{host}:{port}")
            try:
                await (stop or asyncio.Event()).wait()
            finally:
                await runner.cleanup()
    finally:
        for name, sim in sims.items():
            await sim.stop()
            sim.save_state(states[name])
