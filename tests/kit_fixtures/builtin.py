"""Sandboxes for the built-in plugins: the reference simulators as the conformance kit sees
them. Each simulator listens on an ephemeral loopback port, started inside the kit's loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xgate_simulators import beifang, liaohe

from gateway.models import Candidate, ExamPlan
from gateway.testing import Sandbox

#: Scores given when a sandbox is told a candidate passed or failed.
PASS, FAIL = (90, 92), (30, 41)


class BeifangSandbox(Sandbox):
    organization = "beifang"
    seed_size = 12

    def __init__(self) -> None:
        super().__init__()
        self.sim = beifang.BeifangSimulator(seed=3)
        self.plan_code = "BF-2026-HGJL-2"

    async def start(self) -> None:
        await self.sim.start()

    async def stop(self) -> None:
        await self.sim.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.sim.url,
            "client_id": beifang.DEFAULT_CLIENT_ID,
            "client_secret": beifang.DEFAULT_CLIENT_SECRET,
            "webhook_secret": beifang.DEFAULT_WEBHOOK_SECRET,
            "page_size": 4,
            # the simulator's clock is in 2026; the adapter checks signatures against now
            "webhook_tolerance": 1e10,
        }

    def plan(self) -> ExamPlan:
        p = self.sim.plans[self.plan_code]
        return ExamPlan(
            code=p.code,
            organization=self.organization,
            certificate_code=p.certificate_code,
            level=p.level,
            exam_date=p.exam_date,
            registration_deadline=p.registration_deadline,
        )

    async def refusal(self) -> tuple[ExamPlan, Candidate]:
        """Someone already registered for the senior plan of the same certificate."""
        person = self.candidates(1)[0]
        self.sim.add_registrations("BF-2026-HGJL-3", [(person.id_number, person.name)])
        return self.plan(), person

    def registrations(self, plan_code: str, id_number: str) -> int:
        return int((plan_code, id_number) in self.sim.truth.registrations)

    async def seed(self, count: int) -> None:
        people = self.candidates(count)
        self.sim.add_registrations(self.plan_code, [(p.id_number, p.name) for p in people])
        self.sim.grade_all(self.plan_code)
        self.sim.issue_passed(self.plan_code)

    async def change(self) -> None:
        first = min(self.sim.truth.scores.values(), key=lambda s: s.seq)
        old = first.current.theory or 60
        self.sim.correct_score(first.plan_code, first.id_number, theory=min(100, old + 3))
        valid = [c for c in self.sim.truth.certificates.values() if c.status == "valid"]
        if valid:
            self.sim.revoke(min(valid, key=lambda c: c.seq).number, "考核违规")
        await self.seed(2)

    def expected(self, stream: str) -> int:
        truth = self.sim.truth
        return len(truth.scores) if stream == "scores" else len(truth.certificates)

    async def grade(self, plan: ExamPlan, candidates: Sequence[Candidate], *, passed: bool) -> None:
        self.sim.add_registrations(plan.code, [(c.id_number, c.name) for c in candidates])
        self.sim.grade_all(plan.code)
        theory, practical = PASS if passed else FAIL
        for c in candidates:
            self.sim.correct_score(plan.code, c.id_number, theory=theory, practical=practical)

    def certificates_of(self, plan_code: str, id_number: str) -> int:
        return sum(
            1
            for c in self.sim.truth.certificates.values()
            if c.plan_code == plan_code and c.id_number == id_number
        )

    async def certificate(self) -> tuple[str, str]:
        person = self.candidates(1)[0]
        await self.grade(self.plan(), [person], passed=True)
        self.sim.issue_passed(self.plan_code)
        reg = self.sim.truth.registrations[(self.plan_code, person.id_number)]
        cert = self.sim.truth.certificate_for(reg.registration_id)
        assert cert is not None
        return cert.number, person.name

    async def webhook(self) -> tuple[Mapping[str, str], bytes]:
        await self.seed(2)
        event = next(e for e in reversed(self.sim.webhook_events) if e["data"])
        return self.sim.signed_event(event)


class LiaoheSandbox(Sandbox):
    organization = "liaohe"
    seed_size = 12

    def __init__(self) -> None:
        super().__init__()
        self.sim = liaohe.LiaoheSimulator(seed=3)
        self.plan_code = "LH-2026-PLC-2"

    async def start(self) -> None:
        await self.sim.start()

    async def stop(self) -> None:
        await self.sim.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.sim.url,
            "app_key": liaohe.DEFAULT_APP_KEY,
            "app_secret": liaohe.DEFAULT_APP_SECRET,
            "page_size": 4,
            "poll_interval": 0.5,
        }

    def plan(self) -> ExamPlan:
        p = self.sim.plans[self.plan_code]
        return ExamPlan(
            code=p.code,
            organization=self.organization,
            certificate_code=p.certificate_code,
            level=p.level,
            exam_date=p.exam_date,
        )

    async def refusal(self) -> tuple[ExamPlan, Candidate]:
        """The platform requires a mobile number on every row (code 2005)."""
        person = self.candidates(1)[0]
        return self.plan(), person.model_copy(update={"mobile": None})

    def registrations(self, plan_code: str, id_number: str) -> int:
        return int((plan_code, id_number) in self.sim.truth.registrations)

    async def seed(self, count: int) -> None:
        people = self.candidates(count)
        self.sim.add_registrations(self.plan_code, [(p.id_number, p.name) for p in people])
        self.sim.grade_all(self.plan_code)  # the platform issues certificates as it grades

    async def change(self) -> None:
        first = min(self.sim.truth.scores.values(), key=lambda s: s.seq)
        old = first.current.practical or 60
        self.sim.correct_score(first.plan_code, first.id_number, practical=min(100, old + 3))
        valid = [c for c in self.sim.truth.certificates.values() if c.status == "valid"]
        if valid:
            self.sim.revoke(min(valid, key=lambda c: c.seq).number, "考核违规")
        await self.seed(2)

    def expected(self, stream: str) -> int:
        truth = self.sim.truth
        return len(truth.scores) if stream == "scores" else len(truth.certificates)

    async def certificate(self) -> tuple[str, str]:
        person = self.candidates(1)[0]
        self.sim.add_registrations(self.plan_code, [(person.id_number, person.name)])
        self.sim.grade_all(self.plan_code)
        self.sim.correct_score(self.plan_code, person.id_number, theory=PASS[0], practical=PASS[1])
        reg = self.sim.truth.registrations[(self.plan_code, person.id_number)]
        cert = self.sim.truth.certificate_for(reg.registration_id)
        assert cert is not None
        return cert.number, person.name


class LiaoheCurrentSandbox(LiaoheSandbox):
    """A Liaohe platform whose certificate list shows only certificates in force, read by
    the plugin as a snapshot (``certificate_listing = "current"``, plugin API 1.1)."""

    def __init__(self) -> None:
        super().__init__()
        self.sim = liaohe.LiaoheSimulator(seed=3, current_only=True)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "certificate_listing": "current"}

    def expected(self, stream: str) -> int:
        if stream == "scores":
            return len(self.sim.truth.scores)
        return sum(c.status == "valid" for c in self.sim.truth.certificates.values())

    async def withdraw(self) -> str:
        """A correction turns a pass into a fail: the certificate leaves the list."""
        cert = min(
            (c for c in self.sim.truth.certificates.values() if c.status == "valid"),
            key=lambda c: c.seq,
        )
        self.sim.correct_score(cert.plan_code, cert.id_number, theory=FAIL[0], practical=FAIL[1])
        return cert.number
