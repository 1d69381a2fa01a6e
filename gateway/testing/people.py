"""Made-up candidates for sandboxes: valid resident ID numbers and mobiles, reproducibly.

Every number passes the GB 11643 checksum so an organization's own validation accepts it, and
every candidate carries a mobile so the privacy check has a second kind of personal data to
look for in logs. Seeded, so a failing kit run names the same people when it is run again.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from gateway.idnumber import check_char
from gateway.models import Candidate

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
REGIONS = ("110105", "310104", "440106", "210802", "330106", "510107")


def resident_id(rng: random.Random) -> str:
    """One valid 18-character resident ID number for someone born 1998-2007."""
    region = rng.choice(REGIONS)
    birth = f"{rng.randint(1998, 2007)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = f"{region}{birth}{rng.randint(0, 999):03d}"
    return body + check_char(body)


def candidates(seed: int = 0) -> Iterator[Candidate]:
    """An endless stream of distinct candidates; the same seed yields the same people."""
    rng = random.Random(f"xgate-kit:{seed}")
    seen: set[str] = set()
    while True:
        number = resident_id(rng)
        if number in seen:
            continue
        seen.add(number)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        mobile = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        yield Candidate(name=name, id_number=number, mobile=mobile, major="应用化工技术")
