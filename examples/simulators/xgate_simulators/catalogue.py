"""A realistic certificate catalogue for a petrochemical vocational college.

Certificate names are real 1+X vocational skill-level certificates (职业技能等级证书) that
petrochemical, environmental and automation majors sit; each exists at 初级/中级/高级. The
codes and the organizations that "own" them here are fictional (see the simulators).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    name: str
    levels: tuple[int, ...] = (1, 2, 3)
    theory_pass: int = 60
    practical_pass: int = 60


#: organization -> certificates it assesses
CATALOGUE: dict[str, tuple[CatalogueEntry, ...]] = {
    "beifang": (
        CatalogueEntry("HGJL", "化工精馏安全控制"),
        CatalogueEntry("HAZOP", "化工危险与可操作性（HAZOP）分析"),
        CatalogueEntry("SHJ", "水环境监测与治理"),
    ),
    "liaohe": (
        CatalogueEntry("PLC", "可编程控制器系统应用编程"),
        CatalogueEntry("GYJQR", "工业机器人操作与运维", practical_pass=70),
    ),
}

#: major -> certificate codes a student of that major may sit (eligibility mapping)
MAJOR_CERTIFICATES: dict[str, tuple[str, ...]] = {
    "应用化工技术": ("HGJL", "HAZOP"),
    "石油化工技术": ("HGJL", "HAZOP"),
    "环境工程技术": ("SHJ",),
    "电气自动化技术": ("PLC", "GYJQR"),
}


def entry(code: str) -> CatalogueEntry:
    for entries in CATALOGUE.values():
        for e in entries:
            if e.code == code:
                return e
    raise KeyError(code)


def organization_of(code: str) -> str:
    for org, entries in CATALOGUE.items():
        if any(e.code == code for e in entries):
            return org
    raise KeyError(code)
