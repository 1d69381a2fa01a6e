"""JSON Schemas of the canonical records, generated from the models and checked in.

``xgate schemas export`` writes ``schemas/<name>.schema.json``; a test compares the checked-in
files with freshly generated ones so a model change without a schema update fails CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gateway.models import ALL_RECORDS

SCHEMA_BASE = "https://xgate.invalid/schemas/"


def extra_models() -> list[type[BaseModel]]:
    """Models other modules add to the published set (settings, API bodies)."""
    from gateway.settings import HttpPolicy

    return [HttpPolicy]


def generate() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    models: list[type[BaseModel]] = list(ALL_RECORDS)
    for model in models:
        schema = model.model_json_schema(mode="serialization")
        name = getattr(model, "schema_name", "")
        schema["$id"] = f"{SCHEMA_BASE}{name}.schema.json"
        out[f"{name}.schema.json"] = schema
    out["openapi.json"] = generate_openapi()
    for model in extra_models():
        name = getattr(model, "schema_name", "") or model.__name__.lower()
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"{SCHEMA_BASE}{name}.schema.json"
        out[f"{name}.schema.json"] = schema
    return out


def generate_openapi() -> dict[str, Any]:
    from gateway.server import openapi

    return openapi()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in generate().items():
        path = directory / name
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    problems = []
    expected = generate()
    for name, schema in expected.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(schema):
            problems.append(name)
    for path in directory.glob("*.schema.json"):
        if path.name not in expected:
            problems.append(path.name)
    return sorted(problems)
