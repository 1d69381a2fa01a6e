"""What a simulated organization really holds, kept apart from what its API says about it.

Tests compare what the gateway read through an adapter with this ground truth, so it must be
plain data that no HTTP fault can touch. Both reference simulators use it; nothing here knows
about wire formats.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

HALF = Decimal("0.5")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SimPlan:
    """One exam plan as a simulated organization holds it."""

    code: str
    certificate_code: str
    level: int
    exam_date: date
    registration_deadline: date | None = None

    @property
    def last_day(self) -> date:
        """Registrations close at the end of the deadline, or the day before the exam."""
        return self.registration_deadline or self.exam_date - timedelta(days=1)


@dataclass
class TruthRegistration:
    registration_id: str
    plan_code: str
    id_number: str
    name: str
    created_at: datetime
    idempotency_key: str | None = None


@dataclass(frozen=True)
class ScoreRevision:
    """One version of a result; a correction appends a new one with a later ``updated_at``."""

    revision: int
    theory: Decimal | None
    practical: Decimal | None
    total: Decimal | None
    passed: bool
    absent: bool
    updated_at: datetime


@dataclass
class TruthScore:
    seq: int
    registration_id: str
    plan_code: str
    id_number: str
    name: str
    certificate_code: str
    level: int
    revisions: list[ScoreRevision] = field(default_factory=list)

    @property
    def current(self) -> ScoreRevision:
        return self.revisions[-1]


@dataclass
class TruthCertificate:
    seq: int
    number: str
    registration_id: str
    plan_code: str
    id_number: str
    holder_name: str
    certificate_code: str
    certificate_name: str
    level: int
    issued_on: date
    updated_at: datetime
    status: str = "valid"
    revoked_reason: str | None = None


@dataclass(frozen=True)
class Revocation:
    number: str
    reason: str
    at: datetime


@dataclass
class GroundTruth:
    """The organization's own records plus counters tests use to prove "exactly once"."""

    registrations: dict[tuple[str, str], TruthRegistration] = field(default_factory=dict)
    registration_requests: int = 0  # HTTP registration requests that reached the handler
    registration_items: int = 0  # candidate items in those requests, replays included
    replayed_items: int = 0  # items answered from the idempotency store
    scores: dict[tuple[str, str], TruthScore] = field(default_factory=dict)
    certificates: dict[str, TruthCertificate] = field(default_factory=dict)
    revocations: list[Revocation] = field(default_factory=list)
    issue_requests: int = 0

    def registered(self, plan_code: str | None = None) -> set[str]:
        """ID numbers registered (for one plan, or any)."""
        return {
            r.id_number
            for (plan, _), r in self.registrations.items()
            if plan_code is None or plan == plan_code
        }

    def certificate_for(self, registration_id: str) -> TruthCertificate | None:
        for cert in self.certificates.values():
            if cert.registration_id == registration_id:
                return cert
        return None


def total_of(theory: Decimal | None, practical: Decimal | None) -> Decimal | None:
    """The simulators' total: the mean of both parts, to the cent (exact for half points)."""
    if theory is None or practical is None:
        return None
    return ((theory + practical) / 2).quantize(CENT)


def draw_scores(
    seed: int,
    plan_code: str,
    id_number: str,
    *,
    theory_pass: int = 60,
    practical_pass: int = 60,
    pass_rate: float = 0.8,
    absent_rate: float = 0.03,
) -> tuple[Decimal | None, Decimal | None]:
    """Deterministic scores per (seed, plan, person), independent of grading order.

    About ``pass_rate`` of candidates pass both parts; ``absent_rate`` did not sit (no scores);
    the rest fail one part or both. Scores are in half points, as markers give them.
    """
    rng = random.Random(f"{seed}:{plan_code}:{id_number}")
    roll = rng.random()
    if roll < absent_rate:
        return None, None

    def between(low: int, high: int) -> Decimal:
        return Decimal(rng.randint(low * 2, high * 2)) * HALF

    if roll < absent_rate + pass_rate * (1 - absent_rate):
        return between(theory_pass, 100), between(practical_pass, 100)
    failing = rng.choice(("theory", "practical", "both"))
    theory = (
        between(20, theory_pass - 1) if failing in ("theory", "both") else between(theory_pass, 100)
    )
    practical = (
        between(20, practical_pass - 1)
        if failing in ("practical", "both")
        else between(practical_pass, 100)
    )
    return theory, practical


class _PassRule(Protocol):
    @property
    def theory_pass(self) -> int: ...
    @property
    def practical_pass(self) -> int: ...


class _Plan(Protocol):
    @property
    def certificate_code(self) -> str: ...
    @property
    def level(self) -> int: ...


def score_revision(
    number: int,
    rule: _PassRule,
    theory: Decimal | None,
    practical: Decimal | None,
    moment: datetime,
) -> ScoreRevision:
    """One version of a result, judged by the certificate's pass rule."""
    passed = (
        theory is not None
        and practical is not None
        and theory >= rule.theory_pass
        and practical >= rule.practical_pass
    )
    return ScoreRevision(
        revision=number,
        theory=theory,
        practical=practical,
        total=total_of(theory, practical),
        passed=passed,
        absent=theory is None and practical is None,
        updated_at=moment,
    )


def grade_new(
    truth: GroundTruth,
    plans: Mapping[str, _Plan],
    rules: Mapping[str, _PassRule],
    *,
    seed: int,
    pass_rate: float,
    next_seq: Callable[[], int],
    moment: datetime,
    plan_code: str | None = None,
) -> list[TruthScore]:
    """Score every registered, not yet graded candidate (deterministic from the seed)."""
    graded: list[TruthScore] = []
    for reg in sorted(truth.registrations.values(), key=lambda r: r.registration_id):
        if plan_code is not None and reg.plan_code != plan_code:
            continue
        key = (reg.plan_code, reg.id_number)
        if key in truth.scores:
            continue
        plan = plans[reg.plan_code]
        rule = rules[plan.certificate_code]
        theory, practical = draw_scores(
            seed,
            reg.plan_code,
            reg.id_number,
            theory_pass=rule.theory_pass,
            practical_pass=rule.practical_pass,
            pass_rate=pass_rate,
        )
        score = TruthScore(
            seq=next_seq(),
            registration_id=reg.registration_id,
            plan_code=reg.plan_code,
            id_number=reg.id_number,
            name=reg.name,
            certificate_code=plan.certificate_code,
            level=plan.level,
        )
        score.revisions.append(score_revision(1, rule, theory, practical, moment))
        truth.scores[key] = score
        graded.append(score)
    return graded
