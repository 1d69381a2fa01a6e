"""The key file: every secret xgate uses lives here, outside the database.

Invariant: the database never holds a key, only fingerprints (``xgate_meta`` rows ``keys.*``),
and a process whose key file does not match the fingerprints a database was bound to refuses
to use it (``ConfigurationError``, exit 3). A wrong or missing key file can therefore never
produce a second set of look-up hashes (every learner would get a second account) or
ciphertexts no one can read.

The file (JSON, mode 0600, created by ``xgate keys init``) holds:

- ``lookup``: the key of the keyed look-up hash (HMAC-SHA256) that identifies a person
  everywhere (``id_hash``). A database from milestone 1 keeps its salted SHA-256 formula, with
  the salt moved out of the database into this file (``scheme = "salted-sha256"``): every
  stored hash, account and ledger chain stays valid.
- ``data_keys``: AES-256-GCM keys with ids; the last one encrypts, all of them decrypt
  (``xgate keys rotate`` appends one and re-encrypts).
- ``session_key``: 32 bytes for the web console's session cookies.
- ``ledger_signing_key``: Ed25519, signs ledger checkpoints.
- ``credential_signing_key``: Ed25519, signs learners' Open Badges credentials. A separate key:
  its public half is published to the world and may be rotated on the issuer's schedule,
  while the ledger key is an internal integrity control; one leaking must not forge the other.

Where the file is: ``keys_file`` in the settings, else ``XGATE_KEYS``, else ``xgate.keys`` in
the working folder.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import ConfigurationError

if TYPE_CHECKING:  # only binding touches a database: `xgate keys show` never imports SQLAlchemy
    from sqlalchemy.ext.asyncio import AsyncConnection

FORMAT = "xgate-keys/1"
DEFAULT_FILE = "xgate.keys"
ENV = "XGATE_KEYS"
HMAC_SCHEME = "hmac-sha256"
LEGACY_SCHEME = "salted-sha256"
_META_PREFIX = "keys."
LEGACY_META = ("id_salt", "id_salt_sha256")


def lookup_hash(number: str, key: bytes) -> str:
    """HMAC-SHA256 of a normalised ID number: the keyed look-up hash (``id_hash``)."""
    if key.__class__ is not bytes:  # a bytearray, say: not hashable, so not cached
        return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()
    keyed = _keyed(key).copy()  # the key's pads are hashed once per key, not per number
    keyed.update(number.encode())
    return keyed.hexdigest()


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC holding only the key; copied, never updated itself."""
    return hmac.new(key, digestmod=hashlib.sha256)


