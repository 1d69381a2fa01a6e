"""The exam fee schedule (per certificate and level) and the fee waiver.

Fees are data staff edit each year (``fees_file`` in settings; the demo's is
``examples/data/fees.toml``), never code. Students from economically disadvantaged families
are exempt: the fee is still computed (so the preview can show what is waived) and the row is
marked waived.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.datafile import read_toml, validate_data
from gateway.errors import ConfigurationError
from gateway.models import Level, LevelField

_YES = {"是", "y", "yes", "1", "true", "t", "√", "✓", "✔", "对", "有"}
_NO = {"否", "n", "no", "0", "false", "f", "×", "无", "不是", "非"}


def parse_yes_no(value: object) -> bool | None:
    """是/Y/yes/1/true -> True; 否/N/no/0/false or blank -> False; anything else -> None."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if not text or text in _NO:
        return False
    if text in _YES:
        return True
    return None


class FeeDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(min_length=1)
    levels: list[LevelField] = Field(default_factory=list)
    level: LevelField | None = None
    amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)

    @model_validator(mode="after")
    def _some_level(self) -> FeeDef:
        if self.level is None and not self.levels:
            raise ValueError("give level = N or levels = [..]")
        return self


class FeeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = "1"
    currency: str = "CNY"
    fee: list[FeeDef] = Field(default_factory=list)


@dataclass(frozen=True)
class FeeSchedule:
    version: str = "1"
    currency: str = "CNY"
    fees: dict[tuple[str, Level], Decimal] = field(default_factory=dict)

    def fee(self, certificate_code: str, level: Level) -> Decimal | None:
        """The fee for one sitting, or None when the schedule has no price for it."""
        return self.fees.get((certificate_code, level))


def parse_fees(data: dict[str, Any], source: str = "fees") -> FeeSchedule:
    parsed = validate_data(FeeFile, data, source, "fee schedule")
    fees: dict[tuple[str, Level], Decimal] = {}
    for item in parsed.fee:
        for level in [*item.levels, *([item.level] if item.level else [])]:
            key = (item.certificate, level)
            if key in fees:
                raise ConfigurationError(
                    f"invalid fee schedule: {source}: {item.certificate} {level.label} "
                    "is priced twice"
                )
            fees[key] = item.amount
    return FeeSchedule(parsed.version, parsed.currency, fees)


def load_fees(path: Path | None) -> FeeSchedule | None:
    """Read the fee schedule; None when no file is configured."""
    if path is None:
        return None
    return parse_fees(read_toml(path, "fee schedule"), str(path))
