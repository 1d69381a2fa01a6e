"""Deterministic valid resident ID numbers for tests (GB 11643 check characters)."""

from __future__ import annotations

import random

from gateway.idnumber import check_char


def make_ids(n: int, seed: int = 1, region: str = "210802") -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        year = rng.randint(2000, 2007)
        month, day, seq = rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 999)
        body = f"{region}{year}{month:02d}{day:02d}{seq:03d}"
        number = body + check_char(body)
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out
