"""Conversion rules: the college's policy (certificate + level -> course credit) as versioned data.

Staff edit one TOML file (``rules_file`` in settings; the demo ships
``examples/data/credit-rules.toml``). Its ``version`` is written on every ledger entry the rules
produce, so any credit can be traced back to the policy text that granted it; changing the rules
means changing the version, and the next reconcile re-issues what the new version decides.

Every problem names the file, the rule (``[[rule]]`` #n, counted from 1) and the field, because
the people who fix this file are academic-affairs staff, not programmers.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import ConfigurationError
from gateway.models import Level, LevelField

if TYPE_CHECKING:
    from gateway.catalogue import Catalogue

DEFAULT_GRADES: dict[str, Decimal] = {
    "优秀": Decimal(90),
    "良好": Decimal(80),
    "中等": Decimal(70),
    "及格": Decimal(60),
}


class RulesError(ConfigurationError):
    """The rules file cannot be used; ``problems`` lists each one, already located."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid credit rules:\n  " + "\n  ".join(problems))
        self.problems = problems


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_credits_per_certificate: Decimal = Field(Decimal(8), gt=0, max_digits=6, decimal_places=2)
    validity_years: int | None = Field(None, ge=1, le=100)


class _RuleDef(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    certificate: str = Field(min_length=1, max_length=64)
    levels: list[LevelField] = Field(min_length=1)
    course_code: str = Field(min_length=1, max_length=64)
    course_name: str = Field(min_length=1, max_length=256)
    credits: Decimal = Field(gt=0, max_digits=6, decimal_places=2)
    validity_years: int | None = Field(None, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _one_level(cls, data: Any) -> Any:
        """``level = 2`` is the common case; ``levels = [2, 3]`` the general one."""
        if isinstance(data, dict) and "level" in data:
            data = dict(data)
            if "levels" in data:
                raise ValueError("give either level or levels, not both")
            data["levels"] = [data.pop("level")]
        return data


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=64)
    college: str | None = None
    defaults: _Defaults = _Defaults()
    grades: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_GRADES))
    rule: list[_RuleDef] = Field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``: a certificate at some levels replaces one course for some credits."""

    index: int  # 1-based position in the file, for messages
    certificate: str
    levels: frozenset[Level]
    course_code: str
    course_name: str
    credits: Decimal
    validity_years: int | None

    def valid_until(self, issued_on: date) -> date | None:
        return _add_years(issued_on, self.validity_years) if self.validity_years else None


@dataclass(frozen=True)
class RuleSet:
    version: str
    max_credits_per_certificate: Decimal
    rules: tuple[Rule, ...]
    grades: tuple[tuple[str, Decimal], ...]  # highest threshold first
    source: str = "rules"
    college: str | None = None
    _by_cert: dict[tuple[str, int], tuple[Rule, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        index: dict[tuple[str, int], list[Rule]] = {}
        for rule in self.rules:
            for level in rule.levels:
                index.setdefault((rule.certificate, int(level)), []).append(rule)
        self._by_cert.update({k: tuple(v) for k, v in index.items()})

    def courses_for(self, certificate_code: str, level: int) -> tuple[Rule, ...]:
        """The rules this certificate at this level satisfies, in file order."""
        return self._by_cert.get((certificate_code, int(level)), ())

    def grade_for(self, total: Decimal | None) -> str | None:
        """The grade band of a score total; None without a total or below every band."""
        if total is None:
            return None
        for name, minimum in self.grades:
            if total >= minimum:
                return name
        return None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def _rule_label(raw: Any, index: int) -> str:
    label = f"[[rule]] #{index + 1}"
    if isinstance(raw, dict):
        bits = [str(raw[k]) for k in ("certificate", "course_code") if raw.get(k)]
        if bits:
            label += f" ({' -> '.join(bits)})"
    return label


def _describe(exc: ValidationError, data: dict[str, Any], source: str) -> list[str]:
    raw_rules = data.get("rule") if isinstance(data.get("rule"), list) else []
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int):
            raw = raw_rules[loc[1]] if raw_rules and loc[1] < len(raw_rules) else None
            where = _rule_label(raw, loc[1])
            fld = ".".join(str(p) for p in loc[2:]) or "(rule)"
            problems.append(f"{source}: {where}: field {fld}: {err['msg']}")
        else:
            fld = ".".join(str(p) for p in loc) or "(file)"
            problems.append(f"{source}: field {fld}: {err['msg']}")
    return problems


def _consistency(parsed: _RulesFile, source: str) -> list[str]:
    problems = []
    seen: dict[tuple[str, int, str], int] = {}
    names: dict[str, tuple[str, int]] = {}
    for i, r in enumerate(parsed.rule, start=1):
        for level in r.levels:
            key = (r.certificate, int(level), r.course_code)
            if key in seen:
                problems.append(
                    f"{source}: [[rule]] #{i}: field levels: {r.certificate} {level.label} -> "
                    f"{r.course_code} is already given by [[rule]] #{seen[key]}"
                )
            seen.setdefault(key, i)
        first = names.setdefault(r.course_code, (r.course_name, i))
        if first[0] != r.course_name:
            problems.append(
                f"{source}: [[rule]] #{i}: field course_name: course {r.course_code} is called "
                f"{first[0]!r} in [[rule]] #{first[1]}, {r.course_name!r} here"
            )
    for name, minimum in parsed.grades.items():
        if not 0 <= minimum <= 100:
            problems.append(f"{source}: field grades.{name}: threshold must be within 0..100")
    thresholds = list(parsed.grades.values())
    if len(set(thresholds)) != len(thresholds):
        problems.append(f"{source}: field grades: two grades share one threshold")
    return problems


def parse_rules(data: dict[str, Any], source: str = "rules") -> RuleSet:
    """Validate parsed TOML; raise ``RulesError`` listing every located problem."""
    try:
        parsed = _RulesFile.model_validate(data)
    except ValidationError as exc:
        raise RulesError(_describe(exc, data, source)) from None
    problems = _consistency(parsed, source)
    if problems:
        raise RulesError(problems)
    default_years = parsed.defaults.validity_years
    rules = tuple(
        Rule(
            index=i,
            certificate=r.certificate,
            levels=frozenset(r.levels),
            course_code=r.course_code,
            course_name=r.course_name,
            credits=r.credits,
            validity_years=r.validity_years if r.validity_years is not None else default_years,
        )
        for i, r in enumerate(parsed.rule, start=1)
    )
    grades = tuple(sorted(parsed.grades.items(), key=lambda kv: kv[1], reverse=True))
    return RuleSet(
        version=parsed.version,
        max_credits_per_certificate=parsed.defaults.max_credits_per_certificate,
        rules=rules,
        grades=grades,
        source=source,
        college=parsed.college,
    )


def load_rules(path: Path) -> RuleSet:
    """Read and validate the rules file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError([f"{path}: the rules file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([f"{path}: cannot read the rules file: {exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_rules(data, str(path))


def advisories(rules: RuleSet, catalogue: Catalogue | None = None) -> list[str]:
    """Things that are allowed but probably not meant: shown by ``xgate credits rules check``."""
    notes: list[str] = []
    cap = rules.max_credits_per_certificate
    for r in rules.rules:
        if r.credits > cap:
            notes.append(
                f"{rules.source}: [[rule]] #{r.index}: credits {r.credits} exceed the "
                f"per-certificate cap {cap}; at most {cap} will be granted"
            )
    for (code, level), matched in sorted(rules._by_cert.items()):
        total = sum((r.credits for r in matched), Decimal(0))
        if total > cap and len(matched) > 1:
            notes.append(
                f"{rules.source}: {code} {Level(level).label} maps to {total} credits in "
                f"[[rule]] {_indices(matched)}; the cap {cap} trims the later courses"
            )
    if catalogue is not None and catalogue.certificates:
        for r in rules.rules:
            known = catalogue.certificates.get(r.certificate)
            if known is None:
                notes.append(
                    f"{rules.source}: [[rule]] #{r.index}: field certificate: "
                    f"{r.certificate!r} is not in the catalogue"
                )
                continue
            missing = sorted(int(lv) for lv in r.levels if lv not in known.levels)
            if missing:
                notes.append(
                    f"{rules.source}: [[rule]] #{r.index}: field levels: {known.name} has no "
                    f"level {', '.join(Level(m).label for m in missing)} in the catalogue"
                )
    return notes


def _indices(rules: Iterable[Rule]) -> str:
    return ", ".join(f"#{r.index}" for r in rules)
