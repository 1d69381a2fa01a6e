"""Per-row validation: a spreadsheet row becomes a ``Candidate`` with its plan and fee, or a
list of ``RowProblem`` naming the row and the column.

Every check a row can fail is made, not just the first, so staff fix a file in one pass. The
canonical ``Candidate`` model stays the one authority on a person's data (its own
cross-checks of sex and birth date against the ID number are mapped back to columns here);
this module adds what only the file knows: Excel damage, catalogue, plan, eligibility, fees.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from gateway.catalogue import Catalogue, CertificateDef, PlanDef
from gateway.idnumber import IdNumberError, ResidentId, normalise, parse_resident_id
from gateway.intake.eligibility import Eligibility
from gateway.intake.fees import FeeSchedule, parse_yes_no
from gateway.intake.problems import RowProblem, row_problem
from gateway.intake.reader import Layout, SourceRow
from gateway.masking import mask_id, mask_text
from gateway.models import Candidate, ExamPlan, IdType, Level, Sex

_ID_TYPES: dict[str, IdType] = {
    **{
        k: IdType.RESIDENT
        for k in (
            "居民身份证",
            "身份证",
            "中华人民共和国居民身份证",
            "二代身份证",
            "resident",
            "resident id",
            "resident id card",
            "id card",
        )
    },
    **{
        k: IdType.HK_MACAO
        for k in (
            "港澳居民来往内地通行证",
            "港澳通行证",
            "港澳居民居住证",
            "回乡证",
            "hk_macao_permit",
            "hong kong/macao permit",
        )
    },
    **{
        k: IdType.TAIWAN
        for k in (
            "台湾居民来往大陆通行证",
            "台胞证",
            "台湾居民居住证",
            "taiwan_permit",
            "taiwan permit",
        )
    },
    **{k: IdType.PASSPORT for k in ("护照", "passport")},
    **{
        k: IdType.FOREIGN_PERMANENT
        for k in (
            "外国人永久居留身份证",
            "外国人永久居留证",
            "foreign_permanent",
            "foreign permanent resident id",
        )
    },
}
_SEXES: dict[str, Sex] = {
    **dict.fromkeys(("男", "男性", "m", "male", "1"), Sex.MALE),
    **dict.fromkeys(("女", "女性", "f", "female", "2"), Sex.FEMALE),
}
_SITTINGS: dict[str, bool] = {
    **dict.fromkeys(
        ("新考", "首考", "初考", "正考", "新", "new", "first", "否", "n", "no", "0", "false"), False
    ),
    **dict.fromkeys(("补考", "重考", "补", "resit", "retake", "是", "y", "yes", "1", "true"), True),
}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_MOBILE_NOISE = re.compile(r"[\s\-()]")


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def clean(value: Any) -> str:
    """A cell as text: NFKC (full-width to half-width), stripped; numbers without ``.0``."""
    if value is None:
        return ""
    if type(value) is str:
        text = value.strip()
        return text if text.isascii() else unicodedata.normalize("NFKC", text).strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def read_name(n: int, name: str, problems: list[RowProblem]) -> str:
    """The 姓名 cell (already cleaned): empty or over-long names are problems."""
    if not name:
        problems.append(row_problem(n, "name", "name_missing"))
    elif len(name) > 64:
        problems.append(row_problem(n, "name", "name_too_long"))
    return name


def read_identity(
    n: int, type_text: str, raw: Any, problems: list[RowProblem]
) -> tuple[IdType, str, ResidentId | None]:
    """The 证件类型 and 证件号码 cells of row ``n``: the type, the normalised number ("" when
    it cannot be accepted, with the reason appended to ``problems``) and, for a resident ID
    card, what the number encodes. Every file of people (candidate lists, the roster) reads
    identities through here."""
    id_type = IdType.RESIDENT
    if type_text:
        found = _ID_TYPES.get(_key(type_text))
        if found is None:
            problems.append(row_problem(n, "id_type", "id_type_unknown", value=type_text))
            return id_type, "", None
        id_type = found
    if raw is None or (isinstance(raw, str) and not normalise(raw)):
        problems.append(row_problem(n, "id_number", "id_missing"))
        return id_type, "", None
    if id_type is not IdType.RESIDENT:
        if isinstance(raw, float):
            problems.append(row_problem(n, "id_number", "id_excel_number"))
            return id_type, "", None
        return id_type, normalise(clean(raw)), None
    text = normalise(raw if isinstance(raw, str) else str(raw))
    try:
        rid = parse_resident_id(raw)
    except IdNumberError as exc:
        code = f"id_{exc.code}"
        problems.append(row_problem(n, "id_number", code, length=len(text), masked=mask_id(text)))
        return id_type, "", None
    return id_type, rid.number, rid


@dataclass(frozen=True)
class IntakeRules:
    """The data a file is checked against."""

    catalogue: Catalogue
    fees: FeeSchedule | None = None
    eligibility: Eligibility | None = None


@dataclass(frozen=True)
class IntakeOptions:
    """How this run treats the file.

    ``plan``: the ``--plan`` (already resolved); ``organization``/``organization_names``: for a
    submission, every row's plan must belong to it; ``require_plan``: a submission needs a plan
    for every row; ``allow_ineligible``: the whole-file eligibility override;
    ``keep_candidates``: keep each valid row's ``Candidate`` (a submission needs them; a check
    does not, and dropping them keeps a 50,000-row check small); ``max_rows`` and
    ``max_sheet_bytes``: the bounds on what is read at all.
    """

    plan: PlanDef | None = None
    organization: str | None = None
    organization_names: frozenset[str] = frozenset()
    require_plan: bool = False
    allow_ineligible: bool = False
    keep_candidates: bool = True
    #: a file with more data rows is refused before its rows are kept (``intake_max_rows``)
    max_rows: int | None = None
    #: an .xlsx whose sheets unpack to more is refused before parsing (``intake_max_sheet_mb``)
    max_sheet_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A row that passed every check: what will be sent, and what it costs."""

    row: int
    id_number: str
    candidate: Candidate | None  # None when checked with ``keep_candidates=False``
    certificate_code: str
    certificate_name: str
    level: Level
    plan: ExamPlan | None
    fee: Decimal | None
    fee_waived: bool
    resit: bool
    eligibility_overridden: bool = False


