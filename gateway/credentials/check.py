"""Checking a credential as anyone outside the college would: ``xgate credentials verify``.

Invariant: nothing here reads the college's database or key. The verdict rests only on the
file, the issuer's did:web document and its status list, each fetched from the issuer (or
given as a file or URL, to check offline). Verdicts: ``valid``; ``revoked``; ``invalid`` (not
signed by the key the issuer publishes, or claims that disagree with the credential);
``expired`` / ``not_yet_valid``; ``unknown`` (the status list could not be read).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OKPKey

from gateway.credentials.signing import ACCEPTED_ALGS, did_web_url
from gateway.credentials.status import PURPOSE, bit
from gateway.errors import InputError

ENVELOPE_PREFIX = "data:application/vc+jwt,"


class Invalid(Exception):
    """The credential fails a check; the message says which."""


@dataclass
class Verdict:
    status: str
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    inner: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    def summary(self) -> dict[str, Any]:
        c = self.credential or {}
        return {
            "status": self.status,
            "id": c.get("id"),
            "type": c.get("type"),
            "name": c.get("name"),
            "issuer": (c.get("issuer") or {}).get("id")
            if isinstance(c.get("issuer"), dict)
            else c.get("issuer"),
            "validFrom": c.get("validFrom"),
            "validUntil": c.get("validUntil"),
            "checks": self.checks,
            "problems": self.problems,
            "inner": [v.summary() for v in self.inner],
        }


def token_of(data: Any) -> str:
    """The compact JWS in a file: an EnvelopedVerifiableCredential, or the bare JWS."""
    if isinstance(data, str) and data.count(".") == 2:
        return data.strip()
    if isinstance(data, dict) and data.get("type") == "EnvelopedVerifiableCredential":
        ident = str(data.get("id", ""))
        if ident.startswith(ENVELOPE_PREFIX):
            return ident[len(ENVELOPE_PREFIX) :]
    raise InputError("not a secured credential (an EnvelopedVerifiableCredential or a JWS)")


def read_credential(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if text.startswith("{"):
        try:
            return token_of(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not JSON: {exc}") from None
    return token_of(text)


class Sources:
    """Where the DID document and status lists come from: a file or URL given, else the web.
    Each is read once per check."""

    def __init__(
        self,
        did_document: str | None,
        status_list: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        issuer: str | None = None,
    ) -> None:
        self.issuer = issuer  # when given, only this DID's signature is accepted
        self.http: httpx.AsyncClient | None = None  # made on the first URL: files need none
        self.transport = transport
        self.did_document = did_document
        self.status_list = status_list
        self.cache: dict[str, str] = {}

    async def read(self, where: str) -> str:
        if where not in self.cache:
            if where.startswith(("http://", "https://")):
                if self.http is None:
                    self.http = httpx.AsyncClient(timeout=10, transport=self.transport)
                response = await self.http.get(where)
                response.raise_for_status()
                self.cache[where] = response.text
            else:
                self.cache[where] = Path(where).read_text(encoding="utf-8")
        return self.cache[where]

    async def key(self, kid: str) -> OKPKey:
        did = kid.split("#", 1)[0]
        try:
            doc = json.loads(await self.read(self.did_document or did_web_url(did)))
        except (OSError, ValueError, httpx.HTTPError) as exc:
            raise Invalid(f"issuer's DID document unavailable: {exc}") from None
        if doc.get("id") != did:
            raise Invalid(f"DID document is for {doc.get('id')!r}, not {did!r}")
        allowed = {m if isinstance(m, str) else m.get("id") for m in doc.get("assertionMethod", [])}
        for method in doc.get("verificationMethod", []):
            mid = method.get("id", "")
            full = did + mid if mid.startswith("#") else mid
            if full == kid and (kid in allowed or mid in allowed):
                jwk = dict(method.get("publicKeyJwk") or {})
                if "d" in jwk:
                    raise Invalid("the DID document publishes a private key")
                return OKPKey.import_key(jwk)
        raise Invalid(f"key {kid} is not an assertion key of {did}")


async def verified_payload(token: str, sources: Sources) -> tuple[dict[str, Any], str]:
    """Signature checked against the issuer's published key; the payload and the issuer DID."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError) as exc:
        raise Invalid(f"not a compact JWS: {exc}") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ACCEPTED_ALGS or not isinstance(kid, str) or not kid.startswith("did:web:"):
        raise Invalid(f"unsupported header (alg {alg!r}, kid {kid!r})")
    key = await sources.key(kid)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            obj = jws.deserialize_compact(token, key, algorithms=[alg])
    except (JoseError, ValueError) as exc:
        raise Invalid(f"signature does not verify: {type(exc).__name__}") from None
    try:
        payload = json.loads(obj.payload)
    except ValueError:
        raise Invalid("payload is not JSON") from None
    return payload, kid.split("#", 1)[0]


