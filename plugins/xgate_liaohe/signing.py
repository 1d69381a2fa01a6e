"""Request signing: what the platform checks before it looks at anything else.

Every request carries ``app_key``, ``timestamp`` (epoch milliseconds), ``nonce``,
``sign_type`` and ``sign``. The string to sign is every other non-empty parameter as
``key=value``, sorted by key, joined with ``&``, then ``&key=<secret>`` appended;
``sign`` is its lower-case hex HMAC-SHA256 (keyed with the secret) or MD5. Files travel
outside the signature, so uploads add a ``file_md5`` parameter to bind the file to it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime

SIGN_TYPES = {"hmac-sha256": "HMAC-SHA256", "md5": "MD5"}


def string_to_sign(params: Mapping[str, str], secret: str) -> str:
    pairs = (f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return "&".join(pairs) + f"&key={secret}"


def signature(params: Mapping[str, str], secret: str, method: str) -> str:
    text = string_to_sign(params, secret).encode("utf-8")
    if method == "md5":
        return hashlib.md5(text).hexdigest()
    if method == "hmac-sha256":
        return hmac.new(secret.encode("utf-8"), text, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown sign method {method!r}; use hmac-sha256 or md5")


class Signer:
    """Adds the authentication parameters; a fresh timestamp and nonce on every call, because
    the platform refuses a nonce it has seen (so a resend must be signed anew)."""

    def __init__(
        self,
        app_key: str,
        secret: str,
        method: str,
        now: Callable[[], datetime],
        nonce: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        if method not in SIGN_TYPES:
            raise ValueError(f"unknown sign method {method!r}; use hmac-sha256 or md5")
        self.app_key = app_key
        self._secret = secret
        self.method = method
        self._now = now
        self._nonce = nonce

    def sign(self, params: Mapping[str, str]) -> dict[str, str]:
        signed = {k: v for k, v in params.items() if v != ""}
        signed.update(
            app_key=self.app_key,
            timestamp=str(int(self._now().timestamp() * 1000)),
            nonce=self._nonce(),
            sign_type=SIGN_TYPES[self.method],
        )
        signed["sign"] = signature(signed, self._secret, self.method)
        return signed