def legacy_hash(number: str, salt: str) -> str:
    """Milestone 1's salted SHA-256, kept only for databases created before keyed hashes."""
    return hashlib.sha256(f"{salt}:{number}".encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str, what: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ConfigurationError(f"key file: {what} is not base64") from None
    if len(raw) != size:
        raise ConfigurationError(f"key file: {what} must be {size} bytes, not {len(raw)}")
    return raw


def fingerprint(purpose: str, material: bytes) -> str:
    """A public, non-reversible name for a key (what the database stores)."""
    digest = hashlib.sha256(b"xgate-key-fingerprint:" + purpose.encode() + b":" + material)
    return digest.hexdigest()[:32]


def _ed25519_raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Keys:
    """The loaded key file. Immutable; ``with_new_data_key`` returns a new value to write."""

    lookup_scheme: str
    lookup_key: bytes  # HMAC key, or the legacy salt's UTF-8 bytes
    data_keys: dict[str, bytes]  # key id -> 32-byte AES key, in order; the last one encrypts
    session_key: bytes
    ledger_key: bytes  # Ed25519 private, raw 32 bytes
    credential_key: bytes  # Ed25519 private, raw 32 bytes
    created_at: str = ""
    path: Path | None = field(default=None, compare=False)

    # --- look-up hash --------------------------------------------------------------------
    def hash_id(self, number: str) -> str:
        """The one function that turns a normalised ID number into ``id_hash``."""
        if self.lookup_scheme == LEGACY_SCHEME:
            return legacy_hash(number, self.lookup_key.decode())
        return lookup_hash(number, self.lookup_key)

    # --- data keys -----------------------------------------------------------------------
    @property
    def active_key_id(self) -> str:
        return next(reversed(self.data_keys))

    def data_key(self, key_id: str) -> bytes:
        try:
            return self.data_keys[key_id]
        except KeyError:
            raise ConfigurationError(
                f"data key {key_id!r} is not in the key file"
                + (f" {self.path}" if self.path else "")
                + ": values encrypted under it cannot be read (use the key file they were "
                "written with)"
            ) from None

    def with_new_data_key(self) -> Keys:
        n = len(self.data_keys) + 1
        while f"d{n}" in self.data_keys:
            n += 1
        return replace(self, data_keys={**self.data_keys, f"d{n}": secrets.token_bytes(32)})

    # --- signing keys --------------------------------------------------------------------
    def ledger_signer(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.ledger_key)

    def ledger_public(self) -> Ed25519PublicKey:
        return self.ledger_signer().public_key()

    def credential_signer(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.credential_key)

    def credential_public(self) -> Ed25519PublicKey:
        return self.credential_signer().public_key()

    # --- fingerprints --------------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        """What the database may know about these keys: ``xgate_meta`` key -> value."""
        found = {
            "keys.lookup": fingerprint(self.lookup_scheme, self.lookup_key),
            "keys.ledger_public": public_raw(self.ledger_public()).hex(),
            "keys.credential_public": public_raw(self.credential_public()).hex(),
        }
        for key_id, key in self.data_keys.items():
            found[f"keys.data.{key_id}"] = fingerprint("data", key)
        return found

    # --- file ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        lookup: dict[str, str] = {"scheme": self.lookup_scheme}
        if self.lookup_scheme == LEGACY_SCHEME:
            lookup["salt"] = self.lookup_key.decode()
        else:
            lookup["key"] = _b64(self.lookup_key)
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "lookup": lookup,
            "data_keys": [{"id": k, "key": _b64(v)} for k, v in self.data_keys.items()],
            "session_key": _b64(self.session_key),
            "ledger_signing_key": _b64(self.ledger_key),
            "credential_signing_key": _b64(self.credential_key),
        }


