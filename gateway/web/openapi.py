"""The console's JSON API in OpenAPI form, generated from the route table (``routes.ROUTES``).

Each ``/api/`` route becomes an operation whose ``x-roles`` lists the roles the guard admits,
so the document cannot drift from what the server enforces.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from gateway.web.routes import ROUTES, Route

_PARAM = re.compile(r"\{([a-z_]+)\}")
_BODIES: dict[str, dict[str, Any]] = {
    "api_login": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    "api_learners_search": {
        "type": "object",
        "required": ["q"],
        "properties": {"q": {"type": "string", "description": "学号, name or ID number"}},
    },
    "api_list_submit": {
        "type": "object",
        "required": ["organization"],
        "properties": {
            "organization": {"type": "string"},
            "plan": {"type": "string", "description": "default: the file's 考核批次 column"},
            "allow_ineligible": {"type": "boolean"},
        },
    },
}


def _operation(r: Route) -> dict[str, Any]:
    doc = (r.handler.__doc__ or r.name.replace("_", " ")).strip().splitlines()[0]
    err = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    }
    op: dict[str, Any] = {
        "operationId": r.name,
        "summary": doc,
        "x-roles": sorted(r.roles) if r.roles is not None else [],
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {}}}},
            "400": {"description": "bad request", **err},
        },
    }
    if r.roles is not None:
        op["responses"]["401"] = {"description": "not signed in", **err}
        op["responses"]["403"] = {"description": "role not allowed, or CSRF token missing", **err}
        op["security"] = [{"session": []}, {"token": []}]
    else:
        op["security"] = []
    if r.name == "api_login":
        op["responses"]["401"] = {"description": "wrong user name or password", **err}
        op["responses"]["429"] = {"description": "locked after 5 failures (15 minutes)", **err}
    params = _PARAM.findall(r.path)
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
        op["responses"]["404"] = {"description": "not found", **err}
    if r.name in _BODIES:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _BODIES[r.name]}},
        }
    elif r.name == "api_lists_upload":
        op["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    return op


def console_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, securitySchemes) of the console API."""
    from gateway.web.app import PAGE_MODULES

    for name in PAGE_MODULES:
        importlib.import_module(name)
    paths: dict[str, Any] = {}
    for r in ROUTES:
        if r.api:
            paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
    schemes = {
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "xgate_session",
            "description": "from POST /api/session; state-changing calls add X-CSRF-Token",
        },
        "token": {
            "type": "http",
            "scheme": "bearer",
            "description": "a per-user API token from `xgate users token NAME`",
        },
    }
    return paths, schemes
