"""Conversion rules: the demo file, located error messages, grades and validity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.catalogue import load_catalogue
from gateway.credit.rules import RulesError, advisories, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "data" / "credit-rules.toml"
RULE = {
    "certificate": "HGJL",
    "level": 2,
    "course_code": "HG1",
    "course_name": "精馏",
    "credits": 4,
}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(data, "rules.toml")
    return caught.value.problems


def test_demo_rules_load_and_agree_with_the_catalogue() -> None:
    rules = load_rules(DEMO)
    assert rules.version == "2026.1" and rules.max_credits_per_certificate == Decimal(8)
    assert [r.course_code for r in rules.courses_for("HGJL", 3)] == ["HG1101", "HG2201", "HG2202"]
    assert [r.course_code for r in rules.courses_for("HAZOP", 1)] == ["HG2202"]
    plc3 = rules.courses_for("PLC", 3)[-1]
    assert plc3.validity_years == 3 and plc3.valid_until(date(2026, 1, 1)) == date(2029, 1, 1)
    notes = advisories(rules, load_catalogue(ROOT / "examples" / "data" / "catalogue.toml"))
    assert notes == [
        f"{DEMO}: PLC 高级 maps to 9 credits in [[rule]] #8, #9, #10; "
        "the cap 8 trims the later courses"
    ]


def test_grades_follow_the_bands_and_are_configurable() -> None:
    rules = parse_rules({"version": "1", "rule": [RULE]})
    got = [rules.grade_for(Decimal(x)) for x in ("90", "89.99", "80", "70", "60", "59.5")]
    assert got == ["优秀", "良好", "良好", "中等", "及格", None]
    assert rules.grade_for(None) is None
    custom = parse_rules({"version": "1", "grades": {"A": 85, "B": 60}, "rule": [RULE]})
    assert [custom.grade_for(Decimal(x)) for x in ("85", "84", "10")] == ["A", "B", None]


def test_validation_names_file_rule_and_field() -> None:
    bad_credits = {**RULE, "credits": -1}
    found = problems({"version": "1", "rule": [RULE, bad_credits]})
    assert found == [
        "rules.toml: [[rule]] #2 (HGJL -> HG1): field credits: Input should be greater than 0"
    ]
    found = problems({"version": "1", "rule": [{**RULE, "level": "特级"}]})
    assert found[0].startswith("rules.toml: [[rule]] #1 (HGJL -> HG1): field levels")
    assert "unknown level" in found[0]
    found = problems({"rule": [{**RULE, "colour": "red"}]})
    assert "rules.toml: field version: Field required" in found
    assert any("#1" in p and "field colour" in p for p in found)


def test_contradictions_are_errors() -> None:
    both = {k: v for k, v in RULE.items() if k != "level"} | {"levels": [2, 3]}
    dup = problems({"version": "1", "rule": [RULE, both]})
    assert dup == [
        "rules.toml: [[rule]] #2: field levels: HGJL 中级 -> HG1 is already given by [[rule]] #1"
    ]
    renamed = problems({"version": "1", "rule": [RULE, {**RULE, "level": 3, "course_name": "x"}]})
    assert "[[rule]] #2: field course_name" in renamed[0]
    grades = problems({"version": "1", "grades": {"A": 120}, "rule": [RULE]})
    assert grades == ["rules.toml: field grades.A: threshold must be within 0..100"]


def test_files_that_cannot_be_read_say_which(tmp_path: Path) -> None:
    broken = tmp_path / "rules.toml"
    broken.write_text('version = "1"\n[[rule]\n', encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(broken)
    assert str(broken) in str(caught.value) and "not valid TOML" in str(caught.value)
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(tmp_path / "absent.toml")
    assert RulesError([]).exit_code == 3  # a configuration error for every command


def test_leap_day_validity() -> None:
    rules = parse_rules({"version": "1", "defaults": {"validity_years": 1}, "rule": [RULE]})
    assert rules.rules[0].valid_until(date(2024, 2, 29)) == date(2025, 2, 28)
