"""The college's signing key, its did:web identity, and JWS signing (VC-JWT, OB 3.0 §8.2).

Invariant: the private key is only ever handed to ``sign``; everything else sees the public JWK.
The credential is the JWT payload (with ``iss``, ``jti``, ``nbf``, ``sub`` and ``exp`` claims
mirroring it, as OB 3.0 requires); the JOSE header holds only ``alg``, ``kid`` and ``typ``.

The key is the key file's ``credential_signing_key`` (``gateway.keys``: outside the database,
fingerprinted in it, rotated with ``xgate keys``); ``college_key`` is the one way to it.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey

from gateway.errors import ConfigurationError
from gateway.keys import Keys
from gateway.settings import CredentialSettings

ALG = "EdDSA"  # RFC 8037; the name OB 3.0 verifiers know (RFC 9864's "Ed25519" also verifies)
ACCEPTED_ALGS = ["EdDSA", "Ed25519"]
KEY_FRAGMENT = "key-1"


def college_key(keys: Keys) -> OKPKey:
    """The college's credential signing key (Ed25519) from the key file (``gateway.keys``):
    its own key, separate from the ledger's, since its public half is published."""
    return OKPKey.import_key(keys.credential_signer())


def public_jwk(key: OKPKey) -> dict[str, Any]:
    jwk = dict(key.as_dict(private=False))
    jwk.pop("d", None)
    return jwk


def base_url(conf: CredentialSettings) -> str:
    """``public_url`` checked: http(s), a host, no path (did:web needs the host root)."""
    parts = urlsplit(conf.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"credentials.public_url must be an http(s) URL, not {conf.public_url!r}"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigurationError("credentials.public_url must be scheme://host[:port] only")
    return f"{parts.scheme}://{parts.netloc}"


def did_for(url: str) -> str:
    """did:web of a host root: ``https://x.edu.cn:8443`` -> ``did:web:x.edu.cn%3A8443``."""
    return "did:web:" + quote(urlsplit(url).netloc, safe="")


def issuer_did(conf: CredentialSettings) -> str:
    return did_for(base_url(conf))


def key_id(conf: CredentialSettings) -> str:
    return f"{issuer_did(conf)}#{KEY_FRAGMENT}"


def did_document(conf: CredentialSettings, key: OKPKey) -> dict[str, Any]:
    """The DID document ``xgate serve`` publishes at ``/.well-known/did.json``."""
    did = issuer_did(conf)
    kid = f"{did}#{KEY_FRAGMENT}"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "verificationMethod": [
            {"id": kid, "type": "JsonWebKey", "controller": did, "publicKeyJwk": public_jwk(key)}
        ],
        "assertionMethod": [kid],
        "authentication": [kid],
    }


def did_web_url(did: str) -> str:
    """Where a did:web document lives (did:web spec §3.2). Loopback hosts are read over plain
    HTTP so a college can try everything on one machine; any other host over HTTPS."""
    if not did.startswith("did:web:"):
        raise ValueError(f"not a did:web identifier: {did!r}")
    parts = [unquote(p) for p in did[len("did:web:") :].split(":")]
    host, path = parts[0], parts[1:]
    hostname = urlsplit(f"//{host}").hostname or ""
    scheme = "http" if hostname in ("localhost", "127.0.0.1", "::1") else "https"
    tail = "/".join(path) + "/did.json" if path else ".well-known/did.json"
    return f"{scheme}://{host}/{tail}"


def _numeric(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential plus the registered claims OB 3.0 requires to mirror it."""
    claims = dict(credential)
    claims["iss"] = (
        credential["issuer"]["id"]
        if isinstance(credential["issuer"], dict)
        else credential["issuer"]
    )
    claims["jti"] = credential["id"]
    claims["nbf"] = _numeric(credential["validFrom"])
    subject = credential.get("credentialSubject", {})
    if isinstance(subject, dict) and subject.get("id"):
        claims["sub"] = subject["id"]
    if credential.get("validUntil"):
        claims["exp"] = _numeric(credential["validUntil"])
    return claims


def sign(credential: dict[str, Any], conf: CredentialSettings, key: OKPKey) -> str:
    """The credential as a compact JWS signed with the college's key."""
    header = {"alg": ALG, "kid": key_id(conf), "typ": "JWT"}
    payload = json.dumps(jwt_claims(credential), ensure_ascii=False, separators=(",", ":"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # RFC 9864 prefers "Ed25519"; see docs
        return jws.serialize_compact(header, payload.encode(), key, algorithms=[ALG])


def envelope(token: str) -> dict[str, Any]:
    """VC 2.0's JSON form of a secured credential: an EnvelopedVerifiableCredential."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"data:application/vc+jwt,{token}",
        "type": "EnvelopedVerifiableCredential",
    }
