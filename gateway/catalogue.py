"""The certificate catalogue and exam plans the college works with, as data staff can edit.

One TOML file (``catalogue_file`` in settings; the demo ships ``examples/data/catalogue.toml``)
lists certificates with their levels and pass rule, and the exam plans (考核批次) candidates are
submitted to. The pass rule is data, not code: ``theory_pass`` and ``practical_pass`` per
certificate, defaulting to 60/60.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.datafile import read_toml, validate_data
from gateway.models import ExamPlan, Level, LevelField


class CertificateDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    organization: str
    levels: list[LevelField] = Field(default_factory=lambda: [Level(1), Level(2), Level(3)])
    theory_pass: Decimal = Decimal(60)
    practical_pass: Decimal = Decimal(60)
    aliases: list[str] = Field(default_factory=list)


class PlanDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1)
    organization: str
    certificate: str
    level: LevelField
    exam_date: date | None = None
    registration_deadline: date | None = None
    test_centre: str | None = None


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = "1"
    certificate: list[CertificateDef] = Field(default_factory=list)
    plan: list[PlanDef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueFile:
        codes = [c.code for c in self.certificate]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"certificate codes listed twice: {', '.join(sorted(dup))}")
        known = {c.code: c for c in self.certificate}
        for p in self.plan:
            cert = known.get(p.certificate)
            if cert is None:
                raise ValueError(f"plan {p.code}: unknown certificate {p.certificate!r}")
            if p.level not in cert.levels:
                raise ValueError(f"plan {p.code}: {cert.name} has no level {p.level.label}")
            if p.organization != cert.organization:
                raise ValueError(
                    f"plan {p.code}: certificate {p.certificate} belongs to {cert.organization}"
                )
        return self


@dataclass
class Catalogue:
    version: str = "1"
    certificates: dict[str, CertificateDef] = field(default_factory=dict)
    plans: dict[str, PlanDef] = field(default_factory=dict)

    def find_certificate(self, text: str) -> CertificateDef | None:
        """By code, exact name or alias (names are NFKC-normalised and stripped by callers)."""
        if text in self.certificates:
            return self.certificates[text]
        for cert in self.certificates.values():
            if text == cert.name or text in cert.aliases:
                return cert
        return None

    def plan(self, code: str) -> ExamPlan | None:
        p = self.plans.get(code)
        if p is None:
            return None
        return ExamPlan(
            code=p.code,
            organization=p.organization,
            certificate_code=p.certificate,
            level=p.level,
            exam_date=p.exam_date,
            registration_deadline=p.registration_deadline,
            test_centre=p.test_centre,
        )

    def passes(
        self, certificate_code: str | None, theory: Decimal | None, practical: Decimal | None
    ) -> bool | None:
        """The college's pass rule for this certificate; None when it cannot be decided."""
        if theory is None or practical is None:
            return None
        cert = self.certificates.get(certificate_code or "")
        t_pass = cert.theory_pass if cert else Decimal(60)
        p_pass = cert.practical_pass if cert else Decimal(60)
        return theory >= t_pass and practical >= p_pass


def parse_catalogue(data: dict[str, Any], source: str = "catalogue") -> Catalogue:
    parsed = validate_data(CatalogueFile, data, source, "catalogue")
    return Catalogue(
        version=parsed.version,
        certificates={c.code: c for c in parsed.certificate},
        plans={p.code: p for p in parsed.plan},
    )


def load_catalogue(path: Path | None) -> Catalogue:
    """Read the catalogue file; no file configured means an empty catalogue."""
    if path is None:
        return Catalogue()
    return parse_catalogue(read_toml(path, "catalogue file"), str(path))
