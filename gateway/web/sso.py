"""Signing in through the college's unified identity (OpenID Connect, authorization code + PKCE).

Invariants: nobody is signed in unless the ID token's signature verifies against the provider's
JWKS and its issuer, audience (our client id), expiry and nonce all match, and the ``state``
returned equals the one kept in this browser's session (state, nonce and PKCE verifier live only
in the encrypted session cookie and are used once). The campus account in the configured claim
maps to a local user through ``gateway.sso`` only; roles are local. Sessions start through
``gateway.web.auth.start_session``, exactly as for a password sign-in. Every refusal is audited
(``console.login_sso``) with its precise reason; the page shows only "not linked" or "failed".

``[sso] protocol = "cas"`` swaps the provider leg for CAS 3.0 (``gateway.web.cas``); the
state check, the mapping to a local user and the session are the same. The OAuth client is
authlib's ``AsyncOAuth2Client`` (httpx); ID tokens are checked with joserfc, the JOSE library
that authlib's own ``authlib.jose`` is being replaced by.
"""

from __future__ import annotations

import secrets
import warnings
from typing import Any, cast

import httpx
from aiohttp import web
from aiohttp_session import get_session
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.settings import SsoSettings
from gateway.sso import sign_in_subject
from gateway.web import cas, render, state, trail
from gateway.web.auth import start_session
from gateway.web.routes import route
from gateway.web.signin import landing, safe_next

with warnings.catch_warnings():
    # authlib 1.9 announces on import that its httpx integration will move to "httpx2"; the
    # client API used here is unchanged. Without this, `xgate serve` prints the notice to every
    # operator. Revisit before authlib 2.0.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

PENDING = "sso"  # session key: state, nonce, PKCE verifier, where to go afterwards
ALGORITHMS = ["RS256", "PS256", "ES256"]
LEEWAY = 60  # seconds of clock difference tolerated on exp/iat


class SsoRefused(Exception):
    """A check on the way back from the provider failed; ``reason`` goes to the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _conf(request: web.Request) -> SsoSettings:
    return state.gateway(request).settings.sso


def _client(conf: SsoSettings) -> AsyncOAuth2Client:
    secret = conf.client_secret.get_secret_value() if conf.client_secret else None
    return AsyncOAuth2Client(
        client_id=conf.client_id,
        client_secret=secret,
        scope=conf.scope,
        redirect_uri=conf.redirect_url,
        code_challenge_method="S256",
        timeout=conf.timeout,
    )


async def _provider(client: AsyncOAuth2Client, conf: SsoSettings) -> dict[str, Any]:
    response = await client.request("GET", conf.discovery(), withhold_token=True)
    response.raise_for_status()
    meta: dict[str, Any] = response.json()
    return meta


async def _authorization_url(conf: SsoSettings, verifier: str, nonce: str) -> tuple[str, str]:
    async with _client(conf) as client:
        meta = await _provider(client, conf)
        url, flow_state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
    return str(url), str(flow_state)


@route("GET", "/login/sso", None, name="sso_start")
async def sso_start(request: web.Request) -> web.StreamResponse:
    conf = _conf(request)
    if not conf.enabled:
        return await render.not_found(request)
    verifier, nonce = generate_token(48), generate_token(24)
    try:
        if conf.protocol == "cas":
            flow_state = generate_token(24)
            url = cas.login_url(conf, flow_state)
        else:
            url, flow_state = await _authorization_url(conf, verifier, nonce)
    except (httpx.HTTPError, OAuthError, KeyError, ValueError) as exc:
        await trail.record(request, "login_sso", "", "unreachable", detail=type(exc).__name__)
        return await render.page(request, "error.html", status=502, code="sso_failed")
    session = await get_session(request)
    session[PENDING] = {
        "state": flow_state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(request.query.get("next")),
    }
    return render.redirect(url)


def verify_id_token(
    id_token: str, jwks: dict[str, Any], conf: SsoSettings, nonce: str, now: float
) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, expiry and nonce are checked."""
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(cast(Any, jwks)), algorithms=ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=LEEWAY,
            iss={"essential": True, "value": conf.issuer},
            aud={"essential": True, "value": conf.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise SsoRefused(f"id_token:{type(exc).__name__}") from exc
    return dict(token.claims)


async def _claims(request: web.Request, pending: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(request)
    given = request.query.get("state", "")
    if not given or not secrets.compare_digest(given, str(pending.get("state", ""))):
        raise SsoRefused("state")
    if conf.protocol == "cas":
        try:
            return await cas.validate(conf, given, request.query.get("ticket", ""))
        except (httpx.HTTPError, ValueError) as exc:
            raise SsoRefused(f"cas:{exc}"[:64]) from exc
    code = request.query.get("code")
    if not code:
        raise SsoRefused(f"provider:{request.query.get('error', 'no_code')}"[:64])
    try:
        async with _client(conf) as client:
            meta = await _provider(client, conf)
            token = await client.fetch_token(
                meta["token_endpoint"], code=code, code_verifier=str(pending["verifier"])
            )
            keys = await client.request("GET", meta["jwks_uri"], withhold_token=True)
            keys.raise_for_status()
            jwks = keys.json()
        id_token = str(token["id_token"])
    except (httpx.HTTPError, OAuthError, KeyError, ValueError) as exc:
        raise SsoRefused(f"token:{type(exc).__name__}") from exc
    return verify_id_token(
        id_token, jwks, conf, str(pending["nonce"]), state.now(request).timestamp()
    )


@route("GET", "/login/sso/callback", None, name="sso_callback")
async def sso_callback(request: web.Request) -> web.StreamResponse:
    conf = _conf(request)
    if not conf.enabled:
        return await render.not_found(request)
    session = await get_session(request)
    pending = session.pop(PENDING, None)  # used once, whatever happens next
    try:
        if not isinstance(pending, dict):
            raise SsoRefused("state")
        claims = await _claims(request, pending)
    except SsoRefused as refused:
        await trail.record(request, "login_sso", "", refused.reason)
        return await render.page(request, "error.html", status=403, code="sso_failed")
    account = str(claims.get(conf.claim) or "").strip()
    user = await sign_in_subject(state.gateway(request).db, account, state.now(request))
    if user is None:
        await trail.record(request, "login_sso", "", "unknown_account", actor=account or None)
        return await render.page(request, "error.html", status=403, code="sso_unknown")
    await trail.record(request, "login", user.username, "ok", actor=user.username, detail="sso")
    await start_session(request, user)
    return render.redirect(landing(user, str(pending.get("next", "/"))))
