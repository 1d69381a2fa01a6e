"""A Beifang score item as the organization sends it, for tests of the wire mapping."""

from __future__ import annotations

from typing import Any


def beifang_score(number: str, **fields: Any) -> dict[str, Any]:
    """One ``/v1/scores`` item for ID ``number``; ``fields`` replace the defaults."""
    return {
        "id": 7,
        "plan": "P",
        "certificate": {"code": "HGJL", "level": 2},
        "candidate": {"name": "甲", "id_number": number},
        "theory": 60.5,
        "practical": 80,
        "total": 70.25,
        "result": "pass",
        "updated_at": "2026-12-20T10:00:00+08:00",
        **fields,
    }
