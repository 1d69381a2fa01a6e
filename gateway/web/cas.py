"""The CAS 3.0 variant of console single sign-on (``[sso] protocol = "cas"``).

Invariants: a ticket is accepted only when the CAS server's ``/p3/serviceValidate`` answers
``authenticationSuccess`` for exactly the service URL this console sent the browser with; that
service URL carries the per-attempt ``state`` kept in the session, so a callback this browser
did not start is refused (no login CSRF). The account is ``cas:user`` or, when ``[sso] claim``
names one, that attribute. Mapping to a local user and the session are ``gateway.web.sso``'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx

from gateway.settings import SsoSettings

NS = {"cas": "http://www.yale.edu/tp/cas"}


def service_url(conf: SsoSettings, state: str) -> str:
    return f"{conf.redirect_url}?{urlencode({'state': state})}"


def login_url(conf: SsoSettings, state: str) -> str:
    return f"{conf.issuer.rstrip('/')}/login?{urlencode({'service': service_url(conf, state)})}"


def account_of(xml: str, claim: str) -> str | None:
    """The account in a ``serviceValidate`` answer, or None when it is not a success."""
    root = ElementTree.fromstring(xml)  # expat >= 2.4.1 refuses entity expansion bombs
    success = root.find("cas:authenticationSuccess", NS)
    if success is None:
        return None
    if claim and claim != "user":
        node = success.find(f"cas:attributes/cas:{claim}", NS)
    else:
        node = success.find("cas:user", NS)
    text = (node.text or "").strip() if node is not None else ""
    return text or None


async def validate(conf: SsoSettings, state: str, ticket: str) -> dict[str, Any]:
    """Ask the CAS server about ``ticket``; claims ``{claim: account}``, or ValueError."""
    url = f"{conf.issuer.rstrip('/')}/p3/serviceValidate"
    params = {"service": service_url(conf, state), "ticket": ticket}
    async with httpx.AsyncClient(timeout=conf.timeout) as client:
        response = await client.get(url, params=params)
        response.raise_for_status()
    try:
        account = account_of(response.text, conf.claim)
    except ElementTree.ParseError as exc:
        raise ValueError("unreadable CAS answer") from exc
    if account is None:
        raise ValueError("CAS ticket not valid")
    return {conf.claim: account}
