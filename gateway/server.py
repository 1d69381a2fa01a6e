"""``xgate serve``: the gateway's own HTTP API (aiohttp), for organizations' webhooks.

An organization that pushes changes (capability ``webhooks``) posts them to
``POST /webhooks/{organization}``. The adapter verifies and parses the body
(``parse_webhook``); the records then take exactly the path a sync page takes (validation,
upsert by natural key with history, credit conversion, after-commit events), so a webhook and
the nightly sync that later reads the same record never count it twice. Stream cursors are not
moved: the nightly sync stays the reference and simply finds those records unchanged.

Every error answers JSON ``{"error": {"code", "message"}}`` with a status that says whose fault
it is; nothing personal appears in a message.

Under abuse the webhook route holds: at most ``webhook_concurrency`` deliveries are read at once
(more are told 503 at once, before their bodies are read), a body is read in chunks and refused
past ``webhook_max_body`` (413), nesting deeper than ``gateway.jsonlimits.MAX_DEPTH`` is a 400
before any parser sees it, and a signature the plugin refuses, however malformed, is a 401 with
a neutral message. A delivery is recognised by the digest of its body
(``webhook_deliveries``): a replay inside the signature's time window answers what the first
delivery did and changes nothing, not even the list of runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from gateway import deliveries
from gateway._version import __version__
from gateway.contract import Capability, Page
from gateway.errors import XgateError
from gateway.failures import Action, Kind, Operation, decide
from gateway.health import add_health_routes
from gateway.jsonlimits import MAX_DEPTH, too_deep
from gateway.logs import log_context
from gateway.masking import mask_text
from gateway.models import CertificateRecord, ScoreRecord
from gateway.runtime import Gateway, Organization
from gateway.sync import (
    CreditHook,
    StreamReport,
    SyncReport,
    apply_pages,
    finish_run,
    start_run,
)

log = logging.getLogger("xgate.server")
MAX_BODY = 1024 * 1024
#: per-connection read buffer (aiohttp's default is 64 KiB): a thousand idle uploads waiting at
#: the concurrency gate then hold a thousand small buffers, not a thousand large ones
READ_BUFSIZE = 16 * 1024
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
GATEWAY_KEY = web.AppKey("gateway", Gateway)
WEBHOOK_GATE = web.AppKey("webhook_gate", asyncio.Semaphore)


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class WebhookResult(BaseModel):
    """What the gateway did with one webhook delivery."""

    organization: str
    records: int = Field(ge=0)
    new: int = Field(ge=0)
    changed: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    quarantined: int = Field(ge=0)


class Health(BaseModel):
    """Public: says the gateway is up, and names no organization."""

    status: Literal["ok"]
    version: str


def _error(status: int, code: str, message: str, retry_after: int | None = None) -> web.Response:
    body = ErrorResponse(error=ErrorBody(code=code, message=mask_text(message)))
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return web.json_response(body.model_dump(), status=status, headers=headers)


async def health(request: web.Request) -> web.Response:
    body = Health(status="ok", version=__version__)
    return web.json_response(body.model_dump())


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, read in chunks; None as soon as it exceeds ``limit`` (nothing more is read)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


async def webhook(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY_KEY]
    name = request.match_info["organization"]
    if name not in gw.organization_names():
        return _error(404, "unknown_organization", f"no organization named {name!r}")
    org = gw.organization(name)
    if not org.can(Capability.WEBHOOKS):
        return _error(404, "no_webhooks", f"organization {name!r} does not send webhooks")
    gate = request.app[WEBHOOK_GATE]
    if gate.locked():  # answered before the body is read: memory stays flat under a flood
        busy = _error(503, "busy", "too many deliveries at once; retry shortly", retry_after=1)
        busy.force_close()  # the unread body is not drained: the connection just closes
        return busy
    async with gate:
        response = await _receive(request, gw, org)
    if response.status == 413:
        response.force_close()
    return response


async def _receive(request: web.Request, gw: Gateway, org: Organization) -> web.Response:
    name = org.name
    limit = gw.settings.webhook_max_body
    body = await _read_limited(request, limit)
    if body is None:
        return _error(413, "too_large", f"a webhook body may be at most {limit} bytes")
    if too_deep(body):
        return _error(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        records = await org.webhooks().parse_webhook(dict(request.headers), body)
    except Exception as exc:  # the failure policy decides; see gateway.failures
        decision = decide(exc, Operation.RECEIVE)
        if decision.action is not Action.REJECT:
            raise
        if decision.kind is Kind.AUTH:  # why is logged, never told: no oracle for forgers
            log.warning("%s: webhook refused: %s", name, decision.reason)
            return _error(401, "bad_signature", "the webhook signature does not verify")
        return _error(400, "bad_body", str(exc)[:300])
    except RecursionError:  # a plugin's own parser, past our depth check
        return _error(400, "too_deep", "the webhook body is nested too deeply")
    digest = hashlib.sha256(body).hexdigest()
    seen = await deliveries.claim(gw.db, name, digest)
    if seen is not None:  # a replay: what the first delivery did, nothing done again
        return web.json_response({**seen, "duplicate": True})
    try:
        result = await _apply(gw, org, records)
    except BaseException:
        await deliveries.release(gw.db, name, digest)  # the organization may deliver it again
        raise
    await deliveries.finish(gw.db, name, digest, result.model_dump())
    await gw.checkpoint()  # the server runs for weeks: sign after each delivery that appended
    return web.json_response(result.model_dump())


async def _apply(gw: Gateway, org: Organization, records: Sequence[Any]) -> WebhookResult:
    name = org.name
    credit = CreditHook(gw)
    run_id = await start_run(gw, {"webhook": name})
    report = StreamReport(name, "webhook")
    scores = [r for r in records if isinstance(r, ScoreRecord)]
    certificates = [r for r in records if isinstance(r, CertificateRecord)]
    for stream, model, items in (
        ("scores", ScoreRecord, scores),
        ("certificates", CertificateRecord, certificates),
    ):
        if items:
            page: Page[Any] = Page(records=items, next_cursor=None)
            await apply_pages(gw, org, stream, model, [page], run_id, report, credit)
    report.status = "ok"
    await finish_run(gw, SyncReport(run_id=run_id, streams=[report]))
    return WebhookResult(
        organization=name,
        records=report.records,
        new=report.new,
        changed=report.changed,
        unchanged=report.unchanged,
        quarantined=report.quarantined,
    )


async def did_document(request: web.Request) -> web.Response:
    """The college's did:web document: the public key its credentials are signed with."""
    from gateway.credentials.signing import college_key
    from gateway.credentials.signing import did_document as document

    gw = request.app[GATEWAY_KEY]
    return web.json_response(
        document(gw.settings.credentials, college_key(gw.keys)), content_type="application/did+json"
    )


