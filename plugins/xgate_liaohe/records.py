"""Platform rows to canonical records, plus the fingerprint each listing row is known by.

A row that cannot be mapped becomes ``Invalid`` (the core quarantines it) rather than stopping
the stream; the reason names fields, never values, so no ID number ends up in a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from gateway import CertificateRecord, CertificateStatus, Invalid, ScoreRecord
from xgate_liaohe.wire import org_time

RESULTS = {"合格": (True, False), "不合格": (False, False), "缺考": (False, True)}
CERT_STATUSES = {"有效": CertificateStatus.VALID, "已撤销": CertificateStatus.REVOKED}


def fingerprint(*parts: object) -> str:
    """12 hex characters (48 bits) naming one version of one row; stored in cursors, so it is
    a hash rather than the natural key itself (which holds an ID number)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def row_version(row: Mapping[str, Any]) -> str:
    """Fingerprint of everything in a row, whatever its shape: a correction inside the same
    second still changes it, so it is never mistaken for a row already read."""
    return fingerprint(*(f"{k}={row[k]}" for k in sorted(row)))


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
    )


def _score(text: str) -> str | None:
    return text.strip() or None


def score_record(organization: str, row: Mapping[str, str]) -> ScoreRecord | Invalid:
    """One row of the score export (Chinese headers, see ``files.SCORE_HEADERS``)."""
    result = row.get("考核结果", "").strip()
    if result not in RESULTS:
        return Invalid(dict(row), f"考核结果: unknown result {result!r}")
    passed, absent = RESULTS[result]
    try:
        return ScoreRecord(
            organization=organization,
            plan_code=row["考核计划"],
            id_number=row["证件号码"],
            name=row.get("姓名") or None,
            certificate_code=row.get("证书代码") or None,
            level=row.get("等级") or None,
            theory=_score(row.get("理论成绩", "")),
            practical=_score(row.get("实操成绩", "")),
            total=_score(row.get("总成绩", "")),
            passed=passed,
            absent=absent,
            revised_at=org_time(row["更新时间"]),
            org_record_id=row.get("成绩编号") or None,
        )
    except ValidationError as exc:
        return Invalid(dict(row), _reason(exc))
    except (KeyError, ValueError) as exc:
        return Invalid(dict(row), f"unreadable field: {type(exc).__name__}")


def certificate_record(organization: str, item: Mapping[str, Any]) -> CertificateRecord | Invalid:
    """One entry of the certificate list or of a verification answer."""
    status = CERT_STATUSES.get(str(item.get("status", "")))
    if status is None:
        return Invalid(dict(item), f"status: unknown certificate status {item.get('status')!r}")
    try:
        return CertificateRecord(
            organization=organization,
            number=item["cert_no"],
            certificate_code=item["cert_code"],
            certificate_name=item.get("cert_name"),
            level=item["level"],
            id_number=item["id_no"],
            holder_name=item.get("name"),
            plan_code=item.get("plan"),
            issued_on=date.fromisoformat(str(item["issue_date"])),
            status=status,
            revoked_reason=item.get("revoke_reason") or None,
            updated_at=org_time(item["update_time"]),
        )
    except ValidationError as exc:
        return Invalid(dict(item), _reason(exc))
    except (KeyError, ValueError, TypeError) as exc:
        return Invalid(dict(item), f"unreadable field: {type(exc).__name__}")
