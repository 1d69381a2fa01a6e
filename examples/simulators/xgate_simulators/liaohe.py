"""辽河职业技能评价平台 (Liaohe Vocational Skills Evaluation Platform), simulated.

The "legacy platform" reference organization: every request signed with an app key, a
millisecond timestamp, a nonce and an HMAC-SHA256 (or MD5) over the sorted parameters; stale
timestamps and reused nonces refused; HTTP 200 with the real status as a code in the body;
registration by uploading a GB18030 CSV (or XLSX) with Chinese headers, processed as a job to
poll; no idempotency header, but a candidate already registered for the plan gets code 2001
for that row; page-number listings ordered newest first by last update; score results as a
CSV download; certificates issued by the organization itself when it grades. The API is
described in ``docs/organizations/liaohe.md``.

Everything is deterministic from ``seed`` and the simulator's data clock (``sim.clock``), which
moves one second per write; request timestamps are checked against ``auth_clock`` (the wall
clock unless a test injects one). The organization's real state is ``sim.truth`` plus
``sim.attempts`` (upload rows per plan and ID number, repeats included).

Run alone: ``python -m xgate_simulators.liaohe --port 0`` prints its URL.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

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

T = TypeVar("T")

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_START = datetime(2026, 11, 20, 9, 0, tzinfo=BEIJING)
DEFAULT_APP_KEY = "xgate-college"
DEFAULT_APP_SECRET = "liaohe-demo-secret"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_WINDOW = 300.0  # seconds a request timestamp may differ from the server's clock
NONCE_TTL = 2 * TIMESTAMP_WINDOW  # a nonce older than this could not pass the timestamp check
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

ID_TYPES = {
    "居民身份证": "resident",
    "港澳居民来往内地通行证": "hk_macao_permit",
    "台湾居民来往大陆通行证": "taiwan_permit",
    "护照": "passport",
    "外国人永久居留身份证": "foreign_permanent",
}
LEVELS = {"初级": 1, "中级": 2, "高级": 3}
LEVEL_LABELS = {v: k for k, v in LEVELS.items()}
SIGN_TYPES = {"HMAC-SHA256": "hmac-sha256", "MD5": "md5"}

REQUIRED_HEADERS = ("姓名", "证件类型", "证件号码", "手机号码", "证书代码", "等级")
SCORE_HEADERS = (
    "成绩编号",
    "考核计划",
    "证书代码",
    "证书名称",
    "等级",
    "姓名",
    "证件类型",
    "证件号码",
    "理论成绩",
    "实操成绩",
    "总成绩",
    "考核结果",
    "成绩版本",
    "更新时间",
)
MOBILE = re.compile(r"^1[3-9]\d{9}$")
OTHER_ID = re.compile(r"^[A-Z0-9]{5,20}$")


LiaohePlan = SimPlan  # the name tests and docs use


#: The liaohe plans of ``examples/data/catalogue.toml`` plus an intermediate PLC plan.
DEFAULT_PLANS: tuple[LiaohePlan, ...] = (
    LiaohePlan("LH-2026-PLC-1", "PLC", 1, date(2026, 12, 19)),
    LiaohePlan("LH-2026-GYJQR-2", "GYJQR", 2, date(2026, 12, 20)),
    LiaohePlan("LH-2026-PLC-2", "PLC", 2, date(2026, 12, 26)),
)


@dataclass
class UploadJob:
    job_id: str
    plan_code: str
    results: list[dict[str, Any]]
    polls_left: int


class Refusal(Exception):
    """A non-zero result code, answered as HTTP 200 with the code in the body."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def expected_sign(params: dict[str, str], secret: str, method: str) -> str:
    """The platform's own check (written apart from the adapter's signer on purpose)."""
    keys = sorted(k for k, v in params.items() if k != "sign" and v != "")
    text = "&".join(f"{k}={params[k]}" for k in keys) + "&key=" + secret
    if method == "md5":
        return hashlib.md5(text.encode("utf-8")).hexdigest()
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _norm(text: object) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).upper()