@dataclass(slots=True)
class RowResult:
    """The verdict on one row. ``skip`` holds the (Chinese, English) note of a valid row that
    is not sent (already registered)."""

    row: int
    name: str
    id_masked: str
    problems: list[RowProblem] = field(default_factory=list)
    entry: ValidRow | None = None
    skip: tuple[str, str] | None = None
    dedup_key: tuple[str, ...] | None = None

    @property
    def status(self) -> str:
        if self.problems or self.entry is None:
            return "invalid"
        return "skipped" if self.skip else "valid"


class RowValidator:
    """Validates rows of one file against the rules; holds the per-file lookup tables."""

    def __init__(self, layout: Layout, rules: IntakeRules, options: IntakeOptions) -> None:
        self.columns = layout.columns
        self.rules = rules
        self.options = options
        cat = rules.catalogue
        self.certificates: dict[str, CertificateDef] = {}
        for cert in cat.certificates.values():
            for text in (cert.code, cert.name, *cert.aliases):
                self.certificates.setdefault(_key(text), cert)
        self.plans = {_key(code): p for code, p in cat.plans.items()}
        self.exam_plans: dict[str, ExamPlan] = {}  # one shared object per plan, not per row
        self.plans_by_cert: dict[tuple[str, Level], list[PlanDef]] = {}
        for p in cat.plans.values():
            self.plans_by_cert.setdefault((p.certificate, p.level), []).append(p)

    def _exam_plan(self, plan: PlanDef) -> ExamPlan:
        found = self.exam_plans.get(plan.code)
        if found is None:
            found = self.exam_plans[plan.code] = _exam_plan(plan)
        return found

    def _cell(self, row: SourceRow, name: str) -> Any:
        return row.get(self.columns.get(name))

    def _text(self, row: SourceRow, name: str) -> str:
        return clean(self._cell(row, name))

    def validate(self, row: SourceRow) -> RowResult:
        n = row.number
        problems: list[RowProblem] = []
        name = read_name(n, self._text(row, "name"), problems)
        id_type, id_number, rid = read_identity(
            n, self._text(row, "id_type"), self._cell(row, "id_number"), problems
        )
        result = RowResult(n, name, mask_id(id_number) if id_number else "")
        sex = self._sex(row, problems)
        birth = self._birth_date(row, problems)
        mobile = self._mobile(row, problems)
        cert, level, plan = self._certificate_and_plan(row, problems)
        overridden = self._eligibility(row, cert, problems)
        waived = self._yes_no(row, "fee_waiver", "fee_waiver_value", problems)
        resit = self._sitting(row, problems)
        if id_number and cert is not None and level is not None:
            result.dedup_key = (id_number, plan.code if plan else f"{cert.code}/{int(level)}")
        candidate = None
        if id_number and name and len(name) <= 64:
            candidate = self._candidate(
                row,
                problems,
                {
                    "name": name,
                    "id_type": id_type,
                    "id_number": id_number,
                    "sex": sex,
                    "birth_date": birth,
                    "mobile": mobile or None,
                    "fee_waiver": waived,
                    "resit": resit,
                },
                rid,
            )
        result.problems = problems
        if problems or candidate is None or cert is None or level is None:
            return result
        fees = self.rules.fees
        result.entry = ValidRow(
            row=n,
            id_number=candidate.id_number,
            candidate=candidate if self.options.keep_candidates else None,
            certificate_code=cert.code,
            certificate_name=cert.name,
            level=level,
            plan=self._exam_plan(plan) if plan else None,
            fee=fees.fee(cert.code, level) if fees else None,
            fee_waived=waived,
            resit=resit,
            eligibility_overridden=overridden,
        )
        return result

    def _sex(self, row: SourceRow, problems: list[RowProblem]) -> Sex | None:
        text = self._text(row, "sex")
        if not text:
            return None
        sex = _SEXES.get(_key(text))
        if sex is None:
            problems.append(row_problem(row.number, "sex", "sex_unknown", value=text))
        return sex

    def _birth_date(self, row: SourceRow, problems: list[RowProblem]) -> date | None:
        raw = self._cell(row, "birth_date")
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        text = clean(raw)
        if not text:
            return None
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        problems.append(row_problem(row.number, "birth_date", "birth_date_invalid", value=text))
        return None

    def _mobile(self, row: SourceRow, problems: list[RowProblem]) -> str:
        text = _MOBILE_NOISE.sub("", self._text(row, "mobile"))
        if text.startswith("+86"):
            text = text[3:]
        if text and not _MOBILE.match(text):
            problems.append(row_problem(row.number, "mobile", "mobile_format"))
            return ""
        return text

    def _candidate(
        self,
        row: SourceRow,
        problems: list[RowProblem],
        data: dict[str, Any],
        rid: ResidentId | None,
    ) -> Candidate | None:
        for name in ("ethnicity", "student_number", "department", "major", "class_name"):
            text = self._text(row, name)
            if text:
                data[name] = text
        try:
            return Candidate.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(_model_problem(row.number, err, data, rid))
            return None

    # --- certificate, level, plan -----------------------------------------------------------

    def _certificate_and_plan(
        self, row: SourceRow, problems: list[RowProblem]
    ) -> tuple[CertificateDef | None, Level | None, PlanDef | None]:
        n = row.number
        opts = self.options
        cat = self.rules.catalogue
        plan: PlanDef | None = opts.plan
        plan_text = self._text(row, "plan")
        if plan_text:
            row_plan = self.plans.get(_key(plan_text))
            if row_plan is None:
                problems.append(row_problem(n, "plan", "plan_unknown", value=plan_text))
                return None, None, None
            if opts.plan is not None and row_plan.code != opts.plan.code:
                problems.append(
                    row_problem(n, "plan", "plan_conflict", value=plan_text, plan=opts.plan.code)
                )
                return None, None, None
            plan = row_plan
        cert_text = self._text(row, "certificate")
        cert: CertificateDef | None = None
        if cert_text:
            cert = self.certificates.get(_key(cert_text))
            if cert is None:
                problems.append(
                    row_problem(n, "certificate", "certificate_unknown", value=cert_text)
                )
                return None, None, None
        elif plan is not None:
            cert = cat.certificates.get(plan.certificate)
        if cert is None:
            problems.append(row_problem(n, "certificate", "certificate_missing"))
            return None, None, None
        level_raw = self._cell(row, "level")
        level_text = clean(level_raw)
        level: Level | None = None
        if level_text:
            try:
                level = Level.parse(level_text)
            except ValueError:
                problems.append(row_problem(n, "level", "level_unknown", value=level_text))
                return cert, None, None
        elif plan is not None:
            level = plan.level
        else:
            problems.append(row_problem(n, "level", "level_missing"))
            return cert, None, None
        if level not in cert.levels:
            problems.append(
                row_problem(
                    n,
                    "level",
                    "level_not_offered",
                    certificate=cert.name,
                    level_zh=level.label,
                    level_en=_LEVEL_EN[level],
                )
            )
            return cert, None, None
        if plan is not None and (plan.certificate != cert.code or plan.level != level):
            plan_cert = cat.certificates[plan.certificate]
            problems.append(
                row_problem(
                    n,
                    "plan",
                    "plan_mismatch",
                    plan=plan.code,
                    plan_certificate=plan_cert.name,
                    plan_level_zh=plan.level.label,
                    plan_level_en=_LEVEL_EN[plan.level],
                    certificate=cert.name,
                    level_zh=level.label,
                    level_en=_LEVEL_EN[level],
                )
            )
            return cert, level, None
        if plan is None:
            plan = self._unique_plan(n, cert, level, problems)
        if (
            plan is not None
            and opts.organization
            and (plan.organization not in (opts.organization_names or {opts.organization}))
        ):
            problems.append(
                row_problem(
                    n,
                    "plan",
                    "plan_other_org",
                    plan=plan.code,
                    plan_org=plan.organization,
                    org=opts.organization,
                )
            )
        return cert, level, plan

    def _unique_plan(
        self, n: int, cert: CertificateDef, level: Level, problems: list[RowProblem]
    ) -> PlanDef | None:
        """No plan named: take the catalogue's only plan for this certificate and level."""
        plans = self.plans_by_cert.get((cert.code, level), [])
        if self.options.organization:
            names = self.options.organization_names or {self.options.organization}
            plans = [p for p in plans if p.organization in names]
        if len(plans) == 1:
            return plans[0]
        if self.options.require_plan:
            if plans:
                problems.append(
                    row_problem(
                        n,
                        "plan",
                        "plan_ambiguous",
                        certificate=cert.name,
                        level_zh=level.label,
                        level_en=_LEVEL_EN[level],
                        plans=", ".join(sorted(p.code for p in plans)),
                    )
                )
            else:
                problems.append(row_problem(n, "plan", "plan_missing"))
        return None

    # --- eligibility, fee waiver, sitting ---------------------------------------------------

    def _eligibility(
        self, row: SourceRow, cert: CertificateDef | None, problems: list[RowProblem]
    ) -> bool:
        """Check the major against the mapping; returns True when an override was used."""
        override = self._yes_no(row, "eligibility_override", "override_value", problems)
        mapping = self.rules.eligibility
        major = self._text(row, "major")
        if mapping is None or cert is None or not major:
            return False
        allowed = mapping.allows(major, cert.code)
        if allowed:
            return False
        if self.options.allow_ineligible or override:
            return True
        code = "major_unknown" if allowed is None else "major_ineligible"
        problems.append(row_problem(row.number, "major", code, major=major, certificate=cert.name))
        return False

    def _yes_no(self, row: SourceRow, name: str, code: str, problems: list[RowProblem]) -> bool:
        raw = self._cell(row, name)
        value = parse_yes_no(raw)
        if value is None:
            problems.append(row_problem(row.number, name, code, value=clean(raw)))
            return False
        return value

    def _sitting(self, row: SourceRow, problems: list[RowProblem]) -> bool:
        text = self._text(row, "sitting")
        if not text:
            return False
        value = _SITTINGS.get(_key(text))
        if value is None:
            problems.append(row_problem(row.number, "sitting", "sitting_value", value=text))
            return False
        return value


