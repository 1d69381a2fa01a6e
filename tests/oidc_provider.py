"""A fake OpenID Connect provider (and a fake CAS 3.0 server) for the SSO tests, on loopback.

It serves discovery, JWKS, an authorize endpoint (which records the request and redirects back
with a code) and a token endpoint (which checks the client secret, the redirect URI and the PKCE
verifier against the S256 challenge, then returns an ID token signed with a test RSA key).
``overrides`` (None removes a claim) and ``sign_with`` let a test issue a wrong token on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, web
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "xgate-console"
CLIENT_SECRET = "sso-test-secret-4d1f"
KEY = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-1"})  # same kid, wrong key


@dataclass
class Provider:
    clock: Callable[[], datetime]
    account: str = "T1001"
    claim: str = "preferred_username"
    issuer: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)  # claims to change in the ID token
    sign_with: RSAKey = field(default_factory=lambda: KEY)
    authorize_calls: list[dict[str, str]] = field(default_factory=list)
    token_calls: list[dict[str, str]] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        return app

    async def discovery(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }
        )

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response({"keys": [KEY.as_dict(private=False)]})

    async def authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.authorize_calls.append(q)
        code = secrets.token_urlsafe(16)
        self.codes[code] = q
        back = urlencode({"code": code, "state": q["state"]})
        raise web.HTTPFound(f"{q['redirect_uri']}?{back}")

    def _id_token(self, nonce: str) -> str:
        now = int(self.clock().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "opaque-" + self.account,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            self.claim: self.account,
        }
        claims.update(self.overrides)
        claims = {k: v for k, v in claims.items() if v is not None}  # None removes a claim
        return jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, self.sign_with)

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_calls.append({k: str(v) for k, v in form.items()})
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        if (auth.login, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        asked = self.codes.pop(str(form.get("code")), None)
        if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if asked.get("code_challenge_method") != "S256" or challenge != asked["code_challenge"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(asked["nonce"]),
            }
        )


@asynccontextmanager
async def running(provider: Provider) -> AsyncIterator[str]:
    """Serve the provider on an ephemeral loopback port; yields its issuer URL."""
    async with serving(provider.app()) as url:
        provider.issuer = url
        yield url


@dataclass
class CasServer:
    """A fake CAS 3.0 server: ``/login`` hands out a ticket for the service, ``/p3/
    serviceValidate`` confirms it once and only for that exact service URL."""

    account: str = "T1001"
    tickets: dict[str, str] = field(default_factory=dict)  # ticket -> service
    validations: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cas/login", self.login)
        app.router.add_get("/cas/p3/serviceValidate", self.validate)
        return app

    async def login(self, request: web.Request) -> web.Response:
        service = request.query["service"]
        ticket = "ST-" + secrets.token_urlsafe(12)
        self.tickets[ticket] = service
        sep = "&" if "?" in service else "?"
        raise web.HTTPFound(f"{service}{sep}{urlencode({'ticket': ticket})}")

    async def validate(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.validations.append(q)
        ns = 'xmlns:cas="http://www.yale.edu/tp/cas"'
        if self.tickets.pop(q.get("ticket", ""), None) != q.get("service"):
            body = (
                f"<cas:serviceResponse {ns}><cas:authenticationFailure code="
                '"INVALID_TICKET">not recognized</cas:authenticationFailure></cas:serviceResponse>'
            )
        else:
            body = (
                f"<cas:serviceResponse {ns}><cas:authenticationSuccess>"
                f"<cas:user>{self.account}</cas:user><cas:attributes><cas:employeeNumber>"
                f"{self.account}</cas:employeeNumber></cas:attributes>"
                "</cas:authenticationSuccess></cas:serviceResponse>"
            )
        return web.Response(text=body, content_type="application/xml")


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Any fake server on an ephemeral loopback port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
