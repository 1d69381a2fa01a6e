"""How amounts are spelled wherever they leave the core: money and credits as two-decimal
strings (``"56340.00"``, ``"4.00"``), shares as one-decimal percent strings (``"45.2"``).

JSON has no decimal type: a float would turn ``0.1 + 0.2`` into ``0.30000000000000004`` and an
integer-valued amount would print as ``56340`` next to ``"4.00"`` elsewhere. Every JSON output
spells amounts through here, so there is one spelling.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def two_places(value: Decimal | float | int | str) -> str:
    """``4`` -> ``"4.00"``; ``-0`` -> ``"0.00"``: one spelling whatever the database returned."""
    quantized = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    return format(quantized + 0, "f")  # "+ 0" turns -0.00 into 0.00


def money_text(value: Decimal | float | int | str | None) -> str:
    """A sum of money (yuan) as a decimal string; no amount is ``"0.00"``."""
    return two_places(value if value is not None else 0)


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, one decimal (half up); None when ``whole`` is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def percent_text(part: int, whole: int) -> str | None:
    value = percent(part, whole)
    return None if value is None else format(value, "f")
