from __future__ import annotations

import json
from pathlib import Path

from gateway import schemas

ROOT = Path(__file__).resolve().parents[1]


def test_checked_in_schemas_are_current() -> None:
    stale = schemas.stale(ROOT / "schemas")
    assert stale == [], f"run `xgate schemas export` (stale: {stale})"


def test_stale_detection_notices_a_change(tmp_path: Path) -> None:
    schemas.export(tmp_path)
    path = tmp_path / "score_record.schema.json"
    data = json.loads(path.read_text())
    data["properties"].pop("theory")
    path.write_text(json.dumps(data))
    assert schemas.stale(tmp_path) == ["score_record.schema.json"]
