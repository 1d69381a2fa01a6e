"""Data files staff edit (catalogue, fee schedule, eligibility mapping): reading and validating
TOML with messages that name the file, the entry and the field, as configuration errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The file's data; a missing file or a TOML syntax error names ``what`` and the path."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{what} {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{what} {path}: {exc}") from None


def validate_data(model: type[M], data: Any, source: str, what: str) -> M:
    """``model`` validated from ``data``; every problem on one line: source, location, message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigurationError(f"invalid {what}:\n  " + "\n  ".join(lines)) from None
