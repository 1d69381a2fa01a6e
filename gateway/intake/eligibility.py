"""Which majors may sit which certificates (the college's major-certificate mapping).

Policy asks that each student earn a certificate matching their major, so by default a row
whose major is not mapped to its certificate is refused. It is data (``eligibility_file``;
the demo's is ``examples/data/eligibility.toml``), and staff can override it deliberately: for
the whole file with ``--allow-ineligible``, or per row with an ``允许跨专业报考`` column set to
是. A blank major (members of the public, enterprise staff) is not checked.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import ConfigurationError


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
    try:
        parsed = EligibilityFile.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigurationError("invalid eligibility mapping:\n  " + "\n  ".join(lines)) from None
    return Eligibility(
        parsed.version,
        {_key(m): frozenset(c.casefold() for c in codes) for m, codes in parsed.majors.items()},
    )


def load_eligibility(path: Path | None) -> Eligibility | None:
    """Read the mapping; None when no file is configured (then nothing is checked)."""
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"eligibility mapping {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"eligibility mapping {path}: {exc}") from None
    return parse_eligibility(data, str(path))
