from __future__ import annotations

from datetime import date

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
