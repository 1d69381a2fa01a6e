"""北方化工技能评价中心 (Beifang Chemical Skills Assessment Centre), simulated.

The "modern" reference organization: JSON over HTTP, OAuth2 client-credentials tokens that
really expire, ``Idempotency-Key`` on writes, opaque cursors on a high-water mark
(``updated_at``, ``id``) in which corrections and revocations reappear, certificates issued
only on request, and HMAC-signed webhooks. The API is described in
``docs/organizations/beifang.md``.

Everything is deterministic from ``seed`` and the simulator's own clock (``sim.clock``), which
moves only when a test advances it or when data is written (one second per write), so every
change gets a strictly later ``updated_at``. The organization's real state is in ``sim.truth``.

Run alone: ``python -m xgate_simulators.beifang --port 0`` prints its URL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import random
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

from xgate_simulators.catalogue import CATALOGUE, CatalogueEntry
from xgate_simulators.faults import FaultPlan
from xgate_simulators.server import SimClock, SimulatorServer, StreamFaults, serve
from xgate_simulators.truth import (
    GroundTruth,
    Revocation,
    ScoreRevision,
    SimPlan,
    TruthCertificate,
    TruthRegistration,
    TruthScore,
    grade_new,
    score_revision,
)

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_START = datetime(2026, 11, 20, 9, 0, tzinfo=BEIJING)
DEFAULT_CLIENT_ID = "xgate-college"
DEFAULT_CLIENT_SECRET = "beifang-demo-secret"
DEFAULT_WEBHOOK_SECRET = "beifang-demo-webhook-secret"
SIGNATURE_HEADER = "Beifang-Signature"
IDEMPOTENCY_TTL = timedelta(hours=24)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

ID_TYPES = ("RESIDENT_ID", "HK_MACAO_PERMIT", "TAIWAN_PERMIT", "PASSPORT", "FOREIGN_PERMANENT")


#: The plans of ``examples/data/catalogue.toml`` plus a senior plan that exercises the rule
#: "高级 needs a valid 中级 certificate of the same certificate".
DEFAULT_PLANS: tuple[SimPlan, ...] = (
    SimPlan("BF-2026-HGJL-2", "HGJL", 2, date(2026, 12, 12), date(2026, 12, 1)),
    SimPlan("BF-2026-HGJL-3", "HGJL", 3, date(2026, 12, 12), date(2026, 12, 1)),
    SimPlan("BF-2026-HAZOP-1", "HAZOP", 1, date(2026, 12, 13)),
    SimPlan("BF-2026-SHJ-1", "SHJ", 1, date(2026, 12, 14)),
)


def id_hash(id_number: str) -> str:
    """How the API names a person in a URL: SHA-256 of the upper-case ID number, hex."""
    return hashlib.sha256(_norm(id_number).encode()).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook signature: HMAC-SHA256 over ``"<timestamp>." + body``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _norm(text: object) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).upper()


def _resident_ok(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def _iso(moment: datetime) -> str:
    return moment.astimezone(BEIJING).isoformat()


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def encode_cursor(updated_at: datetime, seq: int) -> str:
    raw = json.dumps({"u": updated_at.isoformat(), "i": seq}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Raise ``ValueError`` for anything that is not a cursor this API handed out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        moment = datetime.fromisoformat(data["u"])
        seq = int(data["i"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc
    if moment.tzinfo is None:
        raise ValueError("invalid cursor")
    return moment, seq


class BeifangSimulator(SimulatorServer):
    """The simulated organization. Control methods (``grade_all``, ``correct_score``,
    ``revoke``, ``issue_passed``, ``add_registrations``, ``expire_tokens``) change its state
    directly, as the organization's own staff would; the HTTP API is what the adapter sees."""

    title = "北方化工技能评价中心 (simulated)"

    def __init__(
        self,
        seed: int = 0,
        faults: FaultPlan | None = None,
        *,
        stream_faults: StreamFaults | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        token_ttl: float = 60.0,
        plans: Iterable[SimPlan] = DEFAULT_PLANS,
        start: datetime = DEFAULT_START,
        max_page: int = 500,
        max_batch: int = 100,
        pass_rate: float = 0.8,
    ) -> None:
        super().__init__(faults=faults)
        self.seed = seed
        self.stream_faults = stream_faults
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret
        self.token_ttl = token_ttl
        self.plans = {p.code: p for p in plans}
        self.catalogue: dict[str, CatalogueEntry] = {e.code: e for e in CATALOGUE["beifang"]}
        self.clock = SimClock(start)
        self.max_page = max_page
        self.max_batch = max_batch
        self.pass_rate = pass_rate
        self.truth = GroundTruth()
        self.hits: Counter[str] = Counter()  # requests that reached each handler
        self.unauthorized = 0  # requests refused for a missing, unknown or expired token
        self.webhook_url: str | None = None
        self.webhook_events: list[dict[str, Any]] = []
        self.webhook_deliveries: list[tuple[str, int | str]] = []
        self._rng = random.Random(seed)
        self._tokens: dict[str, datetime] = {}
        self._replies: dict[str, tuple[str, datetime, int, dict[str, Any]]] = {}
        self._reg_seq = 0
        self._score_seq = 0
        self._cert_seq = 0
        self._event_seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # indexes, so a province-sized simulation stays fast (the truth stays plain data)
        self._reg_by_id: dict[str, TruthRegistration] = {}
        self._reg_by_hash: dict[tuple[str, str], TruthRegistration] = {}
        self._plans_of: dict[str, set[str]] = {}
        self._cert_by_reg: dict[str, TruthCertificate] = {}
        self._certs_of: dict[str, list[TruthCertificate]] = {}
        self._writes = 0
        self._sorted: dict[str, tuple[int, list[Any], list[tuple[datetime, int]]]] = {}

    # ------------------------------------------------------------------ control methods

    def set_stream_faults(self, faults: StreamFaults | None) -> None:
        self.stream_faults = faults

    def expire_tokens(self) -> None:
        """Invalidate every issued token, as a key rotation at the organization would."""
        self._tokens.clear()

    def add_registrations(self, plan_code: str, people: Iterable[tuple[str, str]]) -> int:
        """Register ``(id_number, name)`` pairs directly (seeding, no business rules)."""
        plan = self.plans[plan_code]
        added = 0
        for id_number, name in people:
            key = (plan.code, _norm(id_number))
            if key not in self.truth.registrations:
                self._create_registration(plan, key[1], name, None)
                added += 1
        return added

    def grade_all(self, plan_code: str | None = None) -> int:
        """Score every registered, not yet graded candidate (deterministic; ~80% pass)."""
        moment = self._stamp()
        graded = grade_new(
            self.truth,
            self.plans,
            self.catalogue,
            seed=self.seed,
            pass_rate=self.pass_rate,
            next_seq=self._next_score_seq,
            moment=moment,
            plan_code=plan_code,
        )
        if graded:
            self._emit("score.updated", [self._score_wire(s) for s in graded])
        return len(graded)

    def correct_score(
        self,
        plan_code: str,
        id_number: str,
        *,
        theory: Decimal | float | str | None = None,
        practical: Decimal | float | str | None = None,
    ) -> ScoreRevision:
        """A correction during the public-notice period: a new revision, later ``updated_at``."""
        score = self.truth.scores[(plan_code, _norm(id_number))]
        old = score.current
        entry = self.catalogue[score.certificate_code]
        new_theory = Decimal(str(theory)) if theory is not None else old.theory
        new_practical = Decimal(str(practical)) if practical is not None else old.practical
        revision = score_revision(old.revision + 1, entry, new_theory, new_practical, self._stamp())
        score.revisions.append(revision)
        self._emit("score.updated", [self._score_wire(score)])
        return revision

    def revoke(self, certificate_number: str, reason: str) -> TruthCertificate:
        cert = self.truth.certificates[certificate_number]
        cert.status = "revoked"
        cert.revoked_reason = reason
        cert.updated_at = self._stamp()
        self.truth.revocations.append(Revocation(cert.number, reason, cert.updated_at))
        self._emit("certificate.revoked", [self._cert_wire(cert)])
        return cert

    def issue_passed(self, plan_code: str | None = None) -> list[TruthCertificate]:
        """Issue certificates for every passed candidate, as if the college had asked."""
        issued = []
        for score in sorted(self.truth.scores.values(), key=lambda s: s.seq):
            if plan_code is not None and score.plan_code != plan_code:
                continue
            if score.current.passed and score.registration_id not in self._cert_by_reg:
                issued.append(self._issue_certificate(score))
        return issued

    async def flush_webhooks(self) -> None:
        """Wait until every webhook delivery started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def signed_event(self, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """The headers and body a webhook delivery of ``event`` carries."""
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self.clock.now().timestamp())
        signature = sign(self.webhook_secret, timestamp, body)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: f"t={timestamp},v1={signature}",
            "Beifang-Event-Id": str(event["id"]),
        }
        return headers, body

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await super().stop()

    # ------------------------------------------------------------------ state helpers

    def _stamp(self) -> datetime:
        """Every write happens one second after the previous moment: strictly later stamps
        keep the (updated_at, id) high-water mark exact."""
        self._writes += 1
        return self.clock.advance(1)

    def _next_score_seq(self) -> int:
        self._score_seq += 1
        return self._score_seq

    def _create_registration(
        self, plan: SimPlan, id_number: str, name: str, key: str | None
    ) -> TruthRegistration:
        self._reg_seq += 1
        reg = TruthRegistration(
            registration_id=f"BFR{self._reg_seq:06d}",
            plan_code=plan.code,
            id_number=id_number,
            name=name,
            created_at=self.clock.now(),
            idempotency_key=key,
        )
        self.truth.registrations[(plan.code, id_number)] = reg
        self._reg_by_id[reg.registration_id] = reg
        self._reg_by_hash[(plan.code, id_hash(id_number))] = reg
        self._plans_of.setdefault(id_number, set()).add(plan.code)
        return reg

    def _issue_certificate(self, score: TruthScore) -> TruthCertificate:
        self._cert_seq += 1
        moment = self._stamp()
        entry = self.catalogue[score.certificate_code]
        cert = TruthCertificate(
            seq=self._cert_seq,
            number=f"BF{moment.year}{score.certificate_code}{score.level}{self._cert_seq:06d}",
            registration_id=score.registration_id,
            plan_code=score.plan_code,
            id_number=score.id_number,
            holder_name=score.name,
            certificate_code=score.certificate_code,
            certificate_name=entry.name,
            level=score.level,
            issued_on=moment.astimezone(BEIJING).date(),
            updated_at=moment,
        )
        self.truth.certificates[cert.number] = cert
        self._cert_by_reg[cert.registration_id] = cert
        self._certs_of.setdefault(cert.id_number, []).append(cert)
        self._emit("certificate.issued", [self._cert_wire(cert)])
        return cert

    def _holds(self, id_number: str, certificate_code: str, level: int) -> bool:
        return any(
            c.id_number == id_number
            and c.certificate_code == certificate_code
            and c.level == level
            and c.status == "valid"
            for c in self._certs_of.get(id_number, ())
        )

    # ------------------------------------------------------------------ wire formats

    def _score_wire(self, s: TruthScore) -> dict[str, Any]:
        r = s.current
        return {
            "id": s.seq,
            "registration_id": s.registration_id,
            "plan": s.plan_code,
            "certificate": {"code": s.certificate_code, "level": s.level},
            "candidate": {"name": s.name, "id_type": "RESIDENT_ID", "id_number": s.id_number},
            "theory": _num(r.theory),
            "practical": _num(r.practical),
            "total": _num(r.total),
            "result": "absent" if r.absent else ("pass" if r.passed else "fail"),
            "revision": r.revision,
            "updated_at": _iso(r.updated_at),
        }

    def _cert_wire(self, c: TruthCertificate) -> dict[str, Any]:
        return {
            "id": c.seq,
            "number": c.number,
            "certificate": {
                "code": c.certificate_code,
                "name": c.certificate_name,
                "level": c.level,
            },
            "holder": {"name": c.holder_name, "id_type": "RESIDENT_ID", "id_number": c.id_number},
            "plan": c.plan_code,
            "registration_id": c.registration_id,
            "issued_on": c.issued_on.isoformat(),
            "status": c.status,
            "revoked_reason": c.revoked_reason,
            "updated_at": _iso(c.updated_at),
        }

    # ------------------------------------------------------------------ webhooks

    def _emit(self, kind: str, objects: list[dict[str, Any]]) -> None:
        self._event_seq += 1
        event = {
            "id": f"evt_{self._event_seq:06d}",
            "type": kind,
            "created_at": _iso(self.clock.now()),
            "data": objects,
        }
        self.webhook_events.append(event)
        if self.webhook_url is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: keep the event, skip delivery
            return
        task = loop.create_task(self._deliver(self.webhook_url, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, event: dict[str, Any]) -> None:
        headers, body = self.signed_event(event)
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=body, headers=headers) as response,
            ):
                self.webhook_deliveries.append((str(event["id"]), response.status))
        except (aiohttp.ClientError, OSError) as exc:
            self.webhook_deliveries.append((str(event["id"]), type(exc).__name__))

    # ------------------------------------------------------------------ HTTP

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/oauth/token", self._token),
            web.post("/v1/plans/{plan}/registrations", self._register),
            web.get("/v1/plans/{plan}/registrations/{ref}", self._lookup),
            web.get("/v1/scores", self._scores),
            web.get("/v1/certificates", self._certificates),
            web.post("/v1/certificates/issue", self._issue),
            web.get("/v1/certificates/{number}/verify", self._verify),
        ]

    def _deny(self, request: web.Request) -> web.Response | None:
        """401 unless the request carries a live bearer token (on the simulator's clock)."""
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        expires = self._tokens.get(token)
        if expires is not None and self.clock.now() < expires:
            return None
        self.unauthorized += 1
        return _error(
            401,
            "INVALID_TOKEN",
            "missing, unknown or expired access token",
            **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (ValueError, UnicodeDecodeError):
            return None

    async def _token(self, request: web.Request) -> web.Response:
        self.hits["token"] += 1
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        good_id = hmac.compare_digest(str(form.get("client_id", "")), self.client_id)
        good_secret = hmac.compare_digest(str(form.get("client_secret", "")), self.client_secret)
        if not (good_id and good_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"bf_{self._rng.getrandbits(128):032x}"
        self._tokens[token] = self.clock.now() + timedelta(seconds=self.token_ttl)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)}
        )

    def _replay(self, key: str | None, fingerprint: str) -> web.Response | None:
        if not key:
            return None
        stored = self._replies.get(key)
        if stored is None:
            return None
        stored_print, at, status, body = stored
        if stored_print != fingerprint or self.clock.now() - at > IDEMPOTENCY_TTL:
            return None  # a changed body (corrected data) or an expired key is evaluated anew
        return web.json_response(body, status=status, headers={"Idempotent-Replayed": "true"})

    def _remember(self, key: str | None, fingerprint: str, body: dict[str, Any]) -> None:
        if key:
            self._replies[key] = (fingerprint, self.clock.now(), 200, body)

    async def _register(self, request: web.Request) -> web.Response:
        self.hits["register"] += 1
        if (denied := self._deny(request)) is not None:
            return denied
        plan = self.plans.get(request.match_info["plan"])
        if plan is None:
            return _error(404, "PLAN_NOT_FOUND", "no such exam plan")
        body = await self._json(request)
        items: Any = None
        if isinstance(body, dict):
            items = body.get("candidates", [body["candidate"]] if "candidate" in body else None)
        if not isinstance(items, list) or not items or len(items) > self.max_batch:
            return _error(
                400,
                "INVALID_REQUEST",
                f"send {{'candidates': [...]}} with 1 to {self.max_batch} candidates",
            )
        self.truth.registration_requests += 1
        self.truth.registration_items += len(items)
        key = request.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(
            (plan.code + json.dumps(body, sort_keys=True)).encode()
        ).hexdigest()
        if (replayed := self._replay(key, fingerprint)) is not None:
            self.truth.replayed_items += len(items)
            return replayed
        results = [self._register_one(plan, i, item) for i, item in enumerate(items)]
        answer = {"plan": plan.code, "results": results}
        self._remember(key, fingerprint, answer)
        return web.json_response(answer)

    def _register_one(self, plan: SimPlan, index: int, item: Any) -> dict[str, Any]:
        head: dict[str, Any] = {"index": index}
        if not isinstance(item, dict):
            return {**head, **_rejected("INVALID_ITEM", "a candidate must be an object")}
        head["idempotency_key"] = item.get("idempotency_key")
        missing = [f for f in ("name", "id_number") if not str(item.get(f) or "").strip()]
        if missing:
            return {**head, **_rejected("MISSING_FIELD", "missing field(s): " + ", ".join(missing))}
        id_type = item.get("id_type", "RESIDENT_ID")
        if id_type not in ID_TYPES:
            return {**head, **_rejected("INVALID_ID_TYPE", f"unknown id_type {id_type!r}")}
        id_number = _norm(item["id_number"])
        if id_type == "RESIDENT_ID" and not _resident_ok(id_number):
            return {**head, **_rejected("INVALID_ID_NUMBER", "the ID number does not validate")}
        existing = self.truth.registrations.get((plan.code, id_number))
        if existing is not None:
            return {**head, **_accepted(existing, already=True)}
        today = self.clock.now().astimezone(BEIJING).date()
        if today > plan.last_day:
            return {
                **head,
                **_rejected(
                    "DEADLINE_PASSED", f"registration for {plan.code} closed on {plan.last_day}"
                ),
            }
        for other_code in sorted(self._plans_of.get(id_number, ())):
            other = self.plans[other_code]
            if other.certificate_code == plan.certificate_code:
                return {
                    **head,
                    **_rejected(
                        "DUPLICATE_IN_OTHER_PLAN",
                        f"already registered for {other.code} of the same certificate",
                    ),
                }
        if plan.level == 3 and not self._holds(id_number, plan.certificate_code, 2):
            return {
                **head,
                **_rejected(
                    "LEVEL_NOT_ALLOWED", "高级 requires a valid 中级 certificate of the same kind"
                ),
            }
        name = unicodedata.normalize("NFKC", str(item["name"])).strip()
        reg = self._create_registration(plan, id_number, name, head["idempotency_key"])
        return {**head, **_accepted(reg, already=False)}

    async def _lookup(self, request: web.Request) -> web.Response:
        self.hits["lookup"] += 1
        if (denied := self._deny(request)) is not None:
            return denied
        plan_code, ref = request.match_info["plan"], request.match_info["ref"]
        if plan_code not in self.plans:
            return _error(404, "PLAN_NOT_FOUND", "no such exam plan")
        reg = self._reg_by_hash.get((plan_code, ref)) or self._reg_by_id.get(ref)
        if reg is None or reg.plan_code != plan_code:
            return _error(404, "NOT_FOUND", "no such registration in this plan")
        return web.json_response(
            {
                "registration_id": reg.registration_id,
                "plan": plan_code,
                "status": "registered",
                "idempotency_key": reg.idempotency_key,
                "created_at": _iso(reg.created_at),
                "candidate": {"name": reg.name},
            }
        )

    async def _scores(self, request: web.Request) -> web.Response:
        self.hits["scores"] += 1
        return self._page(request, "scores", self._score_wire)

    async def _certificates(self, request: web.Request) -> web.Response:
        self.hits["certificates"] += 1
        return self._page(request, "certificates", self._cert_wire)

    def _stream_rows(self, stream: str) -> tuple[list[Any], list[tuple[datetime, int]]]:
        """Rows in (updated_at, id) order with their keys, re-sorted only after a write."""
        cached = self._sorted.get(stream)
        if cached is not None and cached[0] == self._writes:
            return cached[1], cached[2]
        rows: list[Any]
        keys: list[tuple[datetime, int]]
        if stream == "scores":
            rows = sorted(self.truth.scores.values(), key=lambda s: (s.current.updated_at, s.seq))
            keys = [(s.current.updated_at, s.seq) for s in rows]
        else:
            rows = sorted(self.truth.certificates.values(), key=lambda c: (c.updated_at, c.seq))
            keys = [(c.updated_at, c.seq) for c in rows]
        self._sorted[stream] = (self._writes, rows, keys)
        return rows, keys

    def _page(
        self, request: web.Request, stream: str, wire: Callable[[Any], dict[str, Any]]
    ) -> web.Response:
        """One page after the cursor's high-water mark (or from ``updated_since``)."""
        if (denied := self._deny(request)) is not None:
            return denied
        query = request.query
        try:
            limit = int(query.get("limit", "100"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= self.max_page:
            return _error(400, "INVALID_LIMIT", f"limit must be 1..{self.max_page}")
        rows, keys = self._stream_rows(stream)
        cursor = query.get("cursor")
        if cursor:
            try:
                start = bisect_right(keys, decode_cursor(cursor))
            except ValueError:
                return _error(400, "INVALID_CURSOR", "cursor not recognised")
        elif "updated_since" in query:
            try:
                since = datetime.fromisoformat(query["updated_since"].replace("Z", "+00:00"))
            except ValueError:
                return _error(400, "INVALID_UPDATED_SINCE", "updated_since must be ISO 8601")
            if since.tzinfo is None:
                since = since.replace(tzinfo=BEIJING)
            start = bisect_left(keys, (since, -1))
        else:
            start = 0
        page = list(rows[start : start + limit])
        has_more = start + limit < len(rows)
        next_cursor = encode_cursor(*keys[start + len(page) - 1]) if page else (cursor or None)
        if self.stream_faults is not None:
            page = self.stream_faults.disturb(page, rows[max(0, start - 3) : start])
        return web.json_response(
            {"data": [wire(r) for r in page], "next_cursor": next_cursor, "has_more": has_more}
        )

    async def _issue(self, request: web.Request) -> web.Response:
        self.hits["issue"] += 1
        if (denied := self._deny(request)) is not None:
            return denied
        body = await self._json(request)
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or len(items) > self.max_batch:
            return _error(
                400,
                "INVALID_REQUEST",
                f"send {{'requests': [...]}} with 1 to {self.max_batch} items",
            )
        self.truth.issue_requests += 1
        key = request.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if (replayed := self._replay(key, fingerprint)) is not None:
            return replayed
        results = [self._issue_one(i, item) for i, item in enumerate(items)]
        answer = {"results": results}
        self._remember(key, fingerprint, answer)
        return web.json_response(answer)

    def _issue_one(self, index: int, item: Any) -> dict[str, Any]:
        head: dict[str, Any] = {"index": index}
        if not isinstance(item, dict):
            return {**head, **_refused("INVALID_ITEM", "a request must be an object")}
        head["idempotency_key"] = item.get("idempotency_key")
        reg = self._reg_by_id.get(str(item.get("registration_id")))
        if reg is None:
            key = (str(item.get("plan")), _norm(item.get("id_number", "")))
            reg = self.truth.registrations.get(key)
        if reg is None:
            return {**head, **_refused("NOT_REGISTERED", "no such registration")}
        score = self.truth.scores.get((reg.plan_code, reg.id_number))
        if score is None:
            return {**head, **_refused("NOT_GRADED", "the candidate has no score yet")}
        existing = self._cert_by_reg.get(reg.registration_id)
        if existing is not None:
            return {
                **head,
                "status": "issued",
                "existing": True,
                "certificate": self._cert_wire(existing),
            }
        if not score.current.passed:
            return {**head, **_refused("NOT_PASSED", "the candidate did not pass")}
        cert = self._issue_certificate(score)
        return {**head, "status": "issued", "existing": False, "certificate": self._cert_wire(cert)}

    async def _verify(self, request: web.Request) -> web.Response:
        self.hits["verify"] += 1
        if (denied := self._deny(request)) is not None:
            return denied
        number = request.match_info["number"]
        cert = self.truth.certificates.get(number)
        if cert is None:
            return web.json_response({"number": number, "found": False}, status=404)
        holder = request.query.get("holder_name")
        matches = None
        if holder is not None:
            matches = unicodedata.normalize("NFKC", holder).strip() == cert.holder_name
        return web.json_response(
            {
                "number": number,
                "found": True,
                "status": cert.status,
                "holder_matches": matches,
                "certificate": self._cert_wire(cert),
            }
        )


def _accepted(reg: TruthRegistration, *, already: bool) -> dict[str, Any]:
    return {"status": "accepted", "registration_id": reg.registration_id, "existing": already}


def _rejected(code: str, message: str) -> dict[str, Any]:
    return {"status": "rejected", "error": {"code": code, "message": message}}


def _refused(code: str, message: str) -> dict[str, Any]:
    return {"status": "refused", "error": {"code": code, "message": message}}


def main(argv: Sequence[str] | None = None) -> None:
    serve(
        lambda args: BeifangSimulator(seed=args.seed),
        argv,
        description="Run the simulated Beifang Chemical Skills Assessment Centre.",
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
