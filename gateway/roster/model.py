"""A roster row as validated, and the vocabularies of 学籍状态 and fee waiver bases.

Statuses are stored as stable English codes and shown with their Chinese labels; only
``enrolled`` (在读) students count in coverage. A change of major (转专业) is not a status: the
student stays enrolled and the export shows the new major, so the denominator moves with the
student while the certificates they hold stay theirs.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: stored code -> 学籍状态 label
STATUS_LABELS: dict[str, str] = {
    "enrolled": "在读",
    "suspended": "休学",
    "retained": "保留学籍",
    "graduated": "毕业",
    "completed": "结业",
    "withdrawn": "退学",
    "transferred": "转学",
}
ENROLLED = "enrolled"
_STATUS_WORDS: dict[str, str] = {
    **{label: code for code, label in STATUS_LABELS.items()},
    **{code: code for code in STATUS_LABELS},
    "在校": "enrolled",
    "在籍": "enrolled",
    "正常": "enrolled",
    "转专业": "enrolled",
    "已毕业": "graduated",
    "肄业": "completed",
    "转出": "transferred",
    "enrollment": "enrolled",
    "active": "enrolled",
}

#: stored code -> the basis a finance office records for a fee waiver
WAIVER_BASES: dict[str, str] = {
    "registered_poor": "建档立卡",
    "minimum_allowance": "低保",
    "destitute": "特困供养",
    "disability": "残疾学生",
    "orphan": "孤儿",
    "college_recognised": "家庭经济困难",
}
_WAIVER_WORDS: dict[str, str] = {
    **{label: code for code, label in WAIVER_BASES.items()},
    **{code: code for code in WAIVER_BASES},
    "建档立卡户": "registered_poor",
    "建档立卡贫困户": "registered_poor",
    "脱贫户": "registered_poor",
    "低保户": "minimum_allowance",
    "最低生活保障": "minimum_allowance",
    "特困": "destitute",
    "特困人员": "destitute",
    "残疾": "disability",
    "残疾人": "disability",
    "家庭经济困难认定": "college_recognised",
    "家庭经济困难学生": "college_recognised",
    "经济困难": "college_recognised",
    "困难": "college_recognised",
}


def _word(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


_STATUS_KEYS = {_word(k): v for k, v in _STATUS_WORDS.items()}
_WAIVER_KEYS = {_word(k): v for k, v in _WAIVER_WORDS.items()}
_NO_WAIVER = {"", "无", "否", "none", "no", "-", "/"}


def parse_status(text: str) -> str | None:
    """学籍状态 as a stored code, or None when unknown."""
    return _STATUS_KEYS.get(_word(text))


def parse_waiver_basis(text: str) -> tuple[bool, str | None]:
    """(understood, code): an empty cell or 无 is understood and means no waiver basis."""
    key = _word(text)
    if key in _NO_WAIVER:
        return True, None
    code = _WAIVER_KEYS.get(key)
    return code is not None, code


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One valid roster row. ``id_number`` lives only in memory, on its way to being hashed
    and masked; it is never stored."""

    row: int
    student_number: str
    name: str
    id_number: str
    department: str
    major: str
    cohort: int
    status: str
    class_name: str | None = None
    major_code: str | None = None
    program_years: int | None = None
    waiver_basis: str | None = None
