"""The college's signing key, its did:web identity, and JWS signing (VC-JWT, OB 3.0 §8.2).

Invariant: the private key never leaves ``college_key``; everything else sees the public JWK.
The credential is the JWT payload (with ``iss``, ``jti``, ``nbf``, ``sub`` and ``exp`` claims
mirroring it, as OB 3.0 requires); the JOSE header holds only ``alg``, ``kid`` and ``typ``.

The key lives in a file outside the database (``[credentials] key_file``), created on first use
with owner-only permissions. (When the key store of ``gateway.keys`` is available this is the
one function to point at it.)
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey

from gateway.errors import ConfigurationError
from gateway.settings import CredentialSettings

ALG = "EdDSA"  # RFC 8037; the name OB 3.0 verifiers know (RFC 9864's "Ed25519" also verifies)
ACCEPTED_ALGS = ["EdDSA", "Ed25519"]
KEY_FRAGMENT = "key-1"


_loaded: dict[tuple[str, int], OKPKey] = {}


def college_key(conf: CredentialSettings) -> OKPKey:
    """The college's Ed25519 signing key: read from ``key_file`` (again when the file
    changes), created there if missing."""
    path = Path(conf.key_file)
    if path.exists():
        stamp = (str(path.resolve()), path.stat().st_mtime_ns)
        if stamp not in _loaded:
            _loaded.clear()
            _loaded[stamp] = _read_key(path)
        return _loaded[stamp]
    key = OKPKey.generate_key("Ed25519", private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(key.as_dict(private=True), fh)
    return key


def _read_key(path: Path) -> OKPKey:
    try:
        key = OKPKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"signing key {path} is unreadable: {exc}") from None
    if key.as_dict(private=False).get("crv") != "Ed25519" or not key.is_private:
        raise ConfigurationError(f"signing key {path} is not an Ed25519 private key")
    return key


def public_jwk(conf: CredentialSettings) -> dict[str, Any]:
    jwk = dict(college_key(conf).as_dict(private=False))
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


def did_document(conf: CredentialSettings) -> dict[str, Any]:
    """The DID document ``xgate serve`` publishes at ``/.well-known/did.json``."""
    did = issuer_did(conf)
    kid = f"{did}#{KEY_FRAGMENT}"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "verificationMethod": [
            {"id": kid, "type": "JsonWebKey", "controller": did, "publicKeyJwk": public_jwk(conf)}
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


def sign(credential: dict[str, Any], conf: CredentialSettings) -> str:
    """The credential as a compact JWS signed with the college's key."""
    header = {"alg": ALG, "kid": key_id(conf), "typ": "JWT"}
    payload = json.dumps(jwt_claims(credential), ensure_ascii=False, separators=(",", ":"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # RFC 9864 prefers "Ed25519"; see docs
        return jws.serialize_compact(header, payload.encode(), college_key(conf), algorithms=[ALG])


def envelope(token: str) -> dict[str, Any]:
    """VC 2.0's JSON form of a secured credential: an EnvelopedVerifiableCredential."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"data:application/vc+jwt,{token}",
        "type": "EnvelopedVerifiableCredential",
    }
