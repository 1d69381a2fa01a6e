"""Signed ledger checkpoints: what the ledger looked like, signed with a key outside the database.

Invariant: a checkpoint is only signed over a ledger that agrees with the previous checkpoint
(no account gone, no head moved back, no entry at a checkpointed head changed), so the chain of
checkpoints never launders a tampered ledger. Each checkpoint holds its sequence number, time,
counts of accounts and entries, the highest ledger row id, a Merkle root over every account's
head (``id_hash:head_seq:head_hash``, leaves sorted by ``id_hash``) and the heads themselves
(so ``verify`` can name the account that changed), signed with the key file's Ed25519 ledger
key. The database holds no private key: someone with write access can delete or alter rows,
but cannot make a signature that verifies with the college's public key.

``checkpoint_if_appended`` runs when a gateway closes (every command, job and sync that may
have appended) and signs a new checkpoint only when the ledger grew since the last one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.keys import Keys, public_raw
from gateway.store import Database
from gateway.store import tables as t

log = logging.getLogger("xgate.credit")
FORMAT = "xgate-ledger-checkpoint/1"
CHUNK = 500


@dataclass(frozen=True)
class Head:
    id_hash: str
    id_masked: str
    seq: int
    hash: str

    def leaf(self) -> bytes:
        return hashlib.sha256(b"\x00" + f"{self.id_hash}:{self.seq}:{self.hash}".encode()).digest()


@dataclass
class Checkpoint:
    seq: int
    created_at: datetime
    accounts: int
    entries: int
    max_entry_id: int
    root: str
    signature: str = ""
    public_key: str = ""
    heads: list[Head] = field(default_factory=list)

    def message(self) -> bytes:
        when = self.created_at.astimezone(UTC).isoformat(timespec="microseconds")
        return (
            f"{FORMAT}\n{self.seq}\n{when}\n{self.accounts}\n{self.entries}\n"
            f"{self.max_entry_id}\n{self.root}\n"
        ).encode()

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "created_at": self.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "accounts": self.accounts,
            "entries": self.entries,
            "max_entry_id": self.max_entry_id,
            "root": self.root,
            "signature": self.signature,
            "public_key": self.public_key,
        }


def merkle_root(heads: Iterable[Head]) -> str:
    """Root over the heads sorted by id_hash; an odd node is carried up; empty: sha256(b"")."""
    level = [h.leaf() for h in sorted(heads, key=lambda h: h.id_hash)]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        nxt = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


async def current_heads(conn: AsyncConnection) -> list[Head]:
    a = t.learning_accounts.c
    rows = await conn.execute(select(a.id_hash, a.id_masked, a.head_seq, a.head_hash))
    return [Head(r.id_hash, r.id_masked, r.head_seq or 0, r.head_hash or "") for r in rows]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _from_row(row: Mapping[str, Any]) -> Checkpoint:
    heads = [Head(*h) for h in json.loads(row["heads"])]
    return Checkpoint(
        seq=row["seq"],
        created_at=_aware(row["created_at"]),
        accounts=row["accounts"],
        entries=row["entries"],
        max_entry_id=row["max_entry_id"],
        root=row["root"],
        signature=row["signature"],
        public_key=row["public_key"],
        heads=heads,
    )


async def latest(conn: AsyncConnection) -> Checkpoint | None:
    c = t.ledger_checkpoints
    row = (await conn.execute(select(c).order_by(c.c.seq.desc()).limit(1))).mappings().first()
    return _from_row(dict(row)) if row else None


async def all_checkpoints(conn: AsyncConnection) -> list[Checkpoint]:
    c = t.ledger_checkpoints
    rows = (await conn.execute(select(c).order_by(c.c.seq))).mappings()
    return [_from_row(dict(r)) for r in rows]


def signature_problem(cp: Checkpoint, public: Ed25519PublicKey) -> str | None:
    """Why this checkpoint cannot be trusted (None: its signature and heads hold)."""
    try:
        public.verify(bytes.fromhex(cp.signature), cp.message())
    except (InvalidSignature, ValueError):
        return f"checkpoint {cp.seq}: its signature does not verify with the ledger key (altered)"
    if cp.heads and merkle_root(cp.heads) != cp.root:
        return f"checkpoint {cp.seq}: its recorded heads do not match its signed root (altered)"
    if cp.heads and len(cp.heads) != cp.accounts:
        return f"checkpoint {cp.seq}: it lists {len(cp.heads)} heads for {cp.accounts} accounts"
    return None


async def _hashes_at(conn: AsyncConnection, heads: Sequence[Head]) -> dict[tuple[str, int], str]:
    """The stored hash of each account's entry at the checkpointed head seq."""
    a, led = t.learning_accounts.c, t.credit_ledger.c
    found: dict[tuple[str, int], str] = {}
    wanted = [(h.id_hash, h.seq) for h in heads if h.seq > 0]
    for i in range(0, len(wanted), CHUNK):
        part = wanted[i : i + CHUNK]
        rows = await conn.execute(
            select(a.id_hash, led.seq, led.hash)
            .join(t.credit_ledger, led.account_id == a.id)
            .where(tuple_(a.id_hash, led.seq).in_(part))
        )
        found.update({(r.id_hash, r.seq): r.hash for r in rows})
    return found


