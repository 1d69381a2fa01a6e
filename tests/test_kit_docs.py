"""docs/plugins.md stays the kit's manual: every rule a kit message points to has its section,
and every kit test is explained."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.testing import OrganizationConformance, Sandbox

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_section_a_kit_message_points_to_exists() -> None:
    anchors = {slug(h) for h in re.findall(r"^#{2,3} (.+)$", DOC, flags=re.M)}
    used = set()
    for path in (ROOT / "gateway" / "testing").rglob("*.py"):
        used |= set(re.findall(r'see="([a-z-]+)"', path.read_text(encoding="utf-8")))
    assert used, "the kit's messages point to no section"
    assert used - anchors == set()


def test_every_kit_test_and_sandbox_method_is_documented() -> None:
    tests = [n for n in dir(OrganizationConformance) if n.startswith("test_")]
    assert len(tests) == 14
    assert [t for t in tests if f"`{t}`" not in DOC] == []
    methods = [n for n in vars(Sandbox) if not n.startswith("_")]
    assert [m for m in methods if f"`{m}" not in DOC] == []