_LEVEL_EN = {Level.JUNIOR: "junior", Level.INTERMEDIATE: "intermediate", Level.SENIOR: "senior"}
_SEX_TEXT = {"M": ("男", "male"), "F": ("女", "female")}
_MODEL_FIELDS = {
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "mobile",
    "student_number",
    "department",
    "major",
    "class_name",
    "ethnicity",
}


def _model_problem(n: int, err: Any, data: dict[str, Any], rid: ResidentId | None) -> RowProblem:
    """Map one of the ``Candidate`` model's errors back to the column it concerns."""
    loc = err.get("loc") or ()
    message = str(err.get("msg", ""))
    if not loc or loc[0] not in _MODEL_FIELDS:
        if "sex does not match" in message and rid is not None:
            sex = data.get("sex")
            given = _SEX_TEXT[sex.value][0] if isinstance(sex, Sex) else str(sex)
            zh, en = _SEX_TEXT[rid.sex]
            return row_problem(
                n, "sex", "sex_mismatch", value=given, expected_zh=zh, expected_en=en
            )
        if "birth date" in message:
            return row_problem(n, "birth_date", "birth_date_mismatch")
        return row_problem(n, "id_number", "invalid_value", detail=mask_text(message))
    where = str(loc[0])
    if where == "mobile":
        return row_problem(n, "mobile", "mobile_format")
    if where == "name":
        return row_problem(n, "name", "name_too_long")
    ctx = err.get("ctx") or {}
    if err.get("type") in ("too_long", "string_too_long") and "max_length" in ctx:
        value = data.get(where)
        length = len(value) if isinstance(value, str) else ctx.get("actual_length", "?")
        return row_problem(n, where, "too_long", limit=ctx["max_length"], length=length)
    return row_problem(n, where, "invalid_value", detail=mask_text(message))


def _exam_plan(plan: PlanDef) -> ExamPlan:
    return ExamPlan(
        code=plan.code,
        organization=plan.organization,
        certificate_code=plan.certificate,
        level=plan.level,
        exam_date=plan.exam_date,
        registration_deadline=plan.registration_deadline,
        test_centre=plan.test_centre,
    )
