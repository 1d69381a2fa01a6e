"""Many distinct, valid resident ID numbers, fast and reproducible.

Benchmarks need up to a million people; drawing random numbers and rejecting repeats slows
down as the set fills, so numbers are enumerated instead: the index picks the sequence number,
the birth date and the region, and the seed only rotates where the enumeration starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from gateway.idnumber import CHECK_CHARS, WEIGHTS

#: Fictional-enough region codes (Liaoning prefectures); 2,920 birth dates x 1,000 sequence
#: numbers each, so 29 million people before anything repeats.
REGIONS = (
    "210102",
    "210202",
    "210302",
    "210402",
    "210502",
    "210602",
    "210702",
    "210802",
    "210902",
    "211002",
)
FIRST_DAY = date(2000, 1, 1)
DAYS = 2920
SEQUENCES = 1000


def id_numbers(n: int, seed: int = 0) -> Iterator[str]:
    """``n`` distinct valid 18-character resident ID numbers.

    The check character is computed from partial sums (the 14-digit prefix once per birth
    date, the 3-digit sequence from a table): the plain GB 11643 sum costs more than the rest
    of loading a benchmark's records together.
    """
    capacity = len(REGIONS) * DAYS * SEQUENCES
    if n > capacity:
        raise ValueError(f"at most {capacity} distinct numbers")
    tail = [
        sum(int(d) * w for d, w in zip(f"{s:03d}", WEIGHTS[14:], strict=True))
        for s in range(SEQUENCES)
    ]
    start = (seed * 7919) % capacity
    prefix, prefix_sum, prefix_at = "", 0, -1
    for i in range(n):
        k = (start + i) % capacity
        seq, rest = k % SEQUENCES, k // SEQUENCES
        if rest != prefix_at:
            day, region = rest % DAYS, rest // DAYS
            prefix = f"{REGIONS[region]}{FIRST_DAY + timedelta(days=day):%Y%m%d}"
            prefix_sum = sum(int(d) * w for d, w in zip(prefix, WEIGHTS[:14], strict=True))
            prefix_at = rest
        yield f"{prefix}{seq:03d}{CHECK_CHARS[(prefix_sum + tail[seq]) % 11]}"


def people(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``(id_number, name)`` pairs as the simulators' ``add_registrations`` takes them."""
    return [(number, f"考生{i}") for i, number in enumerate(id_numbers(n, seed))]
