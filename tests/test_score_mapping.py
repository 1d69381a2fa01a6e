"""A score as an organization reports it, through the adapter's mapping and the model's
validators: what is accepted, what is refused and with which message, and what is stored.

Issue 14 made this path cheaper (a fast path for the usual 18-character ID number, levels
by int, a float's Decimal reused, a keyed HMAC copied); these cases pin the outcomes those
fast paths must keep, including the unusual inputs that still take the general path.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from xgate_beifang import wire

from gateway import Invalid, ScoreRecord
from gateway.keys import lookup_hash
from gateway.models import CertificateRecord, ExamPlan, Level
from tests.idgen import make_ids
from tests.wire_support import beifang_score

NUMBER = make_ids(1)[0]


def _score_id(raw: object) -> str:
    """The stored ID number, or the message it is refused with."""
    try:
        record = ScoreRecord(
            organization="o", plan_code="P", id_number=raw, revised_at="2026-01-01"
        )
    except ValidationError as exc:
        return "refused: " + exc.errors()[0]["msg"]
    return record.id_number


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002x\n", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("h1234567 ", "H1234567"),  # not resident-like: a document number, no checksum
        ("AB-123(4)", "AB-123(4)"),
    ],
)
def test_reported_id_numbers_are_normalised(raw: str, stored: str) -> None:
    assert _score_id(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("110105194912310021", "check character"),
        ("110105194912310000", "stored by Excel"),
        ("11010519490230002" + "1", "impossible birth date"),
        ("110105189912310021", "out of range"),
        ("110105491231002", "15-digit"),
        ("1.10105E+17", "not an ID document number"),
        (1.10105194912310e17, "not an ID document number"),
        ("A12", "not an ID document number"),
        (None, "valid string"),
    ],
)
def test_reported_id_numbers_are_refused_with_the_same_message(raw: object, message: str) -> None:
    outcome = _score_id(raw)
    assert outcome.startswith("refused: ") and message in outcome
    assert "1101051949" not in outcome  # never the number itself


def test_certificate_holder_ids_take_the_same_path() -> None:
    record = CertificateRecord(
        organization="o",
        number="N0001",
        certificate_code="C",
        level=1,
        id_number=" 11010519491231002x ",
        issued_on="2026-01-01",
        updated_at="2026-01-01",
    )
    assert record.id_number == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        (1, Level.JUNIOR),
        (3, Level.SENIOR),
        (Level.INTERMEDIATE, Level.INTERMEDIATE),
        ("2", Level.INTERMEDIATE),
        (" 中级 ", Level.INTERMEDIATE),
        ("Senior", Level.SENIOR),
        ("初", Level.JUNIOR),
    ],
)
def test_levels(raw: object, level: Level) -> None:
    plan = ExamPlan(code="P", organization="o", certificate_code="C", level=raw)
    assert plan.level is level


@pytest.mark.parametrize("raw", [0, 4, True, 2.0, "x", None])
def test_unknown_levels_are_refused(raw: object) -> None:
    # True == 1, but a boolean is no level (its text "True" is no alias), as before
    with pytest.raises(ValidationError):
        ExamPlan(code="P", organization="o", certificate_code="C", level=raw)
    with pytest.raises(ValueError, match="unknown level"):
        Level.parse(raw)


def _item(**scores: Any) -> dict[str, Any]:
    return beifang_score(NUMBER, **scores)


def _scores(**scores: Any) -> tuple[Any, ...] | str:
    mapped = wire.score("bf", _item(**scores))
    if isinstance(mapped, Invalid):
        return mapped.reason
    return (mapped.theory, mapped.practical, mapped.total)


def test_score_fields_keep_the_text_of_the_number() -> None:
    # a float becomes the Decimal of its shortest text, an int stays without decimals, and a
    # float seen before gives the same value again (the Decimal is reused, never changed)
    for _ in range(2):
        assert _scores(theory=64.0, practical=64, total=" 64.50 ") == (
            Decimal("64.0"),
            Decimal("64"),
            Decimal("64.50"),
        )
    got = _scores(theory=64.0, practical=64, total=64.5)
    assert isinstance(got, tuple)
    assert [str(v) for v in got] == ["64.0", "64", "64.5"]


def test_zero_and_negative_zero_stay_apart() -> None:
    # 0.0 == -0.0 (one dict key), but their Decimals differ: neither is remembered
    assert str(_scores(theory=-0.0)[0]) == "-0.0"  # type: ignore[index]
    assert str(_scores(theory=0.0)[0]) == "0.0"  # type: ignore[index]
    assert str(_scores(theory=-0.0)[0]) == "-0.0"  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "theory: not a number"),
        (float("inf"), "theory: not a number"),
        ("abc", "theory: not a number"),
        (True, "theory: not a number"),
        ([], "theory: not a number"),
        (100.5, "less than or equal to 100"),
        (64.125, "no more than 2 decimal places"),
        (-0.5, "greater than or equal to 0"),
    ],
)
def test_bad_scores_are_refused_every_time(value: object, reason: str) -> None:
    for _ in range(2):  # the second time too: nothing refused is remembered
        got = _scores(theory=value)
        assert isinstance(got, str) and reason in got


def test_many_distinct_scores_map_right() -> None:
    # more distinct floats than the mapping remembers: every one still maps to its own text
    values = [n / 4 for n in range(0, 400)] * 12
    for value in values[:5000]:
        assert _scores(theory=value)[0] == Decimal(str(value))  # type: ignore[index]


def test_mapping_refuses_non_objects_as_before() -> None:
    assert isinstance(wire.score("bf", ["not", "a", "dict"]), Invalid)
    mapped = wire.score("bf", _item(candidate="x"))
    assert isinstance(mapped, Invalid) and "candidate: must be an object" in mapped.reason
    mapped = wire.score("bf", _item(result=[]))
    assert isinstance(mapped, Invalid) and "unhashable" in mapped.reason


@pytest.mark.parametrize("key", [b"k" * 32, bytes(range(32)), b"", b"x" * 100])
def test_lookup_hash_is_hmac_sha256(key: bytes) -> None:
    for number in (NUMBER, "H1234567", NUMBER):  # repeated: the keyed HMAC is reused intact
        expected = hmac.new(key, number.encode(), hashlib.sha256).hexdigest()
        assert lookup_hash(number, key) == expected
        assert lookup_hash(number, bytearray(key)) == expected