async def status_list(request: web.Request) -> web.Response:
    """A Bitstring Status List, signed, its bits computed from the records now."""
    from gateway.credentials.signing import college_key
    from gateway.credentials.status import signed_list

    gw = request.app[GATEWAY_KEY]
    try:
        number = int(request.match_info["number"])
    except ValueError:
        return _error(404, "no_such_list", "status lists are numbered from 1")
    if number < 1:
        return _error(404, "no_such_list", "status lists are numbered from 1")
    async with gw.db.connect() as conn:
        token = await signed_list(conn, gw.settings.credentials, college_key(gw.keys), number)
    return web.Response(
        text=token, content_type="application/vc+jwt", headers={"Cache-Control": "no-cache"}
    )


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every failure into the JSON error shape; a server bug is a 500, logged masked."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        return _error(exc.status, "http", exc.reason)
    except XgateError as exc:
        return _error(502 if exc.exit_code == 1 else 500, "gateway", str(exc))
    except Exception as exc:
        log.exception("unhandled error on %s", request.path)
        return _error(500, "internal", f"internal error ({type(exc).__name__})")


@web.middleware
async def request_ids(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every log line written while handling a request carries its id (``X-Request-Id`` when
    the caller sent a sane one, else a new one), and the response says which it was."""
    given = request.headers.get("X-Request-Id", "")
    rid = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    with log_context(request_id=rid):
        response: web.StreamResponse = await handler(request)
    response.headers["X-Request-Id"] = rid
    return response


def build_app(
    gw: Gateway, *, console: bool = True, clock: Callable[[], datetime] | None = None
) -> web.Application:
    """The gateway's application: health, webhooks and (unless ``console=False``) the staff
    console of ``gateway.web``. Webhook bodies stay limited to ``MAX_BODY`` by the handler;
    the application's limit is the console's upload limit."""
    from gateway.web import setup_console
    from gateway.web.app import upload_limit

    size = max(MAX_BODY, upload_limit(gw)) if console else MAX_BODY
    app = web.Application(middlewares=[request_ids, errors], client_max_size=size)
    app[GATEWAY_KEY] = gw
    app[WEBHOOK_GATE] = asyncio.Semaphore(gw.settings.webhook_concurrency)
    app.add_routes(
        [
            web.get("/health", health),
            web.post("/webhooks/{organization}", webhook),
            web.get("/.well-known/did.json", did_document),
            web.get("/credentials/status/{number}", status_list),
        ]
    )
    add_health_routes(app, gw)
    if console:
        setup_console(app, gw, clock=clock)
    return app


def openapi() -> dict[str, Any]:
    """The OpenAPI document of this API, generated from the same models it answers with."""
    refs = "#/components/schemas/"

    def content(name: str) -> dict[str, Any]:
        return {"application/json": {"schema": {"$ref": refs + name}}}

    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": content("ErrorResponse")}

    schemas: dict[str, Any] = {}
    for model in (Health, WebhookResult, ErrorResponse):
        schema = model.model_json_schema(ref_template=refs + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    from gateway.web.openapi import console_openapi

    console_paths, security = console_openapi()
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "xgate",
            "version": "1",
            "description": "The gateway's own API: health, organization webhooks, and the "
            "staff console's JSON API under /api/ (roles per operation in x-roles).",
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness and configured organizations",
                    "responses": {"200": {"description": "ok", "content": content("Health")}},
                }
            },
            "/livez": {
                "get": {
                    "summary": "Liveness: the process answers (never checks the database)",
                    "responses": {"200": {"description": "alive"}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: the database answers and is at the migration head",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready; the body lists the problems"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "responses": {
                        "200": {
                            "description": "metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/.well-known/did.json": {
                "get": {
                    "summary": "The college's did:web document (credential signing key)",
                    "responses": {
                        "200": {
                            "description": "DID document",
                            "content": {"application/did+json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/credentials/status/{number}": {
                "get": {
                    "summary": "A signed Bitstring Status List of issued credentials",
                    "parameters": [
                        {
                            "name": "number",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "BitstringStatusListCredential as a compact JWS",
                            "content": {"application/vc+jwt": {"schema": {"type": "string"}}},
                        },
                        "404": error("no such list"),
                    },
                }
            },
            "/webhooks/{organization}": {
                "post": {
                    "summary": "Receive an organization's signed change notification",
                    "parameters": [
                        {
                            "name": "organization",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "description": "the organization's own "
                        "signed format, verified by its plugin",
                        "content": {"application/json": {"schema": {}}},
                    },
                    "responses": {
                        "200": {"description": "applied", "content": content("WebhookResult")},
                        "400": error("the body does not parse or validate"),
                        "401": error("the signature does not verify"),
                        "404": error("unknown organization, or one without webhooks"),
                        "413": error("body too large"),
                        "500": error("gateway failure"),
                    },
                }
            },
        },
        "components": {"schemas": schemas, "securitySchemes": security},
    }
    document["paths"].update(console_paths)
    return document