def generate(legacy_salt: str | None = None) -> Keys:
    """Fresh keys; with ``legacy_salt``, the look-up hash stays milestone 1's salted SHA-256."""
    if legacy_salt is not None:
        scheme, lookup = LEGACY_SCHEME, legacy_salt.encode()
    else:
        scheme, lookup = HMAC_SCHEME, secrets.token_bytes(32)
    return Keys(
        lookup_scheme=scheme,
        lookup_key=lookup,
        data_keys={"d1": secrets.token_bytes(32)},
        session_key=secrets.token_bytes(32),
        ledger_key=_ed25519_raw(Ed25519PrivateKey.generate()),
        credential_key=_ed25519_raw(Ed25519PrivateKey.generate()),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def parse(data: Any, where: str = "key file") -> Keys:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigurationError(f"{where} is not an xgate key file (format {FORMAT!r})")
    try:
        lookup = data["lookup"]
        scheme = lookup["scheme"]
        if scheme == HMAC_SCHEME:
            lookup_key = _unb64(lookup["key"], "lookup.key", 32)
        elif scheme == LEGACY_SCHEME:
            lookup_key = str(lookup["salt"]).encode()
        else:
            raise ConfigurationError(f"{where}: unknown lookup scheme {scheme!r}")
        data_keys = {
            str(d["id"]): _unb64(d["key"], f"data key {d['id']}", 32) for d in data["data_keys"]
        }
        if not data_keys:
            raise ConfigurationError(f"{where}: no data keys")
        return Keys(
            lookup_scheme=scheme,
            lookup_key=lookup_key,
            data_keys=data_keys,
            session_key=_unb64(data["session_key"], "session_key", 32),
            ledger_key=_unb64(data["ledger_signing_key"], "ledger_signing_key", 32),
            credential_key=_unb64(data["credential_signing_key"], "credential_signing_key", 32),
            created_at=str(data.get("created_at", "")),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(f"{where}: missing or malformed entry {exc}") from None


def resolve_path(configured: Path | None = None) -> Path:
    """``keys_file`` from the settings, else ``XGATE_KEYS``, else ``xgate.keys`` here."""
    if configured is not None:
        return configured
    env = os.environ.get(ENV)
    return Path(env) if env else Path(DEFAULT_FILE)


def load(path: Path) -> Keys:
    """Read a key file; a missing, unreadable, malformed or world-readable one is exit 3."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigurationError(
            f"no key file at {path}: create one with `xgate keys init` (or point keys_file / "
            f"{ENV} at the college's key file)"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read key file {path}: {exc.strerror}") from None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"key file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
            f"run `chmod 600 {path}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read key file {path}: {exc}") from None
    return replace(parse(data, f"key file {path}"), path=path)


def write(keys: Keys, path: Path, *, overwrite: bool = False) -> Path:
    """Write the key file atomically with mode 0600 (never visible with wider permissions)."""
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(keys.to_json(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# --- binding a database to its keys ------------------------------------------------------------


async def stored_fingerprints(conn: AsyncConnection) -> dict[str, str]:
    from sqlalchemy import select

    from gateway.store import tables as t

    rows = await conn.execute(
        select(t.meta.c.key, t.meta.c.value).where(t.meta.c.key.like(_META_PREFIX + "%"))
    )
    return {r.key: r.value for r in rows}


def mismatches(keys: Keys, stored: dict[str, str]) -> list[str]:
    """Why these keys do not belong to a database with these fingerprints (empty: they do)."""
    mine = keys.fingerprints()
    problems = []
    for name, value in sorted(stored.items()):
        if name in mine and mine[name] != value:
            problems.append(f"{name.removeprefix(_META_PREFIX)} differs")
        elif name not in mine and name.startswith("keys.data."):
            problems.append(f"data key {name.removeprefix('keys.data.')} is missing")
    return problems


async def bind(conn: AsyncConnection, keys: Keys) -> None:
    """Check the keys against the database's fingerprints; record any new ones.

    A database bound to other keys is refused. A milestone-1 database (its salt still in
    ``xgate_meta``) is refused too, naming ``xgate keys init --from-database``, which moves
    the salt into the key file.
    """
    from gateway.store import tables as t

    stored = await stored_fingerprints(conn)
    where = f" ({keys.path})" if keys.path else ""
    problems = mismatches(keys, stored)
    if problems:
        raise ConfigurationError(
            f"the key file{where} does not belong to this database: "
            + "; ".join(problems)
            + ". Use the key file this database was created with."
        )
    legacy = await legacy_salt(conn)
    if legacy is not None:
        if keys.hash_id("x") != legacy_hash("x", legacy):
            raise ConfigurationError(
                "this database predates keyed hashes (its salt is still inside it): run "
                "`xgate keys init --from-database` once to move the salt into a key file"
            )
        # the key file holds the salt now (an interrupted `keys init --from-database`)
        await conn.execute(t.meta.delete().where(t.meta.c.key.in_(LEGACY_META)))
    missing = {k: v for k, v in keys.fingerprints().items() if k not in stored}
    if missing:
        await conn.execute(t.meta.insert(), [{"key": k, "value": v} for k, v in missing.items()])


async def legacy_salt(conn: AsyncConnection) -> str | None:
    """A milestone-1 database's salt, still stored inside it (None once moved out)."""
    from sqlalchemy import select

    from gateway.store import tables as t

    value = (
        await conn.execute(select(t.meta.c.value).where(t.meta.c.key == "id_salt"))
    ).scalar_one_or_none()
    return None if value is None else str(value)
