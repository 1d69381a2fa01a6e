"""The injectable sleep for tests: records each wait instead of waiting.

The core and adapters take their ``sleep`` from the gateway (``AdapterContext.sleep``), so a
test that injects ``RecordingSleep()`` runs retries and back-offs instantly and can assert the
exact waits (``.waits``). One class for the core's tests, the conformance kit and the
benchmarks; ``yield_control`` lets other tasks run at each wait, as a real sleep would.
"""

from __future__ import annotations

import asyncio


class RecordingSleep:
    def __init__(self, *, yield_control: bool = False) -> None:
        self.waits: list[float] = []
        self.yield_control = yield_control

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.yield_control:
            await asyncio.sleep(0)
