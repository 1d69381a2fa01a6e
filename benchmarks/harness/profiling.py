"""cProfile around the measured part of a benchmark (``--profile``): the top entries say what
to optimise, or what stands in the way of a target."""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
from collections.abc import Iterator


@contextlib.contextmanager
def profiled(enabled: bool, top: int = 45, sort: str | None = None) -> Iterator[None]:
    """cProfile the block when ``enabled``; print the ``top`` entries by ``sort`` (default:
    ``XGATE_PROFILE_SORT`` from the environment, else own time)."""
    sort = sort or os.environ.get("XGATE_PROFILE_SORT", "tottime")
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(top)
        print(out.getvalue())