def _issuer_id(payload: dict[str, Any]) -> Any:
    issuer = payload.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _time(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} is not a date-time: {value!r}") from None
    if moment.tzinfo is None:
        raise Invalid(f"{name} has no time zone")
    return moment


def check_claims(payload: dict[str, Any], did: str, now: datetime) -> str:
    """OB 3.0 §8.2.4: the JWT claims mirror the credential; then the validity period."""
    if _issuer_id(payload) != did or payload.get("iss") != did:
        raise Invalid(f"issuer {_issuer_id(payload)!r} is not the signer {did!r}")
    if payload.get("jti") != payload.get("id"):
        raise Invalid("jti does not match the credential id")
    valid_from = _time(payload.get("validFrom"), "validFrom")
    if payload.get("nbf") != int(valid_from.timestamp()):
        raise Invalid("nbf does not match validFrom")
    subject = payload.get("credentialSubject")
    if isinstance(subject, dict) and subject.get("id") and payload.get("sub") != subject["id"]:
        raise Invalid("sub does not match credentialSubject.id")
    if now < valid_from:
        return "not_yet_valid"
    if payload.get("validUntil") is not None:
        until = _time(payload["validUntil"], "validUntil")
        if payload.get("exp") != int(until.timestamp()):
            raise Invalid("exp does not match validUntil")
        if now >= until:
            return "expired"
    return "valid"


async def check_status(payload: dict[str, Any], did: str, sources: Sources) -> str:
    """``revoked`` when the entry's bit is set in the issuer's signed status list."""
    status = payload.get("credentialStatus")
    if status is None:
        return "valid"
    entries = status if isinstance(status, list) else [status]
    for e in entries:
        if e.get("type") != "BitstringStatusListEntry" or e.get("statusPurpose") != PURPOSE:
            continue
        where = sources.status_list or str(e.get("statusListCredential"))
        try:
            text = (await sources.read(where)).strip()
            token = token_of(json.loads(text) if text.startswith("{") else text)
            listed, list_did = await verified_payload(token, sources)
        except (OSError, ValueError, httpx.HTTPError, InputError) as exc:
            raise LookupError(f"status list unavailable: {exc}") from None
        if list_did != did or _issuer_id(listed) != did:
            raise Invalid("status list is not signed by the credential's issuer")
        if listed.get("id") != e.get("statusListCredential"):
            raise Invalid("status list given is not the one the credential names")
        if bit(listed["credentialSubject"]["encodedList"], int(e["statusListIndex"])):
            return "revoked"
    return "valid"


async def check(token: str, sources: Sources, now: datetime | None = None) -> Verdict:
    """Signature, issuer key, claims, validity period, status; for a CLR each badge inside."""
    now = now or datetime.now(UTC)
    verdict = Verdict("invalid")
    try:
        payload, did = await verified_payload(token, sources)
        verdict.credential = payload
        if sources.issuer and did != sources.issuer:
            raise Invalid(f"signed by {did}, not by the expected issuer {sources.issuer}")
        verdict.checks.append(f"signature verifies with {did}'s published key")
        period = check_claims(payload, did, now)
        if period != "valid":
            verdict.status = period
            return verdict
        verdict.checks.append("within its validity period")
        verdict.status = await check_status(payload, did, sources)
        verdict.checks.append(f"status list: {verdict.status}")
    except Invalid as exc:
        verdict.status = "invalid"
        verdict.problems.append(str(exc))
        return verdict
    except LookupError as exc:
        verdict.status = "unknown"
        verdict.problems.append(str(exc))
        return verdict
    subject = payload.get("credentialSubject")
    if isinstance(subject, dict) and "ClrSubject" in (subject.get("type") or []):
        for item in subject.get("verifiableCredential") or []:
            try:
                inner = await check(token_of(item), sources, now)
            except InputError as exc:
                inner = Verdict("invalid", problems=[str(exc)])
            verdict.inner.append(inner)
    return verdict


async def verify_file(
    path: Path,
    *,
    did_document: str | None = None,
    status_list: str | None = None,
    now: datetime | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    issuer: str | None = None,
) -> Verdict:
    token = read_credential(path)
    sources = Sources(did_document, status_list, transport, issuer)
    try:
        return await check(token, sources, now)
    finally:
        if sources.http is not None:
            await sources.http.aclose()
