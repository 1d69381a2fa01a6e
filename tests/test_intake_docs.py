"""docs/intake.md lists every header alias and every message staff can see."""

from __future__ import annotations

from pathlib import Path

from gateway.intake.headers import FIELD_LABELS, IGNORED_HEADERS, aliases_of
from gateway.intake.problems import FILE_MESSAGES, ROW_MESSAGES, SKIP_MESSAGES

DOC = (Path(__file__).resolve().parents[1] / "docs" / "intake.md").read_text(encoding="utf-8")


def test_every_message_is_documented_in_both_languages() -> None:
    for table in (ROW_MESSAGES, SKIP_MESSAGES, FILE_MESSAGES):
        for code, (zh, en) in table.items():
            assert f"`{code}`" in DOC, code
            assert zh.replace("|", "\\|") in DOC and en.replace("|", "\\|") in DOC, code


def test_every_header_alias_is_documented() -> None:
    for field in FIELD_LABELS:
        assert f"`{field}`" in DOC
        for alias in aliases_of(field):
            assert alias in DOC, alias
    for header in IGNORED_HEADERS:
        assert header in DOC
