"""Settings: a mistake in ``xgate.toml`` is reported at start-up, naming the key.

The core validates each ``[organizations.NAME]`` section with the plugin's own pydantic model
and reports ``organizations.NAME.KEY: message``. That only works when the model refuses what
is wrong field by field: no silent acceptance of unknown keys (a typo), no catch-all
validators that lose the field name, secrets typed ``SecretStr`` so they never print.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from gateway.errors import ConfigurationError
from gateway.settings import OrganizationSettings, plugin_settings
from gateway.testing.harness import KitFailure, Session

#: A value no reasonable setting accepts (a mapping where a scalar belongs).
WRONG = {"kit": ["not", "a", "setting"]}
UNKNOWN_KEY = "kit_unknown_key"
SECRET_WORDS = ("secret", "password", "passwd", "token")
#: Names with a secret word that name something else: ``token_url``, ``secret_header``...
NOT_SECRET = re.compile(r"_(url|uri|endpoint|path|file|header|ttl|seconds|timeout|type|name)$")


def _fields_named(exc: ValidationError) -> set[str]:
    return {str(err["loc"][0]) for err in exc.errors() if err["loc"]}


def _validate(model: type[BaseModel], values: dict[str, Any]) -> ValidationError | None:
    try:
        model.model_validate(values)
    except ValidationError as exc:
        return exc
    return None


def _secret_named(name: str) -> bool:
    lowered = name.lower()
    return any(w in lowered for w in SECRET_WORDS) and not NOT_SECRET.search(lowered)


def _secret_typed(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_secret_typed(a) for a in getattr(annotation, "__args__", ()))


async def settings_errors_name_the_field(session: Session) -> None:
    model = session.spec.settings_model
    name = model.__name__
    good = session.settings()
    error = _validate(model, good)
    if error is not None:
        raise KitFailure(
            f"the sandbox's settings do not validate with {name}: {error}",
            fix="make Sandbox.settings() return settings your model accepts",
            see="settings",
        )
    problems: list[str] = []
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        if info.is_required():
            values = {k: v for k, v in good.items() if k != key}
            error = _validate(model, values)
            if error is None:
                problems.append(f"required {key!r} left out: accepted")
            elif key not in _fields_named(error):
                problems.append(f"required {key!r} left out: the error does not name it ({error})")
        error = _validate(model, {**good, key: WRONG})
        if error is not None and key not in _fields_named(error):
            problems.append(f"{key!r} set to a mapping: the error does not name it ({error})")
        if _secret_named(field_name) and not _secret_typed(info.annotation):
            problems.append(
                f"{key!r} looks like a secret but is not SecretStr, so it can print in reprs "
                "and tracebacks"
            )
    error = _validate(model, {**good, UNKNOWN_KEY: "typo"})
    if error is None:
        problems.append(
            f"an unknown key ({UNKNOWN_KEY!r}) is accepted, so a misspelt key in xgate.toml is "
            'silently ignored: set model_config = ConfigDict(extra="forbid")'
        )
    elif UNKNOWN_KEY not in _fields_named(error):
        problems.append(f"an unknown key is refused without naming it ({error})")
    # the way the core reports it: organizations.NAME.KEY
    required = [info.alias or n for n, info in model.model_fields.items() if info.is_required()]
    if required and not problems:
        missing = required[0]
        section = OrganizationSettings(
            plugin=session.spec.name, **{k: v for k, v in good.items() if k != missing}
        )
        try:
            plugin_settings(session.organization, section, model)
        except ConfigurationError as exc:
            where = f"organizations.{session.organization}.{missing}"
            if where not in str(exc):
                problems.append(f"the core's message does not name {where}: {exc}")
    if problems:
        raise KitFailure(
            f"settings model {name} does not report mistakes field by field:\n    - "
            + "\n    - ".join(problems),
            fix="declare each setting as a typed pydantic field (Field(..., description=...)), "
            'forbid unknown keys (ConfigDict(extra="forbid")), type secrets as SecretStr, and '
            "let validators raise ValueError for their own field",
            see="settings",
        )
