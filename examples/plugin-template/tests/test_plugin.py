"""What the kit cannot know: this plugin's entry point and its organization's wire format."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib.metadata import EntryPoint
from pathlib import Path

from xgate_example_org import wire

from gateway import Invalid, Level, ScoreRecord
from gateway.plugins import ENTRY_POINT_GROUP, load_plugins

ROOT = Path(__file__).resolve().parents[1]


def test_the_entry_point_in_pyproject_loads_the_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    points = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in declared.items()]
    host = load_plugins(lambda: points)
    assert host.errors == []
    assert set(host.specs) == {"example_org"}


def test_a_score_in_beijing_time_with_a_chinese_level() -> None:
    item = {
        "seq": 7,
        "plan": "EX-1",
        "id_number": "11010519491231002x",
        "name": "王伟",
        "cert_code": "CNC",
        "level": "中级",
        "theory": 88.5,
        "practical": 60,
        "total": 74.25,
        "result": "PASS",
        "changed_at": "2026-12-20 10:00:00",
    }
    record = wire.score("example", item)
    assert isinstance(record, ScoreRecord)
    assert record.level is Level.INTERMEDIATE and record.theory == Decimal("88.5")
    assert record.id_number.endswith("X")
    assert record.revised_at.isoformat() == "2026-12-20T02:00:00+00:00"


def test_an_unknown_result_code_is_invalid_without_personal_data() -> None:
    item = {
        "seq": 8,
        "plan": "EX-1",
        "id_number": "11010519491231002X",
        "result": "MAYBE",
        "changed_at": "2026-12-20 10:00:00",
    }
    record = wire.score("example", item)
    assert isinstance(record, Invalid)
    assert "MAYBE" in record.reason and "11010519491231002X" not in record.reason
