"""A fake Example Org for the tests: its HTTP API as an ``httpx.MockTransport``, in memory.

No sockets, no sleeps: the plugin's requests go through xgate's real HTTP layer into
``FakeExampleOrg.handle``. The organization's state (``registrations``, ``results``,
``certificates``) is the ground truth the conformance kit compares the adapter's answers with.
Its clock moves one minute per change, so every change has a later ``changed_at``.

``ExampleOrgSandbox`` is what the conformance kit drives: seed data, change it, grade people.
Replace both with your organization's behaviour (or point the sandbox at its test system).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from gateway import Candidate, ExamPlan
from gateway.testing import Sandbox

API_KEY = "example-org-test-key"
BASE_URL = "https://api.example-org.test"
PLAN = "EX-2026-CNC-2"
LEVELS = {1: "初级", 2: "中级", 3: "高级"}


@dataclass
class Registration:
    registration_no: str
    plan: str
    id_number: str
    name: str


@dataclass
class Result:
    seq: int
    plan: str
    id_number: str
    name: str
    cert_code: str
    level: str
    theory: float | None
    practical: float | None
    total: float | None
    result: str
    changed_at: str


@dataclass
class Certificate:
    seq: int
    cert_no: str
    cert_code: str
    cert_name: str
    level: str
    id_number: str
    holder: str
    plan: str
    issued: str
    state: str
    revoke_reason: str | None
    changed_at: str


def person_ref(id_number: str) -> str:
    return hashlib.sha256(id_number.encode()).hexdigest()


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


class FakeExampleOrg:
    """Example Org's API. ``dedupe``: a repeated person and plan (or Idempotency-Key) gets
    the registration already made, as Example Org documents."""

    dedupe = True

    def __init__(self) -> None:
        self.plans = {PLAN: ("CNC", "数控车铣加工", 2)}
        self.registrations: list[Registration] = []
        self.results: dict[tuple[str, str], Result] = {}
        self.certificates: dict[str, Certificate] = {}
        self.banned: set[str] = set()
        self.replies: dict[str, tuple[str, Any]] = {}
        self.clock = datetime(2026, 12, 20, 9, 0)  # Beijing time, as Example Org sends it
        self.seq = 0
        self.requests = 0

    # control (what the organization's own staff do) ------------------------------------------

    def tick(self) -> str:
        self.clock += timedelta(minutes=1)
        return self.clock.strftime("%Y-%m-%d %H:%M:%S")

    def registered(self, plan: str, id_number: str) -> Registration | None:
        return next(
            (r for r in self.registrations if r.plan == plan and r.id_number == id_number), None
        )

    def register_directly(self, plan: str, id_number: str, name: str) -> Registration:
        found = self.registered(plan, id_number)
        if found is None or not self.dedupe:
            found = Registration(f"EXR{len(self.registrations) + 1:06d}", plan, id_number, name)
            self.registrations.append(found)
        return found

    def grade(self, plan: str, people: Sequence[Candidate], *, passed: bool) -> None:
        code, _, level = self.plans[plan]
        for person in people:
            self.register_directly(plan, person.id_number, person.name)
            theory, practical = (88.5, 91.0) if passed else (42.0, 75.5)
            self.seq += 1
            self.results[(plan, person.id_number)] = Result(
                self.seq,
                plan,
                person.id_number,
                person.name,
                code,
                LEVELS[level],
                theory,
                practical,
                (theory + practical) / 2,
                "PASS" if passed else "FAIL",
                self.tick(),
            )

    def certify(self, plan: str, id_number: str) -> Certificate:
        """The certificate of a passed candidate, issued once."""
        for cert in self.certificates.values():
            if cert.plan == plan and cert.id_number == id_number:
                return cert
        code, name, level = self.plans[plan]
        result = self.results[(plan, id_number)]
        self.seq += 1
        number = f"EX{code}{level}{len(self.certificates) + 1:06d}"
        cert = Certificate(
            self.seq,
            number,
            code,
            name,
            LEVELS[level],
            id_number,
            result.name,
            plan,
            "2026-12-30",
            "VALID",
            None,
            self.tick(),
        )
        self.certificates[number] = cert
        return cert

    def seed(self, people: Sequence[Candidate]) -> None:
        """Results for everyone (three in four pass), certificates for those who passed."""
        for i, person in enumerate(people):
            self.grade(PLAN, [person], passed=i % 4 != 3)
            if i % 4 != 3:
                self.certify(PLAN, person.id_number)

    def correct_oldest(self) -> None:
        """A correction during the public-notice period: the least recently changed result."""
        result = min(self.results.values(), key=lambda r: (r.changed_at, r.seq))
        result.theory = min(100.0, (result.theory or 0) + 5)
        result.total = ((result.theory or 0) + (result.practical or 0)) / 2
        result.changed_at = self.tick()

    def revoke_oldest(self) -> None:
        valid = [c for c in self.certificates.values() if c.state == "VALID"]
        if valid:
            cert = min(valid, key=lambda c: (c.changed_at, c.seq))
            cert.state, cert.revoke_reason, cert.changed_at = "REVOKED", "考核违规", self.tick()

    # the HTTP API ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.headers.get("X-Api-Key") != API_KEY:
            return _json(401, {"code": "BAD_KEY", "message": "unknown API key"})
        parts = request.url.path.strip("/").split("/")[1:] or [""]  # without "v2"
        body = json.loads(request.content) if request.content else {}
        if request.method == "POST" and parts == ["registrations"]:
            return self._replayed(request, body, self._register)
        if request.method == "GET" and parts[0] == "registrations" and len(parts) == 3:
            return self._lookup(parts[1], parts[2])
        if request.method == "GET" and parts == ["results"]:
            return self._list(list(self.results.values()), request.url.params)
        if request.method == "GET" and parts == ["certificates"]:
            return self._list(list(self.certificates.values()), request.url.params)
        if request.method == "POST" and parts == ["certificates", "issue"]:
            return self._replayed(request, body, self._issue)
        if request.method == "GET" and parts[0] == "certificates" and len(parts) == 2:
            return self._verify(parts[1], request.url.params.get("holder"))
        return _json(404, {"code": "NO_ROUTE", "message": "no such endpoint"})

    def _replayed(self, request: httpx.Request, body: Any, handler: Any) -> httpx.Response:
        """Idempotency-Key: the same key and body get the stored answer again."""
        key = request.headers.get("Idempotency-Key") if self.dedupe else None
        fingerprint = hashlib.sha256(request.content).hexdigest()
        if key and key in self.replies and self.replies[key][0] == fingerprint:
            return _json(200, self.replies[key][1])
        response: httpx.Response = handler(body)
        if key and response.status_code == 200:
            self.replies[key] = (fingerprint, response.json())
        return response

    def _register(self, body: dict[str, Any]) -> httpx.Response:
        plan = body.get("plan")
        if plan not in self.plans:
            return _json(404, {"code": "NO_PLAN", "message": "no such assessment plan"})
        results = []
        for item in body.get("candidates", []):
            if item["id_number"] in self.banned:
                results.append(
                    {
                        "ref": item["ref"],
                        "status": "refused",
                        "code": "BANNED",
                        "message": "banned from assessments until 2027",
                    }
                )
                continue
            reg = self.register_directly(plan, item["id_number"], item["name"])
            results.append(
                {"ref": item["ref"], "status": "ok", "registration_no": reg.registration_no}
            )
        return _json(200, {"results": results})

    def _lookup(self, plan: str, ref: str) -> httpx.Response:
        for reg in self.registrations:
            if reg.plan == plan and person_ref(reg.id_number) == ref:
                return _json(200, {"registration_no": reg.registration_no, "plan": plan})
        return _json(404, {"code": "NOT_FOUND", "message": "no such registration"})

    def page(
        self, rows: list[Any], params: httpx.QueryParams
    ) -> tuple[list[Any], bool] | httpx.Response:
        """Rows after the ``after`` high-water mark ("changed_at|seq"), ``size`` of them."""
        rows = sorted(rows, key=lambda r: (r.changed_at, r.seq))
        size = int(params.get("size", "100"))
        after = params.get("after")
        if after:
            stamp, _, seq = after.partition("|")
            rows = [r for r in rows if (r.changed_at, r.seq) > (stamp, int(seq))]
        return rows[:size], len(rows) > size

    def _list(self, rows: list[Any], params: httpx.QueryParams) -> httpx.Response:
        page = self.page(rows, params)
        if isinstance(page, httpx.Response):
            return page
        items, more = page
        return _json(200, {"items": [asdict(r) for r in items], "more": more})

    def _issue(self, body: dict[str, Any]) -> httpx.Response:
        results = []
        for item in body.get("requests", []):
            head = {"ref": item["ref"]}
            result = self.results.get((item["plan"], item["id_number"]))
            if result is None:
                results.append(
                    {
                        **head,
                        "status": "refused",
                        "code": "NO_RESULT",
                        "message": "no result for this registration",
                    }
                )
            elif result.result != "PASS":
                results.append(
                    {
                        **head,
                        "status": "refused",
                        "code": "NOT_PASSED",
                        "message": "the candidate did not pass",
                    }
                )
            else:
                cert = self.certify(item["plan"], item["id_number"])
                results.append({**head, "status": "issued", "certificate": asdict(cert)})
        return _json(200, {"results": results})

    def _verify(self, number: str, holder: str | None) -> httpx.Response:
        cert = self.certificates.get(number)
        if cert is None:
            return _json(404, {"code": "NOT_FOUND", "message": "no such certificate"})
        return _json(
            200,
            {
                "cert_no": number,
                "state": cert.state,
                "holder_ok": None if holder is None else holder == cert.holder,
                "certificate": asdict(cert),
            },
        )


class ExampleOrgSandbox(Sandbox):
    """The fake organization as the conformance kit sees it."""

    organization = "example"
    seed_size = 12  # with page_size 4: three pages and more

    def __init__(self, org: FakeExampleOrg | None = None) -> None:
        super().__init__()
        self.org = org or FakeExampleOrg()
        self.transport = httpx.MockTransport(self.org.handle)

    def settings(self) -> dict[str, Any]:
        return {"base_url": BASE_URL, "api_key": API_KEY, "page_size": 4}

    def plan(self) -> ExamPlan:
        return ExamPlan(
            code=PLAN,
            organization=self.organization,
            certificate_code="CNC",
            level=2,
            exam_date=date(2027, 1, 9),
        )

    async def refusal(self) -> tuple[ExamPlan, Candidate]:
        person = self.candidates(1)[0]
        self.org.banned.add(person.id_number)
        return self.plan(), person

    def registrations(self, plan_code: str, id_number: str) -> int:
        return sum(
            1 for r in self.org.registrations if r.plan == plan_code and r.id_number == id_number
        )

    async def seed(self, count: int) -> None:
        self.org.seed(self.candidates(count))

    async def change(self) -> None:
        self.org.correct_oldest()
        self.org.revoke_oldest()
        self.org.seed(self.candidates(2))

    def expected(self, stream: str) -> int:
        return len(self.org.results) if stream == "scores" else len(self.org.certificates)

    async def grade(self, plan: ExamPlan, candidates: Sequence[Candidate], *, passed: bool) -> None:
        self.org.grade(plan.code, candidates, passed=passed)

    def certificates_of(self, plan_code: str, id_number: str) -> int:
        return sum(
            1
            for c in self.org.certificates.values()
            if c.plan == plan_code and c.id_number == id_number
        )

    async def certificate(self) -> tuple[str, str]:
        person = self.candidates(1)[0]
        self.org.grade(PLAN, [person], passed=True)
        return self.org.certify(PLAN, person.id_number).cert_no, person.name