def _clean(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip()


def _resident_ok(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def _fmt(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def _num(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _ok(data: Any) -> web.Response:
    return web.json_response({"code": 0, "msg": "ok", "data": data})


def _refused(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "msg": message, "data": None})


class LiaoheSimulator(SimulatorServer):
    """The simulated platform. Control methods (``grade_all``, ``correct_score``, ``revoke``,
    ``close_plan``, ``make_busy``, ``add_registrations``) change its state directly, as its
    own staff would; the signed HTTP API is what the adapter sees.

    ``stream_faults`` repeat and shuffle rows within listing pages; ``disorder`` swaps
    neighbouring rows of the listing order (deterministically, so a row swapped across a page
    boundary appears on the other page consistently), which is the platform listing rows
    slightly out of order.
    """

    title = "辽河职业技能评价平台 (simulated)"

    def __init__(
        self,
        seed: int = 0,
        faults: FaultPlan | None = None,
        *,
        stream_faults: StreamFaults | None = None,
        disorder: float = 0.0,
        app_key: str = DEFAULT_APP_KEY,
        app_secret: str = DEFAULT_APP_SECRET,
        sign_methods: Iterable[str] = ("hmac-sha256", "md5"),
        plans: Iterable[LiaohePlan] = DEFAULT_PLANS,
        start: datetime = DEFAULT_START,
        auth_clock: Callable[[], float] = time.time,
        job_polls: int = 1,
        max_rows: int = 500,
        max_page_size: int = 500,
        pass_rate: float = 0.8,
        current_only: bool = False,
    ) -> None:
        super().__init__(faults=faults)
        self.seed = seed
        self.stream_faults = stream_faults
        self.disorder = disorder
        self.app_key = app_key
        self.app_secret = app_secret
        self.sign_methods = frozenset(sign_methods)
        self.plans = {p.code: p for p in plans}
        self.catalogue: dict[str, CatalogueEntry] = {e.code: e for e in CATALOGUE["liaohe"]}
        self.clock = SimClock(start)
        self.auth_clock = auth_clock
        self.job_polls = job_polls
        self.max_rows = max_rows
        self.max_page_size = max_page_size
        self.pass_rate = pass_rate
        #: the certificate list shows only current (valid) certificates: a revoked one simply
        #: disappears from it, as on platforms that list "certificates in force"
        self.current_only = current_only
        self.truth = GroundTruth()
        self.attempts: Counter[tuple[str, str]] = Counter()  # upload rows per (plan, ID)
        self.registrants: dict[tuple[str, str], dict[str, str]] = {}  # the uploaded rows
        self.jobs: dict[str, UploadJob] = {}
        self.hits: Counter[str] = Counter()  # requests that reached each handler
        self.refusals: Counter[int] = Counter()  # non-zero result codes answered
        self.closed: set[str] = set()
        self.busy = 0  # the next N authenticated requests answer 5000
        self._nonces: set[str] = set()
        self._nonce_times: deque[tuple[float, str]] = deque()  # oldest first, for expiry
        self._reg_seq = 0
        self._score_seq = 0
        self._cert_seq = 0
        self._job_seq = 0

    # ------------------------------------------------------------------ control methods

    def set_stream_faults(self, faults: StreamFaults | None) -> None:
        self.stream_faults = faults

    def close_plan(self, plan_code: str) -> None:
        """Stop accepting registrations for a plan (code 2002 for new rows)."""
        self.closed.add(plan_code)

    def make_busy(self, requests: int) -> None:
        """The next ``requests`` authenticated requests answer 5000 (system busy)."""
        self.busy = requests

    def add_registrations(self, plan_code: str, people: Iterable[tuple[str, str]]) -> int:
        """Register ``(id_number, name)`` pairs directly (seeding, no business rules)."""
        plan = self.plans[plan_code]
        added = 0
        for id_number, name in people:
            key = (plan.code, _norm(id_number))
            if key not in self.truth.registrations:
                self._create_registration(plan, key[1], name, {"证件类型": "居民身份证"})
                added += 1
        return added

    def grade_all(self, plan_code: str | None = None) -> int:
        """Score every registered, not yet graded candidate (deterministic; ~80% pass), and
        issue certificates to those who passed: this organization does that on its own."""
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
        passed = [s for s in graded if s.current.passed]
        if passed:
            issued_at = self._stamp()
            for score in passed:
                self._issue_certificate(score, issued_at)
        return len(graded)

    def correct_score(
        self,
        plan_code: str,
        id_number: str,
        *,
        theory: Decimal | float | str | None = None,
        practical: Decimal | float | str | None = None,
    ) -> ScoreRevision:
        """A correction during the public-notice period: a new revision, later update time.
        A candidate who no longer passes loses the certificate; one who now passes gets one."""
        score = self.truth.scores[(plan_code, _norm(id_number))]
        old = score.current
        entry = self.catalogue[score.certificate_code]
        new_theory = Decimal(str(theory)) if theory is not None else old.theory
        new_practical = Decimal(str(practical)) if practical is not None else old.practical
        moment = self._stamp()
        revision = score_revision(old.revision + 1, entry, new_theory, new_practical, moment)
        score.revisions.append(revision)
        cert = self.truth.certificate_for(score.registration_id)
        if old.passed and not revision.passed and cert is not None and cert.status == "valid":
            self._revoke(cert, "成绩更正后不合格，证书撤销", moment)
        elif revision.passed and cert is None:
            self._issue_certificate(score, moment)
        return revision

    def revoke(self, certificate_number: str, reason: str) -> TruthCertificate:
        cert = self.truth.certificates[certificate_number]
        self._revoke(cert, reason, self._stamp())
        return cert

    def score_order(self) -> list[tuple[str, str]]:
        """``(plan, ID number)`` of every score in the unfiltered listing order (newest
        first), for tests that show what a page-number cursor would get wrong."""
        rows = self._ordered(list(self.truth.scores.values()), _score_stamp, _score_seq)
        return [(s.plan_code, s.id_number) for s in rows]

    # ------------------------------------------------------------------ state helpers

    def _stamp(self) -> datetime:
        """Every write happens one second after the previous one, and after any server time
        the API has reported, so a listing window closed at that time never gains rows."""
        return self.clock.advance(1)

    def _next_score_seq(self) -> int:
        self._score_seq += 1
        return self._score_seq

    def _create_registration(
        self, plan: LiaohePlan, id_number: str, name: str, row: dict[str, str]
    ) -> TruthRegistration:
        self._reg_seq += 1
        reg = TruthRegistration(
            registration_id=f"LHR{self._reg_seq:06d}",
            plan_code=plan.code,
            id_number=id_number,
            name=name,
            created_at=self.clock.now(),
        )
        self.truth.registrations[(plan.code, id_number)] = reg
        self.registrants[(plan.code, id_number)] = row
        return reg

    def _issue_certificate(self, score: TruthScore, moment: datetime) -> TruthCertificate:
        self._cert_seq += 1
        entry = self.catalogue[score.certificate_code]
        cert = TruthCertificate(
            seq=self._cert_seq,
            number=f"LH{moment.year}{score.certificate_code}{score.level}{self._cert_seq:06d}",
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
        return cert

    def _revoke(self, cert: TruthCertificate, reason: str, moment: datetime) -> None:
        cert.status = "revoked"
        cert.revoked_reason = reason
        cert.updated_at = moment
        self.truth.revocations.append(Revocation(cert.number, reason, moment))

    def _id_type_label(self, plan_code: str, id_number: str) -> str:
        return self.registrants.get((plan_code, id_number), {}).get("证件类型") or "居民身份证"

    # ------------------------------------------------------------------ wire formats

    def _score_row(self, s: TruthScore) -> list[str]:
        r = s.current
        result = "缺考" if r.absent else ("合格" if r.passed else "不合格")
        return [
            f"LHS{s.seq:07d}",
            s.plan_code,
            s.certificate_code,
            self.catalogue[s.certificate_code].name,
            LEVEL_LABELS[s.level],
            s.name,
            self._id_type_label(s.plan_code, s.id_number),
            s.id_number,
            _num(r.theory),
            _num(r.practical),
            _num(r.total),
            result,
            str(r.revision),
            _fmt(r.updated_at),
        ]

    def _cert_wire(self, c: TruthCertificate) -> dict[str, Any]:
        return {
            "cert_no": c.number,
            "cert_code": c.certificate_code,
            "cert_name": c.certificate_name,
            "level": LEVEL_LABELS[c.level],
            "name": c.holder_name,
            "id_type": self._id_type_label(c.plan_code, c.id_number),
            "id_no": c.id_number,
            "plan": c.plan_code,
            "issue_date": c.issued_on.isoformat(),
            "status": "有效" if c.status == "valid" else "已撤销",
            "revoke_reason": c.revoked_reason or "",
            "update_time": _fmt(c.updated_at),
        }

    # ------------------------------------------------------------------ HTTP

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/reg/upload", self._api("upload", self._upload)),
            web.get("/api/reg/job", self._api("job", self._job)),
            web.get("/api/reg/query", self._api("query", self._query)),
            web.get("/api/score/export", self._api("score_export", self._score_export)),
            web.get("/api/cert/list", self._api("cert_list", self._cert_list)),
            web.get("/api/cert/verify", self._api("cert_verify", self._cert_verify)),
        ]

    def _api(
        self, name: str, handler: Callable[[dict[str, str], Any], web.Response]
    ) -> Callable[[web.Request], Any]:
        async def endpoint(request: web.Request) -> web.Response:
            self.hits[name] += 1
            upload: Any = None
            if request.method == "POST":
                form = await request.post()
                params = {k: v for k, v in form.items() if isinstance(v, str)}
                upload = form.get("file")
            else:
                params = dict(request.query)
            try:
                self._authenticate(params)
                if self.busy > 0:
                    self.busy -= 1
                    raise Refusal(5000, "系统繁忙，请稍后重试")
                return handler(params, upload)
            except Refusal as refusal:
                self.refusals[refusal.code] += 1
                return _refused(refusal.code, refusal.message)

        return endpoint

    def _authenticate(self, params: dict[str, str]) -> None:
        for name in ("app_key", "timestamp", "nonce", "sign"):
            if not params.get(name):
                raise Refusal(4001, f"缺少参数 {name}")
        if params["app_key"] != self.app_key:
            raise Refusal(1004, "app_key 无效")
        method = SIGN_TYPES.get(params.get("sign_type", "HMAC-SHA256").upper())
        if method is None or method not in self.sign_methods:
            raise Refusal(4001, "不支持的签名方式")
        expected = expected_sign(params, self.app_secret, method)
        if not hmac.compare_digest(expected, params["sign"].lower()):
            raise Refusal(1001, "签名错误")
        try:
            stamp = int(params["timestamp"]) / 1000
        except ValueError:
            raise Refusal(4001, "timestamp 应为毫秒时间戳") from None
        now = self.auth_clock()
        if abs(now - stamp) > TIMESTAMP_WINDOW:
            raise Refusal(1002, "时间戳已过期")
        while self._nonce_times and now - self._nonce_times[0][0] > NONCE_TTL:
            self._nonces.discard(self._nonce_times.popleft()[1])
        if params["nonce"] in self._nonces:
            raise Refusal(1003, "请求重复（nonce 已使用）")
        self._nonces.add(params["nonce"])
        self._nonce_times.append((now, params["nonce"]))

    # registration ---------------------------------------------------------------------

    def _upload(self, params: dict[str, str], upload: Any) -> web.Response:
        self.truth.registration_requests += 1
        plan = self.plans.get(params.get("plan", ""))
        if plan is None:
            raise Refusal(2006, "考核计划不存在")
        if not isinstance(upload, web.FileField):
            raise Refusal(4002, "缺少报名文件")
        content = upload.file.read()
        if params.get("file_md5", "").lower() != hashlib.md5(content).hexdigest():
            raise Refusal(4002, "文件校验失败（file_md5 不符）")
        rows = self._read_file(upload.filename or "", content)
        if len(rows) > self.max_rows:
            raise Refusal(4001, f"单个文件最多 {self.max_rows} 行")
        if params.get("row_count") and params["row_count"] != str(len(rows)):
            raise Refusal(4002, "文件行数与 row_count 不符")
        results = []
        for number, row in enumerate(rows, start=1):
            code, message, reg_id = self._register_row(plan, row)
            result: dict[str, Any] = {
                "row": number,
                "id_no": _norm(row.get("证件号码")),
                "code": code,
                "msg": message,
            }
            if reg_id:
                result["reg_id"] = reg_id
            results.append(result)
        self._job_seq += 1
        job = UploadJob(f"LHJ{self._job_seq:06d}", plan.code, results, self.job_polls)
        self.jobs[job.job_id] = job
        return _ok({"job_id": job.job_id, "rows": len(rows)})

    def _read_file(self, filename: str, content: bytes) -> list[dict[str, str]]:
        if filename.lower().endswith(".xlsx"):
            table = _xlsx_rows(content)
        elif filename.lower().endswith(".csv"):
            try:
                text = content.decode("gb18030")
            except UnicodeDecodeError:
                raise Refusal(4002, "文件编码错误，请使用 GB18030") from None
            table = [row for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))]
        else:
            raise Refusal(4002, "仅支持 .csv 或 .xlsx 文件")
        if not table:
            raise Refusal(4002, "文件为空")
        header = [_clean(h) for h in table[0]]
        missing = [h for h in REQUIRED_HEADERS if h not in header]
        if missing:
            raise Refusal(4002, "缺少列：" + "、".join(missing))
        return [
            dict(zip(header, (_clean(c) for c in cells), strict=False))
            for cells in table[1:]
            if any(_clean(c) for c in cells)
        ]

    def _register_row(self, plan: LiaohePlan, row: dict[str, str]) -> tuple[int, str, str | None]:
        self.truth.registration_items += 1
        name = _clean(row.get("姓名"))
        id_number = _norm(row.get("证件号码"))
        if id_number:
            self.attempts[(plan.code, id_number)] += 1
        if not name or not id_number:
            return 2005, "姓名、证件号码为必填项", None
        id_type = ID_TYPES.get(_clean(row.get("证件类型")) or "居民身份证")
        if id_type is None:
            return 2005, "证件类型无效", None
        valid = (
            _resident_ok(id_number) if id_type == "resident" else bool(OTHER_ID.match(id_number))
        )
        if not valid:
            return 2004, "证件号码无效", None
        if (plan.code, id_number) in self.truth.registrations:
            return 2001, "该考生已报名此考核计划", None
        if plan.code in self.closed or self.clock.now().date() > plan.last_day:
            return 2002, "考核计划已截止报名", None
        if (
            LEVELS.get(_clean(row.get("等级"))) != plan.level
            or _clean(row.get("证书代码")) != plan.certificate_code
        ):
            return 2003, "报考证书或等级与考核计划不符", None
        if not MOBILE.match(_clean(row.get("手机号码"))):
            return 2005, "手机号码缺失或格式错误", None
        reg = self._create_registration(plan, id_number, name, row)
        return 0, "ok", reg.registration_id

    def _job(self, params: dict[str, str], _upload: Any) -> web.Response:
        job = self.jobs.get(params.get("job_id", ""))
        if job is None:
            raise Refusal(4004, "任务不存在")
        if job.polls_left > 0:
            job.polls_left -= 1
            return _ok({"job_id": job.job_id, "status": "processing", "total": len(job.results)})
        failed = sum(1 for r in job.results if r["code"] != 0)
        return _ok(
            {
                "job_id": job.job_id,
                "status": "done",
                "total": len(job.results),
                "succeeded": len(job.results) - failed,
                "failed": failed,
                "results": job.results,
            }
        )

    def _query(self, params: dict[str, str], _upload: Any) -> web.Response:
        key = (params.get("plan", ""), _norm(params.get("id_no")))
        reg = self.truth.registrations.get(key)
        if reg is None:
            raise Refusal(4004, "未找到报名记录")
        return _ok(
            {
                "reg_id": reg.registration_id,
                "plan": reg.plan_code,
                "id_no": reg.id_number,
                "name": reg.name,
                "status": "已报名",
                "reg_time": _fmt(reg.created_at),
            }
        )

    # listings -------------------------------------------------------------------------

    def _ordered(
        self, rows: list[T], stamp: Callable[[T], datetime], seq: Callable[[T], int]
    ) -> list[T]:
        """Newest first; with ``disorder``, some neighbours swapped (a fixed choice per pair
        of rows, so every request sees the same order for the same data)."""
        out = sorted(rows, key=lambda r: (stamp(r), seq(r)), reverse=True)
        i = 0
        while self.disorder and i < len(out) - 1:
            pair = f"{self.seed}:{seq(out[i])}:{stamp(out[i])}:{seq(out[i + 1])}"
            roll = int.from_bytes(hashlib.blake2b(pair.encode(), digest_size=8).digest()) / 2**64
            if roll < self.disorder:
                out[i], out[i + 1] = out[i + 1], out[i]
                i += 2
            else:
                i += 1
        return out

    def _window(
        self,
        params: dict[str, str],
        rows: list[T],
        stamp: Callable[[T], datetime],
        seq: Callable[[T], int],
        plan_of: Callable[[T], str],
    ) -> tuple[list[T], int, int, int]:
        """``(page rows, total, page_no, page_size)``; both time bounds are inclusive."""
        after = _param_time(params, "updated_after")
        until = _param_time(params, "updated_until")
        plan = params.get("plan") or None
        try:
            page_no = int(params.get("page_no", "1"))
            size = int(params.get("page_size", "100"))
        except ValueError:
            raise Refusal(4001, "page_no、page_size 应为整数") from None
        if page_no < 1 or not 1 <= size <= self.max_page_size:
            raise Refusal(4001, f"page_no 从 1 开始，page_size 为 1 到 {self.max_page_size}")
        chosen = [
            r
            for r in rows
            if (after is None or stamp(r) >= after)
            and (until is None or stamp(r) <= until)
            and (plan is None or plan_of(r) == plan)
        ]
        ordered = self._ordered(chosen, stamp, seq)
        start = (page_no - 1) * size
        page = ordered[start : start + size]
        if self.stream_faults is not None and page:
            page = self.stream_faults.disturb(page, ordered[max(0, start - 3) : start])
        return page, len(ordered), page_no, size

    def _score_export(self, params: dict[str, str], _upload: Any) -> web.Response:
        page, total, page_no, size = self._window(
            params,
            list(self.truth.scores.values()),
            _score_stamp,
            _score_seq,
            lambda s: s.plan_code,
        )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(SCORE_HEADERS)
        writer.writerows(self._score_row(s) for s in page)
        return web.Response(
            body=out.getvalue().encode("gb18030"),
            content_type="text/csv",
            charset="gb18030",
            headers={
                "Content-Disposition": f'attachment; filename="scores-{page_no}.csv"',
                "X-Total": str(total),
                "X-Page-No": str(page_no),
                "X-Page-Size": str(size),
                "X-Row-Count": str(len(page)),
                "X-Server-Time": _fmt(self.clock.now()),
            },
        )

    def _cert_list(self, params: dict[str, str], _upload: Any) -> web.Response:
        page, total, page_no, size = self._window(
            params,
            [
                c
                for c in self.truth.certificates.values()
                if not self.current_only or c.status == "valid"
            ],
            _cert_stamp,
            _cert_seq,
            lambda c: c.plan_code,
        )
        return _ok(
            {
                "total": total,
                "page_no": page_no,
                "page_size": size,
                "server_time": _fmt(self.clock.now()),
                "list": [self._cert_wire(c) for c in page],
            }
        )

    def _cert_verify(self, params: dict[str, str], _upload: Any) -> web.Response:
        cert = self.truth.certificates.get(params.get("cert_no", "").strip())
        if cert is None:
            raise Refusal(4004, "证书不存在")
        data = self._cert_wire(cert)
        if params.get("name"):
            data["name_match"] = _clean(params["name"]) == cert.holder_name
        return _ok(data)


def _score_stamp(s: TruthScore) -> datetime:
    return s.current.updated_at


def _score_seq(s: TruthScore) -> int:
    return s.seq


def _cert_stamp(c: TruthCertificate) -> datetime:
    return c.updated_at


def _cert_seq(c: TruthCertificate) -> int:
    return c.seq


def _param_time(params: dict[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return datetime.strptime(raw, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise Refusal(4001, f"{name} 格式应为 yyyy-MM-dd HH:mm:ss") from None


def _xlsx_rows(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise Refusal(4002, "无法读取 XLSX 文件") from None
    sheet = book.worksheets[0]
    table = [
        ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    book.close()
    return table


def main(argv: Sequence[str] | None = None) -> None:
    serve(
        lambda args: LiaoheSimulator(seed=args.seed),
        argv,
        description="Run the simulated Liaohe Vocational Skills Evaluation Platform "
        f"(app_key {DEFAULT_APP_KEY!r}, app_secret {DEFAULT_APP_SECRET!r}).",
    )


if __name__ == "__main__":
    main()


__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_PLANS",
    "LiaohePlan",
    "LiaoheSimulator",
    "Refusal",
    "StreamFaults",
    "expected_sign",
]
