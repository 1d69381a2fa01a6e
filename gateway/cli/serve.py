"""``xgate serve``: the gateway's HTTP service (web console, JSON API, webhooks, health)."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli import state
from gateway.cli.output import console, run_async


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0: any free port)")] = 8080,
) -> None:
    """Serve the web console (/ and /api/), POST /webhooks/{organization} and GET /health until
    interrupted."""

    async def go() -> None:
        import asyncio

        from aiohttp import web

        from gateway.server import build_app

        async with state.open_existing() as gw:
            from gateway.server import READ_BUFSIZE

            runner = web.AppRunner(build_app(gw), access_log=None, read_bufsize=READ_BUFSIZE)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            console.print(f"xgate API on http://{host}:{port} (Ctrl-C to stop)")
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()

    run_async(go)
