"""A console served from a background thread, and Debian's chromium driven by Playwright.

The browser tests are synchronous (Playwright's sync API) and the server runs in its own
event loop on a loopback port, so one browser and one server serve the whole session. Under
``CI=true`` a missing chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("XGATE_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = f"chromium not found at {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: browser tests never skip)", pytrace=False)
    pytest.skip(message)


@dataclass
class Served:
    url: str
    gw: Any
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (database checks from a sync test)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


@contextmanager
def serve_in_thread(open_gateway: Any, setup: Any) -> Iterator[Served]:
    """Open a gateway with ``open_gateway()`` (an async context manager), run ``setup(gw)``,
    serve ``build_app(gw)`` on 127.0.0.1 from a thread until the block ends."""
    from aiohttp import web

    from gateway.server import build_app

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            async with open_gateway() as gw:
                await setup(gw)
                runner = web.AppRunner(build_app(gw), access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                box["served"] = Served(f"http://127.0.0.1:{port}", gw, loop)
                ready.set()
                await stop.wait()
                await runner.cleanup()
        except BaseException as exc:
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    ready.wait(120)
    if "error" in box:
        raise box["error"]
    try:
        yield box["served"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()
