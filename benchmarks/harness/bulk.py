"""A Beifang simulator that holds hundreds of thousands of records and still pages quickly.

``BeifangSimulator`` sorts its whole store on every page request, which is right for tests
(always consistent, nothing cached) but makes a 200,000-record stream cost seconds per page
*in the simulator*, and that would hide the gateway's own cost in both the gateway's time and
the reference fetch. This subclass keeps the sorted order and its keys until the next write
(every write moves the simulator clock, so the clock plus the record count is the cache key),
and loads synthetic graded records directly, without webhook events.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from xgate_simulators.beifang import BeifangSimulator, decode_cursor, encode_cursor
from xgate_simulators.truth import ScoreRevision, TruthRegistration, TruthScore, total_of

from benchmarks.harness.people import id_numbers

PLAN_CODES = ("BF-2026-HGJL-2", "BF-2026-HAZOP-1", "BF-2026-SHJ-1")
HALF = Decimal("0.5")


class BulkBeifang(BeifangSimulator):
    """``load_scores(n)`` then serve; pages come from a cached order (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._order: dict[str, tuple[tuple[int, datetime], list[Any], list[Any]]] = {}

    def load_scores(self, n: int, *, people_seed: int = 0, certificates: bool = False) -> int:
        """Register and grade ``n`` people over the default plans in one write (one stamp).

        Scores come from one seeded generator (80% pass, 3% absent), not per person, so a
        million records load in seconds. ``certificates`` issues one for every pass.
        """
        rng = random.Random(self.seed)
        moment = self._stamp()
        for i, number in enumerate(id_numbers(n, people_seed)):
            plan = self.plans[PLAN_CODES[i % len(PLAN_CODES)]]
            self._reg_seq += 1
            reg = TruthRegistration(
                f"BFR{self._reg_seq:07d}", plan.code, number, f"考生{i}", moment
            )
            self.truth.registrations[(plan.code, number)] = reg
            roll = rng.random()
            if roll < 0.03:
                theory = practical = None
            elif roll < 0.83:
                theory = Decimal(rng.randint(120, 200)) * HALF
                practical = Decimal(rng.randint(120, 200)) * HALF
            else:
                theory = Decimal(rng.randint(40, 118)) * HALF
                practical = Decimal(rng.randint(40, 200)) * HALF
            passed = theory is not None and practical is not None and min(theory, practical) >= 60
            self._score_seq += 1
            score = TruthScore(
                self._score_seq,
                reg.registration_id,
                plan.code,
                number,
                reg.name,
                plan.certificate_code,
                plan.level,
            )
            revision = ScoreRevision(
                1, theory, practical, total_of(theory, practical), passed, theory is None, moment
            )
            score.revisions.append(revision)
            self.truth.scores[(plan.code, number)] = score
        if certificates:
            for score in self.truth.scores.values():
                if score.current.passed:
                    self._issue_certificate(score)
        self.webhook_events.clear()
        return n

    def _cached(
        self, name: str, rows: Callable[[], Sequence[Any]], key: Callable[[Any], Any]
    ) -> tuple[list[Any], list[Any]]:
        stamp = (len(self.truth.scores) + len(self.truth.certificates), self.clock.now())
        hit = self._order.get(name)
        if hit is None or hit[0] != stamp:
            ordered = sorted(rows(), key=key)
            hit = (stamp, ordered, [key(r) for r in ordered])
            self._order[name] = hit
        return hit[1], hit[2]

    async def _scores(self, request: web.Request) -> web.Response:
        self.hits["scores"] += 1
        rows, keys = self._cached(
            "scores",
            lambda: list(self.truth.scores.values()),
            lambda s: (s.current.updated_at, s.seq),
        )
        return self._fast_page(request, rows, keys, self._score_wire)

    async def _certificates(self, request: web.Request) -> web.Response:
        self.hits["certificates"] += 1
        rows, keys = self._cached(
            "certificates",
            lambda: list(self.truth.certificates.values()),
            lambda c: (c.updated_at, c.seq),
        )
        return self._fast_page(request, rows, keys, self._cert_wire)

    def _fast_page(
        self,
        request: web.Request,
        rows: list[Any],
        keys: list[Any],
        wire: Callable[[Any], dict[str, Any]],
    ) -> web.Response:
        """``BeifangSimulator._page`` on a cached order (cursor paging only)."""
        if (denied := self._deny(request)) is not None:
            return denied
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= self.max_page:
            return web.json_response({"error": {"code": "INVALID_LIMIT"}}, status=400)
        cursor = request.query.get("cursor")
        start = 0
        if cursor:
            try:
                start = bisect_right(keys, decode_cursor(cursor))
            except ValueError:
                return web.json_response({"error": {"code": "INVALID_CURSOR"}}, status=400)
        page = rows[start : start + limit]
        next_cursor = encode_cursor(*keys[start + len(page) - 1]) if page else (cursor or None)
        return web.json_response(
            {
                "data": [wire(r) for r in page],
                "next_cursor": next_cursor,
                "has_more": start + limit < len(rows),
            }
        )
