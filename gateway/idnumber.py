"""Resident ID numbers (GB 11643-1999): normalisation, checksum and what they tell us.

Kept apart from the models so that the intake validator, the models and the credit bank share
one implementation and one set of messages. Messages never contain the full number.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import mul

from gateway.masking import mask_id

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_EIGHTEEN = re.compile(r"^\d{17}[\dX]$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$")
_DECIMAL_ZEROS = re.compile(r"\d{16,18}\.0+")
_LAST = frozenset("0123456789X")


class IdNumberError(ValueError):
    """A resident ID number that cannot be accepted; ``code`` is stable for programs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ResidentId:
    """A validated 18-character resident ID number and the facts it encodes."""

    number: str
    region: str
    birth_date: date
    sex: str  # "M" or "F": odd sequence digit is male

    @property
    def masked(self) -> str:
        return mask_id(self.number)


def normalise(raw: str) -> str:
    """NFKC (full-width digits and 'Ｘ'), strip spaces, upper-case the check character."""
    text = str(raw)
    if text.isascii() and text.isalnum():  # the usual case: nothing to normalise or strip
        return text.upper()
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text).upper()


def check_char(first17: str) -> str:
    if len(first17) != len(WEIGHTS):
        raise ValueError("the check character is computed over 17 digits")
    if first17.isascii() and first17.isdigit():
        # The weights are 2**(18 - position) mod 11 and 13 = 2 (mod 11), so the weighted sum
        # is 2 * (the digits read in base 13) modulo 11; int() reads them in C.
        return CHECK_CHARS[2 * int(first17, 13) % 11]
    return CHECK_CHARS[sum(map(mul, map(int, first17), WEIGHTS)) % 11]


def looks_like_excel_damage(raw: object) -> bool:
    """True when a value shows what Excel does to an 18-digit number typed as a number."""
    if isinstance(raw, float):
        return True
    if isinstance(raw, int):
        return len(str(raw)) >= 16 and str(raw).endswith("000")
    return _damaged_text(normalise(str(raw)))


def _damaged_text(text: str) -> bool:
    """``looks_like_excel_damage`` of a text already normalised."""
    if _SCIENTIFIC.match(text):
        return True
    if _DECIMAL_ZEROS.fullmatch(text):
        return True
    return len(text) == 18 and text.isdigit() and text.endswith("000") and not _valid_checksum(text)


def _valid_checksum(text: str) -> bool:
    return check_char(text[:17]) == text[17]


def parse_resident_id(raw: object) -> ResidentId:
    """Validate a resident ID number; raise ``IdNumberError`` with a message staff can act on."""
    text = normalise(str(raw))  # once, for both checks; a number is judged as a number
    number = isinstance(raw, int | float)
    plain = not number and _plain(text)  # the usual form: fewer tests, same outcome
    born = _checked_plain(text) if plain else _checked(raw, text, number)
    sex = "M" if int(text[16]) % 2 == 1 else "F"
    return ResidentId(number=text, region=text[:6], birth_date=born, sex=sex)


def resident_number(text: str) -> str | None:
    """For a normalised text of 17 ASCII digits and a digit or X (nearly every number as it
    arrives): the text, once every check of ``parse_resident_id`` passed, or its
    ``IdNumberError``. None for any other text, which ``parse_resident_id`` must judge."""
    if not _plain(text):
        return None
    _checked_plain(text)
    return text


def _plain(text: str) -> bool:
    return len(text) == 18 and text.isascii() and text[:17].isdigit() and text[17] in _LAST


def _checked_plain(text: str) -> date:
    """``_checked`` of a ``_plain`` text, in the same order with the same errors: of the
    Excel tests only the trailing zeros can apply, the format test always passes."""
    valid = _valid_checksum(text)
    if not valid and text.endswith("000"):
        raise _excel_error()
    born = _birth_date(text)
    if not valid:
        raise _checksum_error(text)
    return born


def _checked(raw: object, text: str, number: bool) -> date:
    """Every check of ``parse_resident_id``, in order; the birth date."""
    if looks_like_excel_damage(raw) if number else _damaged_text(text):
        raise _excel_error()
    if not text:
        raise IdNumberError("missing", "the ID number is empty / 证件号码为空")
    if len(text) == 15 and text.isdigit():
        raise IdNumberError(
            "legacy_15",
            "a 15-digit ID number (issued before 1999) is not accepted; ask the candidate for "
            "the 18-digit number / 不接受15位旧身份证号，请提供18位号码",
        )
    if not _EIGHTEEN.match(text):
        raise IdNumberError(
            "format",
            f"the ID number must be 17 digits and a digit or X, got {len(text)} characters "
            "/ 证件号码应为18位（17位数字加校验位）",
        )
    born = _birth_date(text)
    if not _valid_checksum(text):
        raise _checksum_error(text)
    return born


def _birth_date(text: str) -> date:
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise IdNumberError(
            "birth_date",
            f"the ID number {mask_id(text)} holds an impossible birth date "
            "/ 证件号码中的出生日期无效",
        ) from None
    if born.year < 1900 or born > _today():
        raise IdNumberError(
            "birth_date",
            f"the ID number {mask_id(text)} holds a birth date out of range "
            "/ 证件号码中的出生日期超出范围",
        )
    return born


_TODAY: tuple[int, date] = (-1, date.min)


def _today() -> date:
    """``date.today()``, computed once a second: it is ``date.fromtimestamp(time.time())``,
    which floors the time to whole seconds, so the same second gives the same date."""
    global _TODAY
    second = int(time.time())
    if _TODAY[0] != second:
        _TODAY = (second, date.fromtimestamp(second))
    return _TODAY[1]


def _excel_error() -> IdNumberError:
    return IdNumberError(
        "excel_number",
        "the ID number was stored by Excel as a number and has lost its last digits "
        "(scientific notation or trailing zeros); format the column as Text and re-enter "
        "the numbers — they cannot be recovered from this file / 证件号码被Excel存成数字，"
        "后几位已丢失，请把该列设为文本格式后重新录入",
    )


def _checksum_error(text: str) -> IdNumberError:
    return IdNumberError(
        "checksum",
        f"the check character of {mask_id(text)} is wrong / 证件号码校验位错误",
    )
