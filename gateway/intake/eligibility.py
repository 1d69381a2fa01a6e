"""Which majors may sit which certificates (the college's major-certificate mapping).

Policy asks that each student earn a certificate matching their major, so by default a row
whose major is not mapped to its certificate is refused. It is data (``eligibility_file``;
the demo's is ``examples/data/eligibility.toml``), and staff can override it deliberately: for
the whole file with ``--allow-ineligible``, or per row with an ``允许跨专业报考`` column set to
是. A blank major (members of the public, enterprise staff) is not checked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gateway.datafile import read_toml, validate_data


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


class EligibilityFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = "1"
    majors: dict[str, list[str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Eligibility:
    version: str = "1"
    majors: dict[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, major: str, certificate_code: str) -> bool | None:
        """True/False by the mapping; None when the major is not in the mapping at all."""
        codes = self.majors.get(_key(major))
        if codes is None:
            return None
        return certificate_code.casefold() in codes


def parse_eligibility(data: dict[str, object], source: str = "eligibility") -> Eligibility:
    parsed = validate_data(EligibilityFile, data, source, "eligibility mapping")
    return Eligibility(
        parsed.version,
        {_key(m): frozenset(c.casefold() for c in codes) for m, codes in parsed.majors.items()},
    )


def load_eligibility(path: Path | None) -> Eligibility | None:
    """Read the mapping; None when no file is configured (then nothing is checked)."""
    if path is None:
        return None
    return parse_eligibility(read_toml(path, "eligibility mapping"), str(path))
