from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.idnumber import IdNumberError, check_char, parse_resident_id
from gateway.models import Candidate, IdType


def test_reference_number_validates() -> None:
    rid = parse_resident_id("11010519491231002X")
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.sex == "F"  # sequence 002: even
    assert rid.masked == "110105********002X"


def test_lowercase_x_is_normalised() -> None:
    assert parse_resident_id("11010519491231002x").number == "11010519491231002X"


def test_full_width_digits_are_normalised() -> None:
    assert parse_resident_id("１１０１０５１９４９１２３１００２ｘ").number == "11010519491231002X"


def test_fifteen_digit_legacy_number_is_refused_clearly() -> None:
    with pytest.raises(IdNumberError) as err:
        parse_resident_id("110105491231002")
    assert err.value.code == "legacy_15"
    assert "15" in err.value.message


def test_wrong_check_character() -> None:
    with pytest.raises(IdNumberError) as err:
        parse_resident_id("110105194912310021")
    assert err.value.code == "checksum"
    assert "1101051949" not in err.value.message  # masked in the message


def test_impossible_birth_date() -> None:
    body = "11010519490230002"  # 30 February
    with pytest.raises(IdNumberError) as err:
        parse_resident_id(body + check_char(body))
    assert err.value.code == "birth_date"


@pytest.mark.parametrize("raw", [1.10105194912310e17, "1.10105E+17", 110105194912310000])
def test_excel_damage_is_named(raw: object) -> None:
    with pytest.raises(IdNumberError) as err:
        parse_resident_id(raw)
    assert err.value.code == "excel_number"
    assert "Text" in err.value.message


def test_non_resident_document_skips_checksum() -> None:
    c = Candidate(name="陈大文", id_type=IdType.HK_MACAO, id_number="h1234567 ")
    assert c.id_number == "H1234567"
    assert c.sex is None


def test_candidate_cross_checks_sex_and_birth_date() -> None:
    with pytest.raises(ValueError, match="sex"):
        Candidate(name="张三", id_number="11010519491231002X", sex="M")
    with pytest.raises(ValueError, match="birth date"):
        Candidate(name="张三", id_number="11010519491231002X", birth_date=date(1950, 1, 1))


def test_candidate_repr_masks_personal_data() -> None:
    c = Candidate(name="张三", id_number="11010519491231002X", mobile="13912345678")
    text = repr(c)
    assert "11010519491231002X" not in text and "13912345678" not in text


# ---------------------------------------------------------------- fast paths, same outcomes
# (issue 14: the usual 18-character form is checked without regexes and without building a
# ResidentId; every case below has the outcome it had before that fast path existed)


def _weighted_sum_check_char(first17: str) -> str:
    """GB 11643 as the standard writes it: the weighted sum of the digits modulo 11."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def test_check_char_is_the_weighted_sum_for_every_digit_in_every_position() -> None:
    # the check is linear in the digits, so agreeing on each digit in each position (and on
    # all zeros) is agreeing everywhere; a few mixed numbers for good measure
    bodies = ["0" * 17] + [
        "0" * i + str(d) + "0" * (16 - i) for i in range(17) for d in range(1, 10)
    ]
    bodies += ["11010519491231002", "99999999999999999", "21010220000101000"]
    for body in bodies:
        assert check_char(body) == _weighted_sum_check_char(body), body


def test_check_char_refuses_what_it_refused() -> None:
    with pytest.raises(ValueError, match="17 digits"):
        check_char("1234")
    with pytest.raises(ValueError, match="invalid literal"):
        check_char("1234567890123456X")
    assert check_char("１１０１０５１９４９１２３１００２") == "X"  # full-width digits still add up


def _code(raw: object) -> str:
    try:
        parse_resident_id(raw)
    except IdNumberError as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("11010519491231002X", "ok"),
        ("11010519491231002x", "ok"),
        (" 11010519491231002X\t", "ok"),
        ("110105 19491231 002X", "ok"),
        ("１１０１０５１９４９１２３１００２Ｘ", "ok"),
        ("110105194912310000", "excel_number"),  # trailing zeros, wrong check character
        ("110105194912310021", "checksum"),
        ("110105194902300021", "birth_date"),  # 30 February, and a wrong check character
        ("110105189912310021", "birth_date"),  # before 1900 comes before the checksum
        ("110105194912310", "legacy_15"),
        ("1101051949123100", "format"),
        ("1101051949123100X2", "format"),
        ("1.10105E+17", "excel_number"),
        ("110105194912310000.0", "excel_number"),
        ("", "missing"),
        ("٠١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "checksum"),  # Arabic-Indic digits: the general path, as ever
    ],
)
def test_outcomes_of_the_usual_and_the_unusual_forms(raw: str, code: str) -> None:
    assert _code(raw) == code


def test_trailing_zeros_with_a_right_check_character_are_a_number() -> None:
    number = "110103194912310000"  # sequence 000, check character 0: a real number
    assert _weighted_sum_check_char(number[:17]) == "0"
    assert parse_resident_id(number).number == number
    assert parse_resident_id(number).sex == "F"


def test_birth_date_today_is_accepted_and_tomorrow_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway import idnumber

    noon = datetime(2031, 5, 17, 12, 0, tzinfo=UTC).timestamp()
    monkeypatch.setattr(idnumber.time, "time", lambda: noon)
    today = date.fromtimestamp(noon)
    for born, code in ((today, "ok"), (today + timedelta(days=1), "birth_date")):
        body = f"110105{born:%Y%m%d}002"
        assert _code(body + check_char(body)) == code
    # the date is re-read when the second changes: a day later, tomorrow's date is fine
    monkeypatch.setattr(idnumber.time, "time", lambda: noon + 86_400)
    body = f"110105{today + timedelta(days=1):%Y%m%d}002"
    assert _code(body + check_char(body)) == "ok"
