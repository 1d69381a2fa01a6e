"""Transcripts for a whole class: every student of the class with their credit, for the
teaching office (``xgate credits transcript --class 应化2401``).

The class is the roster's 班级 (the registrar's truth); a class not on the roster is taken from
candidate lists (their stored masked ID: the number itself is sealed). Each student carries
学号, masked ID, major and class; a student without a learning account yet is listed with no
credit (they have earned none through xgate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.ledger import credits_text
from gateway.credit.transcript import KIND_LABELS, Transcript, build_transcript, transcript_json
from gateway.reports.sheets import Sheet
from gateway.store import tables as t


@dataclass
class ClassMember:
    student: dict[str, str | None]
    transcript: Transcript | None

    @property
    def total(self) -> Decimal:
        return self.transcript.total if self.transcript else Decimal("0.00")


@dataclass
class ClassTranscripts:
    class_name: str
    generated_at: datetime
    members: list[ClassMember] = field(default_factory=list)


async def _members(conn: AsyncConnection, class_name: str) -> list[tuple[str, dict[str, Any]]]:
    rs, cd = t.roster_students.c, t.candidates.c
    rows = await conn.execute(
        select(
            rs.id_hash,
            rs.student_number,
            rs.name,
            rs.id_masked,
            rs.department,
            rs.major,
            rs.class_name,
            rs.status,
        )
        .where(rs.class_name == class_name)
        .order_by(rs.student_number)
    )
    found = [(r.id_hash, dict(r._mapping)) for r in rows]
    if found:
        return found
    rows = await conn.execute(
        select(
            cd.id_hash,
            cd.student_number,
            cd.name,
            cd.id_masked,
            cd.department,
            cd.major,
            cd.class_name,
        )
        .where(cd.class_name == class_name)
        .order_by(cd.student_number, cd.id)
    )
    return [(r.id_hash, {**dict(r._mapping), "status": None}) for r in rows]


async def class_transcripts(
    conn: AsyncConnection, class_name: str, *, now: datetime | None = None
) -> ClassTranscripts:
    now = now or datetime.now(UTC)
    result = ClassTranscripts(class_name, now)
    for id_hash, data in await _members(conn, class_name):
        student = {
            k: (None if data.get(k) is None else str(data[k])) for k in data if k != "id_hash"
        }
        tr = await build_transcript(conn, id_hash, now=now)
        if tr is not None:
            tr.student = student
        result.members.append(ClassMember(student, tr))
    return result


def class_document(c: ClassTranscripts) -> dict[str, Any]:
    return {
        "class": c.class_name,
        "generated_at": c.generated_at.isoformat(),
        "students": [
            {
                **m.student,
                "total_credits": credits_text(m.total),
                "transcript": transcript_json(m.transcript) if m.transcript else None,
            }
            for m in c.members
        ],
    }


def class_sheets(c: ClassTranscripts) -> list[Sheet]:
    summary = Sheet(
        "汇总",
        [
            "学号",
            "姓名",
            "证件号码（脱敏）",
            "院系",
            "专业",
            "班级",
            "有效学分合计",
            "课程数",
            "学习账户",
        ],
    )
    detail = Sheet(
        "明细",
        [
            "学号",
            "姓名",
            "课程代码",
            "课程名称",
            "学分",
            "来源",
            "依据",
            "等级",
            "有效期至",
            "已过期",
        ],
    )
    for m in c.members:
        s = m.student
        courses = m.transcript.courses if m.transcript else []
        summary.rows.append(
            [
                s.get("student_number"),
                s.get("name"),
                s.get("id_masked"),
                s.get("department"),
                s.get("major"),
                s.get("class_name"),
                Decimal(credits_text(m.total)),
                len(courses),
                "有" if m.transcript else "尚未开户",
            ]
        )
        for course in courses:
            detail.rows.append(
                [
                    s.get("student_number"),
                    s.get("name"),
                    course.course_code,
                    course.course_name,
                    Decimal(credits_text(course.credits)),
                    "、".join(KIND_LABELS.get(k, k) for k in course.kinds),
                    "、".join(course.sources),
                    course.grade,
                    course.valid_until,
                    "是" if course.expired else "",
                ]
            )
    return [summary, detail]


def write_class_xlsx(c: ClassTranscripts, path: Path) -> Path:
    from gateway.reports.workbook import write_sheets

    return write_sheets(class_sheets(c), path)