async def changes_since(conn: AsyncConnection, cp: Checkpoint) -> list[str]:
    """What the ledger lost or rewrote since this checkpoint, each naming account and entry."""
    now = {h.id_hash: h for h in await current_heads(conn)}
    at = await _hashes_at(conn, cp.heads)
    problems = []
    for h in cp.heads:
        where = f"account {h.id_masked}"
        cur = now.get(h.id_hash)
        if cur is None:
            problems.append(f"{where}: deleted since checkpoint {cp.seq} ({h.seq} entries)")
        elif cur.seq < h.seq:
            problems.append(
                f"{where}: head moved back from entry {h.seq} to {cur.seq} since checkpoint "
                f"{cp.seq} (entries removed)"
            )
        elif h.seq and at.get((h.id_hash, h.seq)) != h.hash:
            problems.append(
                f"{where}, entry {h.seq}: changed since checkpoint {cp.seq} "
                "(the chain was rewritten)"
            )
    return problems


async def sign_checkpoint(
    conn: AsyncConnection, keys: Keys, now: datetime | None = None
) -> Checkpoint:
    """Sign the ledger as it is now; refuses when it disagrees with the previous checkpoint."""
    previous = await latest(conn)
    if previous is not None:
        problems = await changes_since(conn, previous)
        if problems:
            raise LedgerTampered(problems)
    heads = await current_heads(conn)
    led = t.credit_ledger.c
    entries, max_id = (
        await conn.execute(select(func.count(), func.coalesce(func.max(led.id), 0)))
    ).one()
    cp = Checkpoint(
        seq=(previous.seq + 1) if previous else 1,
        created_at=now or datetime.now(UTC),
        accounts=len(heads),
        entries=int(entries),
        max_entry_id=int(max_id),
        root=merkle_root(heads),
        public_key=public_raw(keys.ledger_public()).hex(),
        heads=sorted(heads, key=lambda h: h.id_hash),
    )
    cp.signature = keys.ledger_signer().sign(cp.message()).hex()
    await conn.execute(
        t.ledger_checkpoints.insert(),
        {
            **{k: v for k, v in cp.summary().items() if k != "created_at"},
            "created_at": cp.created_at,
            "heads": json.dumps([[h.id_hash, h.id_masked, h.seq, h.hash] for h in cp.heads]),
        },
    )
    return cp


class LedgerTampered(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


async def checkpoint_if_appended(db: Database, keys: Keys) -> Checkpoint | None:
    """Sign a checkpoint when the ledger grew since the last one (None: nothing to sign)."""
    async with db.begin() as conn:
        previous = await latest(conn)
        max_id = (await conn.execute(select(func.max(t.credit_ledger.c.id)))).scalar()
        if not max_id or (previous is not None and previous.max_entry_id >= max_id):
            return None
        try:
            return await sign_checkpoint(conn, keys)
        except LedgerTampered as exc:
            log.error("ledger checkpoint refused, run `xgate credits verify`: %s", exc)
            return None


def export_document(checkpoints: Sequence[Checkpoint]) -> dict[str, Any]:
    """What ``xgate credits checkpoints export`` writes: every checkpoint, the latest's heads."""
    last = checkpoints[-1] if checkpoints else None
    return {
        "format": FORMAT,
        "checkpoints": [c.summary() for c in checkpoints],
        "latest_heads": [[h.id_hash, h.id_masked, h.seq, h.hash] for h in last.heads]
        if last
        else [],
    }


def parse_export(data: Any) -> list[Checkpoint]:
    """Checkpoints from an exported file (the last one with its heads)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not an exported checkpoint file ({FORMAT})")
    out = []
    for item in data["checkpoints"]:
        out.append(
            Checkpoint(
                seq=int(item["seq"]),
                created_at=datetime.fromisoformat(item["created_at"]),
                accounts=int(item["accounts"]),
                entries=int(item["entries"]),
                max_entry_id=int(item["max_entry_id"]),
                root=str(item["root"]),
                signature=str(item["signature"]),
                public_key=str(item["public_key"]),
            )
        )
    if out:
        out[-1].heads = [Head(*h) for h in data.get("latest_heads", [])]
    return out


async def check_against_checkpoints(
    conn: AsyncConnection, keys: Keys, exported: Sequence[Checkpoint] | None = None
) -> list[str]:
    """Problems found comparing the ledger with its latest signed checkpoint (and a file)."""
    public = keys.ledger_public()
    stored = await all_checkpoints(conn)
    problems = []
    if stored:
        last = stored[-1]
        bad = signature_problem(last, public)
        problems.extend([bad] if bad else await changes_since(conn, last))
    if exported:
        by_seq = {c.seq: c for c in stored}
        for cp in exported:
            bad = signature_problem(cp, public)
            if bad:
                problems.append(f"exported {bad}")
                continue
            mine = by_seq.get(cp.seq)
            if mine is None:
                problems.append(
                    f"checkpoint {cp.seq}: in the exported file, gone from the database"
                )
            elif mine.root != cp.root or mine.signature != cp.signature:
                problems.append(f"checkpoint {cp.seq}: differs from the exported copy")
        if exported[-1].heads and (not stored or exported[-1].seq != stored[-1].seq):
            problems.extend(f"(exported) {p}" for p in await changes_since(conn, exported[-1]))
    return problems
