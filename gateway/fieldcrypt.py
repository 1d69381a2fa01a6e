"""Field-level encryption: personal data is stored as AES-256-GCM ciphertext, never in clear.

Invariant: a sealed value is ``x1:<key id>:<base64(nonce | ciphertext | tag)>`` with a fresh
96-bit nonce per value, and its associated data binds table, column and row key
(``candidates/id_number/<id_hash>``), so a ciphertext copied into another row or column does
not decrypt: it fails loudly (``SealedValueError``) instead of showing the wrong person's data.

Which values: ``candidates.id_number`` and ``candidates.mobile`` (row key: the ``id_hash``),
``quarantine.payload`` (row key: organization and stream). Everything else refers to a person by
the keyed ``id_hash`` or shows a masked form (``candidates.id_masked``). A value without the
``x1:`` prefix is plaintext left by a database that is still being encrypted
(``encrypt_pending``); ``open_value`` passes it through so a half-migrated database still works.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import ConfigurationError
from gateway.keys import Keys

PREFIX = "x1:"
_NONCE = 12


class SealedValueError(ConfigurationError):
    """A stored ciphertext that does not open with these keys in this place."""


def _aad(table: str, column: str, row_key: str, key_id: str) -> bytes:
    return f"xgate-field/1|{table}|{column}|{row_key}|{key_id}".encode()


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(PREFIX)


def key_id_of(value: str) -> str:
    return value[len(PREFIX) :].split(":", 1)[0]


def seal(keys: Keys, value: str, *, table: str, column: str, row_key: str) -> str:
    """Encrypt one value under the active data key, bound to its place."""
    key_id = keys.active_key_id
    nonce = os.urandom(_NONCE)
    body = AESGCM(keys.data_key(key_id)).encrypt(
        nonce, value.encode(), _aad(table, column, row_key, key_id)
    )
    return f"{PREFIX}{key_id}:{base64.b64encode(nonce + body).decode()}"


def seal_optional(
    keys: Keys, value: str | None, *, table: str, column: str, row_key: str
) -> str | None:
    if value is None or value == "":
        return value
    return seal(keys, value, table=table, column=column, row_key=row_key)


def open_value(
    keys: Keys, value: str | None, *, table: str, column: str, row_key: str
) -> str | None:
    """Decrypt a stored value (plaintext from before encryption passes through)."""
    if value is None or not value.startswith(PREFIX):
        return value
    try:
        key_id, body = value[len(PREFIX) :].split(":", 1)
        raw = base64.b64decode(body, validate=True)
        plain = AESGCM(keys.data_key(key_id)).decrypt(
            raw[:_NONCE], raw[_NONCE:], _aad(table, column, row_key, key_id)
        )
    except SealedValueError:
        raise
    except ConfigurationError as exc:  # the key id is not in the key file
        raise SealedValueError(str(exc)) from None
    except (ValueError, InvalidTag):
        raise SealedValueError(
            f"{table}.{column} of {row_key[:16]}: the stored ciphertext does not open "
            "(altered, or moved from another row)"
        ) from None
    return plain.decode()


def seal_quarantine(keys: Keys, payload: str, organization: str, stream: str) -> str:
    return seal(
        keys, payload, table="quarantine", column="payload", row_key=f"{organization}/{stream}"
    )


def open_quarantine(keys: Keys, row: Mapping[str, Any]) -> str:
    """A quarantined record's raw payload (mask it before showing it)."""
    return (
        open_value(
            keys,
            row["payload"],
            table="quarantine",
            column="payload",
            row_key=f"{row['organization']}/{row['stream']}",
        )
        or ""
    )
